import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { EmbedCard } from './EmbedCard.js';
import './embed.css';

// A card other sites place in an iframe (README, "Embedding"): nothing trains, and not even TF.js
// loads, before the visitor clicks.
window.__embed = { started: false };
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <EmbedCard hubUrl={window.location.origin} hubName={window.location.host} />
  </StrictMode>,
);

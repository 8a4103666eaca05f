import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DashboardPage } from './DashboardPage.js';
import { DashboardStore } from './DashboardStore.js';
import { exposeTestApi } from './testApi.js';
import './dashboard.css';

const store = new DashboardStore();
exposeTestApi(store);
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <DashboardPage store={store} />
  </StrictMode>,
);

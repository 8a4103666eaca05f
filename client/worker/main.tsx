import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { backendChoiceFromQuery, messageOf } from './backends.js';
import { BrowserWorker } from './BrowserWorker.js';
import { followPageLifecycle } from './pageLifecycle.js';
import { installSyncReadGuard } from './syncReadGuard.js';
import { exposeTestApi } from './testApi.js';
import { WorkerPage } from './WorkerPage.js';
import './worker.css';

const root = createRoot(document.getElementById('root') as HTMLElement);

try {
  installSyncReadGuard();
  // The hub serves this page (or Vite proxies to it), so the hub is this page's origin.
  const worker = new BrowserWorker({
    hubUrl: window.location.origin,
    choice: backendChoiceFromQuery(window.location.search),
  });
  exposeTestApi(worker);
  followPageLifecycle(worker);
  root.render(
    <StrictMode>
      <WorkerPage worker={worker} hubName={window.location.host} />
    </StrictMode>,
  );
  worker.start();
} catch (error) {
  root.render(<p className="error">This tab cannot train: {messageOf(error)}</p>);
}

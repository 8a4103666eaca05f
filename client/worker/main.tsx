import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { backendChoiceFromQuery, messageOf } from './backends.js';
import { HubFeed } from './page/HubFeed.js';
import { followPageLifecycle } from './pageLifecycle.js';
import { installSyncReadGuard } from './syncReadGuard.js';
import { exposeTestApi } from './testApi.js';
import { createVolunteerTab } from './volunteerTab.js';
import { WorkerPage } from './WorkerPage.js';
import './worker.css';

const root = createRoot(document.getElementById('root') as HTMLElement);

try {
  installSyncReadGuard();
  // The hub serves this page (or Vite proxies to it), so the hub is this page's origin.
  const hubUrl = window.location.origin;
  const tab = createVolunteerTab({
    hubUrl,
    choice: backendChoiceFromQuery(window.location.search),
    search: window.location.search,
  });
  exposeTestApi(tab);
  followPageLifecycle(tab.worker);
  root.render(
    <StrictMode>
      <WorkerPage tab={tab} feed={new HubFeed(hubUrl)} hubName={window.location.host} />
    </StrictMode>,
  );
  tab.worker.start();
} catch (error) {
  root.render(<p className="error">This tab cannot train: {messageOf(error)}</p>);
}

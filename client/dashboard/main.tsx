import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AdminLink } from './AdminLink.js';
import { forgetAdminToken, takeAdminToken } from './adminToken.js';
import { DashboardPage } from './DashboardPage.js';
import { DashboardStore } from './DashboardStore.js';
import { exposeTestApi } from './testApi.js';
import './dashboard.css';

const store = new DashboardStore();
const admin = new AdminLink(takeAdminToken(), () => forgetAdminToken());
exposeTestApi(store, admin);
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <DashboardPage store={store} admin={admin} />
  </StrictMode>,
);

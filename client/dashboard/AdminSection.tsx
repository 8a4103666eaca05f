import { useSyncExternalStore } from 'react';
import { AdminPanel } from './AdminPanel.js';
import type { AdminLink } from './AdminLink.js';

/**
 * What the page shows of run control: the Admin panel when the hub accepted this page's token, a short
 * notice when it refused it, nothing at all for a viewer.
 */
export function AdminSection({ link, offline }: { link: AdminLink; offline: boolean }) {
  const role = useSyncExternalStore(link.subscribe, link.getSnapshot);
  if (role === 'admin') return <AdminPanel link={link} offline={offline} />;
  if (role === 'refused') {
    return (
      <p className="notice" role="alert" data-testid="admin-refused">
        The hub refused the admin token in this link (a hub makes a new one each time it starts, unless given
        one with <code>--admin-token</code>). This page is read-only.
      </p>
    );
  }
  return null;
}

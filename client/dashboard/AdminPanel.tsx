import { CheckpointControl } from './CheckpointControl.js';
import { LearningRateControl } from './LearningRateControl.js';
import { ModeControl } from './ModeControl.js';
import { Panel } from './Panel.js';
import { PauseControl } from './PauseControl.js';
import { ResetControl } from './ResetControl.js';
import type { AdminLink } from './AdminLink.js';
import { useRunControls } from './useRunControls.js';

/**
 * The operator's controls. Rendered only for a page the hub accepted as admin (AdminSection decides);
 * the hub checks the token again on every action.
 */
export function AdminPanel({ link, offline }: { link: AdminLink; offline: boolean }) {
  const { controls, refresh } = useRunControls();
  const props = { link, controls, refresh, offline };
  return (
    <Panel
      id="admin"
      title="Admin"
      note="These change the run for every volunteer. Only a page opened with the admin link shows them."
      ready={controls !== null}
      span="full"
    >
      <div className="admin-controls">
        <PauseControl {...props} />
        <LearningRateControl {...props} />
        <ModeControl {...props} />
        <CheckpointControl {...props} />
        <ResetControl {...props} />
      </div>
    </Panel>
  );
}

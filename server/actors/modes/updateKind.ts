import { ErrorCode, HubError } from '../../../shared/errors.js';
import type { TrainingMode } from '../../../shared/protocol.js';
import type { GradientPush } from '../coordinatorTypes.js';

/**
 * Local mode takes weight changes (pushes with `localSteps`), the other modes gradients. A push of
 * the other kind was made for the mode before an admin switch: refused by name, its worker pulls
 * again and hears the new mode's work.
 */
export function refuseWrongKind(mode: TrainingMode, push: GradientPush): void {
  const isChange = push.localSteps !== undefined;
  if (isChange === (mode === 'local')) return;
  throw new HubError(
    ErrorCode.WrongUpdateKind,
    mode === 'local'
      ? 'the run is in local mode: it takes weight changes from local rounds, not gradients; pull again'
      : `the run is in ${mode} mode: it takes gradients, not weight changes; pull again`,
  );
}

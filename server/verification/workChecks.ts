import type { Coordinator } from '../actors/Coordinator.js';
import type { MnistSplit } from '../data/mnist.js';
import type { HubOptions } from '../options.js';
import { describeAgreement } from './agreement.js';
import { KnownAnswers, type UpdateComputer } from './KnownAnswers.js';
import { SpotChecks } from './SpotChecks.js';

/** The checks of volunteers' work a gateway runs: at join, and on a share of accepted pushes. */
export interface WorkChecks {
  /** `--known-answer` (the default): a worker's pushes count once its backend passed. */
  readonly knownAnswers?: KnownAnswers;
  /** `--spot-check RATE` above 0. */
  readonly spotChecks?: SpotChecks;
}

/** Both checks on the hub's evaluation thread; none without one (a `--role gateway` process). */
export function createWorkChecks(
  options: HubOptions,
  deps: {
    readonly compute: UpdateComputer | undefined;
    readonly train: MnistSplit;
    readonly weights: () => Promise<Float32Array>;
    readonly coordinator: Coordinator;
    readonly unitExamples: (unitId: number) => { readonly start: number; readonly count: number };
    readonly log: (line: string) => void;
  },
): WorkChecks {
  const { compute, train, coordinator, log } = deps;
  if (compute === undefined) return {};
  return {
    knownAnswers: options.knownAnswer
      ? new KnownAnswers({ compute, train, weights: deps.weights })
      : undefined,
    spotChecks:
      options.spotCheck > 0
        ? new SpotChecks({
            rate: options.spotCheck,
            compute,
            train,
            unitExamples: deps.unitExamples,
            optimizer: options.optimizer,
            learningRate: options.learningRate,
            // Only --trust keeps trust worth reading; without it every volunteer is checked alike.
            trustOf: options.trust ? (identity) => coordinator.volunteers.get(identity) : undefined,
            onVerdict: (push, verdict) => {
              coordinator.noteSpotCheck(push.workerId, push.identity, verdict);
              if (!verdict.passed) {
                const how =
                  verdict.agreement === null
                    ? 'its batches name no such examples'
                    : describeAgreement(verdict.agreement);
                log(`hub: spot check of a ${verdict.kind} from worker ${push.workerId} failed: ${how}`);
              }
            },
          })
        : undefined,
  };
}

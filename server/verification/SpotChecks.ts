import type { Examples } from '../../shared/examplesCodec.js';
import type { MnistSplit } from '../data/mnist.js';
import { agreementOf, agrees, GRADIENT_TOLERANCE, REPLAY_TOLERANCE, type Agreement } from './agreement.js';
import type { UpdateComputer } from './KnownAnswers.js';
import { trainingExamples } from './trainingExamples.js';

/** One push's examples, as it lists them: `[unitId, offset, count]` per batch. */
export type PushBatches = readonly (readonly [number, number, number])[];

/** An accepted push, with what the hub needs to compute it again. */
export interface CheckablePush {
  readonly workerId: string;
  /** The volunteer's identity, as the worker joined with it: the verdict costs or earns its trust. */
  readonly identity: string;
  /** The whole model's weights the push was computed from (the worker's last pull). */
  readonly weights: Float32Array;
  /** The pushed gradient, or (local mode) weight change, decoded: the whole model. */
  readonly values: Float32Array;
  readonly batches: PushBatches;
  /** Local mode: the values are a weight change of this many inner steps. */
  readonly localSteps?: number;
}

export interface SpotCheckVerdict {
  readonly passed: boolean;
  readonly kind: 'gradient' | 'replay';
  /** Null when the push's batches name examples that do not exist. */
  readonly agreement: Agreement | null;
  /** Milliseconds the evaluation thread spent (queue included). */
  readonly ms: number;
}

export interface SpotCheckOptions {
  /** `--spot-check`: the share of checkable pushes recomputed, in [0, 1]. */
  readonly rate: number;
  readonly compute: UpdateComputer;
  readonly train: MnistSplit;
  /** The training examples of a work unit id (UnitPool.examplesOf). */
  readonly unitExamples: (unitId: number) => { readonly start: number; readonly count: number };
  /** Local mode's inner optimizer, replayed: the run's optimizer and learning rate. */
  readonly optimizer: string;
  readonly learningRate: number;
  readonly onVerdict: (push: CheckablePush, verdict: SpotCheckVerdict) => void;
  readonly random?: () => number;
  /** The volunteer's trust now: below PROBATION_CHECKS_BELOW its pushes are checked more often. */
  readonly trustOf?: (identity: string) => number;
  /** Checks running or queued at most; a push chosen beyond that is let go (the thread is busy). */
  readonly maxInFlight?: number;
}

const DEFAULT_MAX_IN_FLIGHT = 4;
/**
 * A volunteer whose trust is below this (a newcomer's first pushes, one from an address that
 * poisoned before, one that failed a check) has its pushes checked PROBATION_RATE_FACTOR times as
 * often: a poisoner that comes back as a newcomer is caught within a few pushes, not a few dozen
 * (BOINC checks new hosts more often the same way). Honest newcomers pass it after ~5 pushes.
 */
export const PROBATION_CHECKS_BELOW = 0.6;
const PROBATION_RATE_FACTOR = 10;

/**
 * `--spot-check RATE`: the hub recomputes a random share of accepted pushes in the evaluation thread
 * (off the event loop) from the same weights and examples, and a mismatch costs the volunteer trust.
 * Norm screens cannot see a gradient that is plausible but wrong; recomputing can (BOINC validates by
 * redundancy; here the hub is the second opinion). Local rounds are replayed from the round's weights.
 * Which pushes are checked is the hub's secret: a volunteer cannot tell a checked push from another.
 */
export class SpotChecks {
  private inFlight = 0;
  private readonly random: () => number;

  constructor(private readonly options: SpotCheckOptions) {
    if (!(options.rate >= 0 && options.rate <= 1)) {
      throw new RangeError(`the spot-check rate must be in [0, 1], got ${options.rate}`);
    }
    this.random = options.random ?? Math.random;
  }

  /**
   * Whether the push a volunteer computes from the weights it is being sent now will be checked,
   * drawn at the pull: only then are those weights kept for it (a deep-cnn snapshot is 13 MB), and the
   * volunteer cannot tell a chosen pull from another.
   */
  choose(identity: string): boolean {
    const { rate: baseRate, trustOf } = this.options;
    const onProbation = trustOf !== undefined && trustOf(identity) < PROBATION_CHECKS_BELOW;
    const rate = onProbation ? Math.min(1, baseRate * PROBATION_RATE_FACTOR) : baseRate;
    return rate > 0 && this.random() < rate;
  }

  /** Recomputes a chosen push; the verdict arrives later (onVerdict). Let go when the thread is busy. */
  check(push: CheckablePush): void {
    if (this.inFlight >= (this.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) return;
    this.inFlight++;
    const began = performance.now();
    // A copy: the pushed values may be a view of a socket message that is not ours to keep.
    const kept = { ...push, values: push.values.slice() };
    void this.verdictOf(kept)
      .then(
        ({ passed, agreement, kind }) =>
          this.options.onVerdict(kept, { passed, agreement, kind, ms: performance.now() - began }),
        // The thread is gone (the hub is closing): no verdict either way.
        () => undefined,
      )
      .finally(() => this.inFlight--);
  }

  private async verdictOf(push: CheckablePush): Promise<Omit<SpotCheckVerdict, 'ms'>> {
    const kind = push.localSteps === undefined ? 'gradient' : 'replay';
    const batches = this.examplesOf(push.batches);
    if (batches === null) return { passed: false, kind, agreement: null };
    const { compute, optimizer, learningRate } = this.options;
    const expected =
      kind === 'gradient'
        ? // A gradient's push lists its one batch (PushClaims refuses more).
          await compute.gradient(push.weights, batches[0])
        : await compute.replay(push.weights, batches, optimizer, learningRate);
    const agreement = agreementOf(push.values, expected.values);
    return {
      passed: agrees(agreement, kind === 'gradient' ? GRADIENT_TOLERANCE : REPLAY_TOLERANCE),
      kind,
      agreement,
    };
  }

  /** The listed batches' examples; null when one names examples outside its unit or the data. */
  private examplesOf(batches: PushBatches): Examples[] | null {
    const { unitExamples, train } = this.options;
    const out: Examples[] = [];
    for (const [unitId, offset, count] of batches) {
      const unit = unitExamples(unitId);
      if (offset + count > unit.count) return null;
      out.push(trainingExamples(train, unit.start + offset, count));
    }
    return out;
  }
}

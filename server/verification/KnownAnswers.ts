import { randomBytes } from 'node:crypto';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { Examples } from '../../shared/examplesCodec.js';
import type { MnistSplit } from '../data/mnist.js';
import type { ComputedUpdate } from '../evaluation/Evaluator.js';
import { agreementOf, agrees, describeAgreement, GRADIENT_TOLERANCE, type Agreement } from './agreement.js';
import { trainingExamples } from './trainingExamples.js';

/** What computes updates off the event loop: the Evaluator's thread. */
export interface UpdateComputer {
  gradient(weights: Float32Array, examples: Examples): Promise<ComputedUpdate>;
  replay(
    weights: Float32Array,
    batches: readonly Examples[],
    optimizer: string,
    learningRate: number,
  ): Promise<ComputedUpdate>;
}

/** Examples per known-answer check: a few milliseconds of any backend, enough to exercise each kernel. */
export const CHECK_EXAMPLES = 32;
/** Verified volunteer backends remembered; the least recently verified are forgotten first. */
const MAX_VERIFIED = 10_000;

/** One check handed to a worker: what it computes on, and the hub's own answer (computing meanwhile). */
export interface IssuedCheck {
  readonly checkId: string;
  readonly weights: Float32Array;
  readonly examples: Examples;
  readonly expected: Promise<ComputedUpdate>;
  readonly issuedAt: number;
}

export interface KnownAnswersDeps {
  readonly compute: UpdateComputer;
  readonly train: MnistSplit;
  /** The model's current flat weights (a check on the weights being trained, not on a fixed set). */
  readonly weights: () => Promise<Float32Array>;
  readonly random?: () => number;
}

/**
 * The known-answer check at join: before a volunteer's pushes count, its backend computes one gradient
 * on weights and examples the hub chose, and the hub compares it with its own (TF.js in the evaluation
 * thread). Real GPU drivers have returned all-zero or wrong gradients; such a backend is caught here,
 * before it trains the run into the ground. A pass is remembered per volunteer identity and backend,
 * so a reconnect is not checked again, while a browser that falls back to another backend is.
 */
export class KnownAnswers {
  private readonly verifiedKeys = new Set<string>();
  private readonly random: () => number;

  constructor(private readonly deps: KnownAnswersDeps) {
    this.random = deps.random ?? Math.random;
  }

  async issue(): Promise<IssuedCheck> {
    const { train, compute } = this.deps;
    const weights = await this.deps.weights();
    const start = Math.floor(this.random() * (train.count - CHECK_EXAMPLES + 1));
    const examples = trainingExamples(train, start, CHECK_EXAMPLES);
    const expected = compute.gradient(weights, examples);
    // Judged when the answer comes; a worker that never answers must not leave an unhandled rejection.
    expected.catch(() => undefined);
    return {
      checkId: randomBytes(9).toString('base64url'),
      weights,
      examples,
      expected,
      issuedAt: Date.now(),
    };
  }

  /** Compares the worker's answer with the hub's; throws KNOWN_ANSWER_FAILED when they differ. */
  async judge(check: IssuedCheck, gradient: Float32Array, backend: string): Promise<Agreement> {
    const expected = await check.expected;
    if (gradient.length !== expected.values.length) {
      throw new HubError(
        ErrorCode.BadLength,
        `the answer has ${gradient.length} floats; the model has ${expected.values.length}`,
      );
    }
    const agreement = agreementOf(gradient, expected.values);
    if (!agrees(agreement, GRADIENT_TOLERANCE)) {
      throw new HubError(
        ErrorCode.KnownAnswerFailed,
        `the ${backend} backend's gradient on the hub's known answer is wrong (${describeAgreement(agreement)}; ` +
          `needs cosine >= ${GRADIENT_TOLERANCE.minCosine} and a norm within ${GRADIENT_TOLERANCE.maxNormRatio}x): ` +
          'try another backend',
      );
    }
    return agreement;
  }

  isVerified(key: string): boolean {
    return this.verifiedKeys.has(key);
  }

  markVerified(key: string): void {
    this.verifiedKeys.delete(key);
    this.verifiedKeys.add(key);
    if (this.verifiedKeys.size > MAX_VERIFIED) {
      this.verifiedKeys.delete(this.verifiedKeys.values().next().value as string);
    }
  }
}

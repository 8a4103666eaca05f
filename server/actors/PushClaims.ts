import { ErrorCode, HubError } from '../../shared/errors.js';
import type { GradientPush } from './coordinatorTypes.js';

export interface ClaimLimits {
  /** The most examples the hub ever asks of one gradient (its batch size, or the batch sizer's top). */
  readonly batchLimit: number;
  /** Local mode: the inner steps a round's plan asks for. */
  readonly localSteps: number;
}

/**
 * What a push says about itself, checked against what the hub knows: the weights' versions it claims
 * to have been computed from, and the examples (and inner steps) it claims to stand for. A volunteer
 * could otherwise pass every shape check and still lie: a version from the future dodges
 * `--max-staleness` and the reset check (staleness is floored at 0), and an inflated example count
 * outweighs every honest gradient in a round's mean.
 */
export class PushClaims {
  /** Per shard, the highest version the hub has served or reached: a claim above it was never served. */
  private readonly highest: number[];
  /** Shard versions right after the operator's last reset: gradients from older weights are refused. */
  private resetVersions: readonly number[] | null = null;

  constructor(
    versions: readonly number[],
    private readonly limits: ClaimLimits,
  ) {
    this.highest = [...versions];
  }

  /**
   * A shard's version as a reply gave it (a pull, an apply). The highest, not the latest: replies of
   * several gateways may arrive out of order, and a shard that went back to its checkpoint still
   * served the versions it lost.
   */
  noteVersion(index: number, version: number): void {
    if (!(version <= this.highest[index])) this.highest[index] = version;
  }

  /** The run was reset to these versions: anything computed before them is refused. */
  noteReset(versions: readonly number[]): void {
    versions.forEach((version, index) => this.noteVersion(index, version));
    this.resetVersions = [...versions];
  }

  /** Throws the named refusal for the first claim the hub cannot believe. */
  check(push: GradientPush): void {
    for (const index of push.piecesByShard.keys()) {
      const claimed = push.versions[index] ?? 0;
      if (claimed > this.highest[index]) {
        throw new HubError(
          ErrorCode.FutureVersion,
          `shard ${index} never had version ${claimed} (it is at ${this.highest[index]}); pull fresh weights`,
        );
      }
      if (this.resetVersions !== null && claimed < this.resetVersions[index]) {
        throw new HubError(
          ErrorCode.TooStale,
          'computed from weights of before the run was reset; pull fresh weights',
        );
      }
    }
    const { batchLimit, localSteps } = this.limits;
    const steps = push.localSteps ?? 1;
    if (push.localSteps !== undefined && steps > localSteps) {
      throw new HubError(
        ErrorCode.TooManyExamples,
        `a weight change of ${steps} inner steps; a round asks for at most ${localSteps}`,
      );
    }
    if (push.batches !== undefined) {
      const listed = push.batches.reduce((sum, [, , count]) => sum + count, 0);
      if (push.batches.length !== steps || listed !== push.examples) {
        throw new HubError(
          ErrorCode.InvalidMessage,
          `batches list ${push.batches.length} batches of ${listed} examples; the push claims ${steps} of ${push.examples}`,
        );
      }
    }
    if (push.examples > batchLimit * steps) {
      throw new HubError(
        ErrorCode.TooManyExamples,
        `${push.examples} examples claimed; the hub asks for at most ${batchLimit} per step` +
          (push.localSteps === undefined ? '' : ` (${batchLimit * steps} for ${steps} inner steps)`),
      );
    }
  }
}

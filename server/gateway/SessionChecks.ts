import { ErrorCode, HubError } from '../../shared/errors.js';
import { encodeExamples } from '../../shared/examplesCodec.js';
import { bytesToFloats, floatsToBytes } from '../../shared/floatCodec.js';
import type { CheckAnswerRequest, PushRequest } from '../../shared/protocol.js';
import type { IssuedCheck } from '../verification/KnownAnswers.js';
import type { WorkChecks } from '../verification/workChecks.js';

/** Who a session's worker is, as its hello said. */
export interface SessionVolunteer {
  readonly workerId: string;
  readonly identity: string;
  readonly backend: string;
}

/**
 * One connection's part in the checks of volunteers' work: the known-answer check it was given and
 * whether its backend passed, and the weights of its last whole-model pull (what its next push was
 * computed from, should a spot check pick it).
 */
export class SessionChecks {
  private issued: IssuedCheck | null = null;
  private lastPull: { versions: readonly number[]; weights: Float32Array } | null = null;

  constructor(private readonly checks: WorkChecks) {}

  /** A new hello: a check given to the connection's earlier worker is void. */
  reset(): void {
    this.issued = null;
    this.lastPull = null;
  }

  /** `check:get`: the weights and examples whose gradient the worker's backend must compute. */
  async issue(): Promise<object> {
    const knownAnswers = this.requireKnownAnswers();
    const check = await knownAnswers.issue();
    this.issued = check;
    return {
      checkId: check.checkId,
      weights: floatsToBytes(check.weights),
      examples: encodeExamples(check.examples.images, check.examples.labels),
    };
  }

  /** `check:answer`: judged against the hub's own gradient; a pass lets this backend's pushes count. */
  async answer(request: CheckAnswerRequest, volunteer: SessionVolunteer): Promise<object> {
    const knownAnswers = this.requireKnownAnswers();
    const check = this.issued;
    if (check === null || check.checkId !== request.checkId) {
      throw new HubError(
        ErrorCode.UnknownCheck,
        `no open known-answer check "${request.checkId}"; ask check:get`,
      );
    }
    this.issued = null;
    const agreement = await knownAnswers.judge(check, bytesToFloats(request.gradient), volunteer.backend);
    knownAnswers.markVerified(verifiedKey(volunteer));
    return { cosine: agreement.cosine, normRatio: agreement.normRatio };
  }

  /** Throws NOT_VERIFIED while the hub asks for a known answer this volunteer's backend has not given. */
  requireVerified(volunteer: SessionVolunteer): void {
    const { knownAnswers } = this.checks;
    if (knownAnswers && !knownAnswers.isVerified(verifiedKey(volunteer))) {
      throw new HubError(
        ErrorCode.NotVerified,
        `the hub counts pushes from a ${volunteer.backend} backend once it passed the known-answer check: ask check:get, then send check:answer`,
      );
    }
  }

  /** A whole-model pull was answered with these weights: kept if the next push is to be checked. */
  notePull(
    versions: readonly number[],
    weights: Float32Array,
    volunteer: SessionVolunteer | undefined,
  ): void {
    const { spotChecks } = this.checks;
    this.lastPull =
      spotChecks && volunteer && spotChecks.choose(volunteer.identity) ? { versions, weights } : null;
  }

  /**
   * An accepted push: recomputed when its pull was chosen, it lists its batches, and it was computed
   * from that pull's weights (the whole model; other pushes cannot be recomputed).
   */
  accepted(request: PushRequest, values: Float32Array, volunteer: SessionVolunteer): void {
    const { spotChecks } = this.checks;
    const pulled = this.lastPull;
    if (!spotChecks || !request.batches || pulled === null || values.length !== pulled.weights.length) return;
    if (!sameVersions(request.versions, pulled.versions)) return;
    this.lastPull = null;
    spotChecks.check({
      workerId: volunteer.workerId,
      identity: volunteer.identity,
      weights: pulled.weights,
      values,
      batches: request.batches,
      localSteps: request.localSteps,
    });
  }

  private requireKnownAnswers() {
    const { knownAnswers } = this.checks;
    if (!knownAnswers) {
      throw new HubError(
        ErrorCode.UnknownEvent,
        'this hub runs no known-answer checks (its config says knownAnswer: false)',
      );
    }
    return knownAnswers;
  }
}

/** A pass counts for this volunteer on this backend: another backend of the same volunteer is checked again. */
function verifiedKey({ identity, backend }: SessionVolunteer): string {
  return `${identity}\n${backend}`;
}

function sameVersions(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/random.js';
import { createUpdateRule, type OptimizerName } from '../optimizers/updateRules.js';
import { APPLIED_PUSHES_KEPT, AppliedPushes } from './AppliedPushes.js';
import { RoundNotPreparedError, ShardActor, type ShardCheckpoint, type ShardMessage } from './ShardActor.js';
import { applyMessage } from './testing/shardRounds.js';

/**
 * A shard applies each push at most once, whoever sends it and however often, and closes a round
 * only as prepared: the shard's half of the guarantees that a round applies on every shard or none,
 * and that a push retried at a coordinator that took over is not applied twice.
 */

const OFFSET = 100;
const LENGTH = 10;

function makeActor(optimizer: OptimizerName = 'adam', restore?: ShardCheckpoint): ShardActor {
  return new ShardActor({
    index: 1,
    offset: OFFSET,
    initialWeights: restore?.weights ?? randomFloats(1),
    rule: createUpdateRule(optimizer),
    learningRate: 0.05,
    restore,
  });
}

function randomFloats(seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: LENGTH }, () => random() * 2 - 1);
}

function pieces(seed: number) {
  return [{ offset: OFFSET, values: randomFloats(seed) }];
}

/** The weights' bytes, so that equal means bit-identical. */
function bytesOf(actor: ShardActor): string {
  const weights = actor.receive({ type: 'pull' }).weights;
  return Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength).toString('hex');
}

/** Everything of the actor a message may change: weights, version, optimizer state, checksum. */
function stateOf(actor: ShardActor): unknown {
  const { version, optimizerState, outerMomentum } = actor.receive({ type: 'checkpoint' });
  return {
    bytes: bytesOf(actor),
    version,
    step: optimizerState.step,
    slots: optimizerState.slots.map((slot) => Array.from(slot)),
    outer: outerMomentum && Array.from(outerMomentum),
    status: actor.receive({ type: 'status' }),
  };
}

function accumulate(actor: ShardActor, round: number, contribution: string, seed: number, weight = 1) {
  return actor.receive({ type: 'accumulate', round, contribution, pieces: pieces(seed), weight });
}

function prepare(actor: ShardActor, round: number, contributions: string[]) {
  return actor.receive({ type: 'prepareRound', round, contributions });
}

describe('ShardActor apply: at most once per push id', () => {
  it('a repeated push id is answered duplicate with its version and not applied: weights bit-identical', () => {
    const actor = makeActor('adam');
    expect(actor.receive(applyMessage(pieces(2), 1, 'p1'))).toEqual({ version: 1 });
    const after = stateOf(actor);
    // The same id with other values (or the same): nothing moves, not even Adam's step.
    expect(actor.receive(applyMessage(pieces(3), 1, 'p1'))).toEqual({ version: 1, duplicate: true });
    expect(actor.receive(applyMessage(pieces(2), 1, 'p1'))).toEqual({ version: 1, duplicate: true });
    expect(stateOf(actor)).toEqual(after);
    expect(actor.receive(applyMessage(pieces(3), 1, 'p2'))).toEqual({ version: 2 });
    // A repeat answers the version its first apply produced, not the current one.
    expect(actor.receive(applyMessage(pieces(2), 1, 'p1'))).toEqual({ version: 1, duplicate: true });
    // The control: an actor that got p1 once and p2 once is where this one is.
    const once = makeActor('adam');
    once.receive(applyMessage(pieces(2), 1, 'x'));
    once.receive(applyMessage(pieces(3), 1, 'y'));
    expect(bytesOf(actor)).toBe(bytesOf(once));
  });

  it('a refused apply (a piece outside the shard) is not remembered: it applies once fixed', () => {
    const actor = makeActor('sgd');
    const before = stateOf(actor);
    expect(() => actor.receive(applyMessage([{ offset: 0, values: new Float32Array(2) }], 1, 'p'))).toThrow(
      RangeError,
    );
    expect(stateOf(actor)).toEqual(before);
    expect(actor.receive(applyMessage(pieces(2), 1, 'p'))).toEqual({ version: 1 });
  });

  it('refuses an apply or accumulate without an id (a coordinator from before ids)', () => {
    const actor = makeActor('sgd');
    const before = stateOf(actor);
    const apply = { type: 'apply', pieces: pieces(2), lrScale: 1 } as unknown as ShardMessage;
    expect(() => actor.receive(apply)).toThrow(/apply needs a pushId/);
    expect(() => actor.receive({ ...apply, pushId: '' } as ShardMessage)).toThrow(TypeError);
    const accumulateWithout = { type: 'accumulate', round: 0, pieces: pieces(2), weight: 1 };
    expect(() => actor.receive(accumulateWithout as unknown as ShardMessage)).toThrow(
      /accumulate needs a contribution/,
    );
    expect(stateOf(actor)).toEqual(before);
  });

  it(`remembers the last ${APPLIED_PUSHES_KEPT} push ids: the oldest beyond them applies again`, () => {
    const actor = makeActor('sgd');
    for (let i = 0; i <= APPLIED_PUSHES_KEPT; i++) actor.receive(applyMessage(pieces(2), 0, `p${i}`));
    const version = APPLIED_PUSHES_KEPT + 1;
    expect(actor.receive(applyMessage(pieces(2), 0, `p${APPLIED_PUSHES_KEPT}`))).toEqual({
      version,
      duplicate: true,
    });
    expect(actor.receive(applyMessage(pieces(2), 0, 'p1'))).toEqual({ version: 2, duplicate: true });
    // p0 was the oldest: forgotten.
    expect(actor.receive(applyMessage(pieces(2), 0, 'p0'))).toEqual({ version: version + 1 });
    expect(actor.receive({ type: 'checkpoint' }).appliedPushes).toHaveLength(APPLIED_PUSHES_KEPT);
  });

  it('AppliedPushes keeps the newest ids, oldest first, a re-remembered id counting as new', () => {
    const applied = new AppliedPushes(
      [
        ['a', 1],
        ['b', 2],
      ],
      3,
    );
    applied.remember('c', 3);
    applied.remember('a', 4);
    applied.remember('d', 5);
    expect(applied.list()).toEqual([
      ['c', 3],
      ['a', 4],
      ['d', 5],
    ]);
    expect(applied.versionOf('b')).toBeUndefined();
  });

  it('checkpoint and restore keep the applied ids: a restored shard refuses a repeat, bit-identically', () => {
    const running = makeActor('adam');
    running.receive(applyMessage(pieces(2), 1, 'p1'));
    running.receive(applyMessage(pieces(3), 0.5, 'p2'));
    const saved = running.receive({ type: 'checkpoint' });
    expect(saved.appliedPushes).toEqual([
      ['p1', 1],
      ['p2', 2],
    ]);
    const restored = makeActor('adam', saved);
    // The control: the same checkpoint without its ids applies the repeat a second time.
    const { appliedPushes: _ids, ...withoutIds } = saved;
    const forgetful = makeActor('adam', withoutIds);
    expect(restored.receive(applyMessage(pieces(3), 0.5, 'p2'))).toEqual({ version: 2, duplicate: true });
    expect(forgetful.receive(applyMessage(pieces(3), 0.5, 'p2'))).toEqual({ version: 3 });
    for (const actor of [running, restored]) actor.receive(applyMessage(pieces(4), 1, 'p3'));
    expect(bytesOf(restored)).toBe(bytesOf(running));
    expect(restored.receive({ type: 'checkpoint' }).appliedPushes).toEqual(
      running.receive({ type: 'checkpoint' }).appliedPushes,
    );
    // A fresh shard has none to keep: its checkpoint has no list at all (old readers, small files).
    expect(makeActor('sgd').receive({ type: 'checkpoint' })).not.toHaveProperty('appliedPushes');
  });
});

describe('ShardActor rounds: each contribution once, applied only as prepared', () => {
  it('a repeated contribution is not summed twice', () => {
    const actor = makeActor('sgd');
    const control = makeActor('sgd');
    expect(accumulate(actor, 4, 'a', 2, 10)).toEqual({ round: 4, count: 1 });
    expect(accumulate(actor, 4, 'a', 2, 10)).toEqual({ round: 4, count: 1, duplicate: true });
    expect(accumulate(actor, 4, 'b', 3, 30)).toEqual({ round: 4, count: 2 });
    // Even with other values: the first is what counts.
    expect(accumulate(actor, 4, 'b', 5, 30)).toEqual({ round: 4, count: 2, duplicate: true });
    accumulate(control, 4, 'a', 2, 10);
    accumulate(control, 4, 'b', 3, 30);
    for (const shard of [actor, control]) {
      expect(prepare(shard, 4, ['b', 'a'])).toEqual({ round: 4, ready: true, have: 2 });
      expect(shard.receive({ type: 'applyRound', round: 4 })).toEqual({ version: 1, count: 2 });
    }
    expect(bytesOf(actor)).toBe(bytesOf(control));
  });

  it('prepare with a missing, an extra, a repeated or another contribution, or another round, is not ready', () => {
    const actor = makeActor('sgd');
    accumulate(actor, 2, 'a', 2);
    accumulate(actor, 2, 'b', 3);
    const before = stateOf(actor);
    expect(prepare(actor, 2, ['a'])).toEqual({ round: 2, ready: false, have: 2 });
    expect(prepare(actor, 2, ['a', 'b', 'c'])).toEqual({ round: 2, ready: false, have: 2 });
    expect(prepare(actor, 2, ['a', 'c'])).toEqual({ round: 2, ready: false, have: 2 });
    expect(prepare(actor, 2, ['a', 'a'])).toEqual({ round: 2, ready: false, have: 2 });
    expect(prepare(actor, 2, [])).toEqual({ round: 2, ready: false, have: 2 });
    expect(prepare(actor, 3, ['a', 'b'])).toEqual({ round: 3, ready: false, have: 0 });
    expect(() => actor.receive({ type: 'applyRound', round: 2 })).toThrow(RoundNotPreparedError);
    expect(stateOf(actor)).toEqual(before);
    // A prepare that is not ready undoes an earlier ready one.
    expect(prepare(actor, 2, ['a', 'b'])).toEqual({ round: 2, ready: true, have: 2 });
    expect(prepare(actor, 2, ['a'])).toMatchObject({ ready: false });
    expect(() => actor.receive({ type: 'applyRound', round: 2 })).toThrow(RoundNotPreparedError);
    expect(stateOf(actor)).toEqual(before);
    // The round is still whole: prepared right, it applies.
    expect(prepare(actor, 2, ['b', 'a'])).toMatchObject({ ready: true });
    expect(actor.receive({ type: 'applyRound', round: 2 })).toEqual({ version: 1, count: 2 });
  });

  it('a contribution after the prepare unprepares the round; a repeat does not', () => {
    const actor = makeActor('sgd');
    accumulate(actor, 0, 'a', 2);
    expect(prepare(actor, 0, ['a'])).toMatchObject({ ready: true });
    accumulate(actor, 0, 'a', 2);
    expect(actor.receive({ type: 'applyRound', round: 0 })).toEqual({ version: 1, count: 1 });
    accumulate(actor, 1, 'b', 2);
    expect(prepare(actor, 1, ['b'])).toMatchObject({ ready: true });
    accumulate(actor, 1, 'c', 3);
    expect(() => actor.receive({ type: 'applyRound', round: 1 })).toThrow(RoundNotPreparedError);
  });

  it.each(['applyRound', 'applyOuterRound'] as const)(
    '%s of a round never prepared is refused, the weights, optimizer state and outer momentum untouched',
    (type) => {
      const actor = makeActor('adam');
      const outer = { optimizer: 'nesterov', lr: 0.7, momentum: 0.9 } as const;
      // One applied outer round first, so that there is outer momentum to leave alone.
      accumulate(actor, 0, 'a', 2);
      prepare(actor, 0, ['a']);
      actor.receive({ type: 'applyOuterRound', round: 0, outer });
      accumulate(actor, 1, 'b', 3);
      const before = stateOf(actor);
      const message: ShardMessage = type === 'applyRound' ? { type, round: 1 } : { type, round: 1, outer };
      expect(() => actor.receive(message)).toThrow(RoundNotPreparedError);
      expect(() => actor.receive(message)).toThrow(/shard 1: round 1 is not prepared/);
      expect(stateOf(actor)).toEqual(before);
    },
  );

  it('dropRound discards the pending round: nothing of it is applied, and the round can start over', () => {
    const actor = makeActor('sgd');
    const control = makeActor('sgd');
    accumulate(actor, 5, 'a', 2);
    expect(actor.receive({ type: 'dropRound', round: 4 })).toEqual({ round: 4, dropped: false });
    expect(actor.receive({ type: 'dropRound', round: 5 })).toEqual({ round: 5, dropped: true });
    expect(actor.receive({ type: 'dropRound', round: 5 })).toEqual({ round: 5, dropped: false });
    expect(prepare(actor, 5, ['a'])).toEqual({ round: 5, ready: false, have: 0 });
    expect(() => actor.receive({ type: 'applyRound', round: 5 })).toThrow(RoundNotPreparedError);
    expect(actor.receive({ type: 'status' }).version).toBe(0);
    // Pushed again after the drop, 'a' counts once, from a zero sum.
    expect(accumulate(actor, 5, 'a', 3)).toEqual({ round: 5, count: 1 });
    accumulate(control, 5, 'a', 3);
    for (const shard of [actor, control]) {
      prepare(shard, 5, ['a']);
      shard.receive({ type: 'applyRound', round: 5 });
    }
    expect(bytesOf(actor)).toBe(bytesOf(control));
  });

  it('an empty prepare readies a round the shard holds nothing of, which then applies as a no-op', () => {
    const actor = makeActor('sgd');
    const before = stateOf(actor);
    expect(prepare(actor, 9, [])).toEqual({ round: 9, ready: true, have: 0 });
    expect(actor.receive({ type: 'applyRound', round: 9 })).toEqual({ version: 0, count: 0 });
    expect(stateOf(actor)).toEqual(before);
  });

  it('reset forgets the pending round but not the applied push ids', () => {
    const actor = makeActor('sgd');
    actor.receive(applyMessage(pieces(2), 1, 'p1'));
    accumulate(actor, 0, 'a', 2);
    actor.receive({ type: 'reset', weights: randomFloats(1) });
    expect(prepare(actor, 0, ['a'])).toMatchObject({ ready: false, have: 0 });
    expect(actor.receive(applyMessage(pieces(2), 1, 'p1'))).toEqual({ version: 1, duplicate: true });
  });
});

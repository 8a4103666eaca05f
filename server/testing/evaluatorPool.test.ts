import { describe, expect, it } from 'vitest';
import { EvaluationError, type EvaluatorOptions } from '../evaluation/Evaluator.js';
import { POOLED_EVALUATORS } from './evaluatorPool.js';

const OPTIONS: EvaluatorOptions = { model: 'mlp', testSubset: 200 };

describe('POOLED_EVALUATORS', () => {
  it('hands a released idle thread to the next hub with the same options, and a new one otherwise', async () => {
    const first = await POOLED_EVALUATORS.acquire(OPTIONS);
    await POOLED_EVALUATORS.release(first);
    const again = await POOLED_EVALUATORS.acquire(OPTIONS);
    expect(again).toBe(first);
    const other = await POOLED_EVALUATORS.acquire({ ...OPTIONS, testSubset: 100 });
    expect(other).not.toBe(first);
    expect(other.examples).toBe(100);
    // The kept thread still answers: it holds no state of the hub that used it.
    const weights = new Float32Array(again.parameterCount);
    expect((await again.evaluate(weights)).examples).toBe(200);
    await POOLED_EVALUATORS.release(again);
    await POOLED_EVALUATORS.release(other);
  });

  it('terminates a thread released with calls still queued, so that they reject as a closed hub’s do', async () => {
    const busy = await POOLED_EVALUATORS.acquire(OPTIONS);
    const queued = expect(busy.evaluate(new Float32Array(busy.parameterCount))).rejects.toBeInstanceOf(
      EvaluationError,
    );
    await POOLED_EVALUATORS.release(busy);
    await queued;
    expect(busy.usable).toBe(false);
    expect(await POOLED_EVALUATORS.acquire(OPTIONS)).not.toBe(busy);
  });

  it('never hands out a thread that failed while it was idle', async () => {
    const evaluator = await POOLED_EVALUATORS.acquire(OPTIONS);
    await POOLED_EVALUATORS.release(evaluator);
    await evaluator.close(); // as a crash of the idle thread would leave it
    const next = await POOLED_EVALUATORS.acquire(OPTIONS);
    expect(next).not.toBe(evaluator);
    expect(next.usable).toBe(true);
    await POOLED_EVALUATORS.release(next);
  });
});

import { describe, expect, it } from 'vitest';
import { ErrorCode, HubError } from '../../shared/errors.js';
import type { GradientPush } from '../actors/Coordinator.js';
import {
  decodeCall,
  decodeReply,
  encodeCall,
  encodeFailure,
  encodeValue,
  pushFromWire,
  pushToWire,
} from './coordinatorRpc.js';

describe('the coordinator over NATS: frames', () => {
  it('carries a push (pieces by shard, floats bit-exact) to the coordinator and back', () => {
    const push: GradientPush = {
      piecesByShard: new Map([
        [0, [{ offset: 0, values: new Float32Array([1, -0, 2.5]) }]],
        [1, [{ offset: 3, values: new Float32Array([Number.MIN_VALUE, 3]) }]],
      ]),
      versions: [4, 5],
      examples: 64,
      loss: 0.5,
      pushId: 'p1',
    };
    const body = decodeCall(encodeCall({ workerId: 'w1', push: pushToWire(push) }));
    expect(body.workerId).toBe('w1');
    const back = pushFromWire(body.push as ReturnType<typeof pushToWire>);
    expect(back).toEqual(push);
    expect(Object.is(back.piecesByShard.get(0)![0].values[1], -0)).toBe(true);
  });

  it("keeps a refusal's code across the process boundary; other errors stay errors", () => {
    expect(decodeReply(encodeValue({ epoch: 0.25 }))).toEqual({ epoch: 0.25 });
    expect(decodeReply(encodeValue(undefined))).toBeNull();
    const refusal = new HubError(ErrorCode.TooStale, 'gradient is 9 updates stale (limit 4)');
    let thrown: unknown;
    try {
      decodeReply(encodeFailure(refusal));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HubError);
    expect((thrown as HubError).toBody()).toEqual(refusal.toBody());
    expect(() => decodeReply(encodeFailure(new RangeError('bad offset')))).toThrow(RangeError);
    // A code this side does not know is not passed on as a refusal.
    expect(() => decodeReply(encodeFailure(Object.assign(new Error('x'), { name: 'Odd' })))).toThrow('x');
  });
});

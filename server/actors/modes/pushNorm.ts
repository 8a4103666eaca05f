import type { GradientPush } from '../coordinatorTypes.js';

/** L2 norm of a push's pieces, all shards together (a weight change's size, for the dashboard). */
export function pushNorm(push: Pick<GradientPush, 'piecesByShard'>): number {
  let sum = 0;
  for (const pieces of push.piecesByShard.values()) {
    for (const { values } of pieces) for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  }
  return Math.sqrt(sum);
}

/** Bytes each shard has received (gradients) and sent (weights) since the hub started. */
export class ShardTraffic {
  readonly bytesIn: number[];
  readonly bytesOut: number[];

  constructor(shardCount: number) {
    this.bytesIn = new Array<number>(shardCount).fill(0);
    this.bytesOut = new Array<number>(shardCount).fill(0);
  }

  recordIn(floatsByShard: ReadonlyMap<number, number>): void {
    for (const [shard, floats] of floatsByShard) this.bytesIn[shard] += floats * 4;
  }

  recordOut(floatsByShard: ReadonlyMap<number, number>): void {
    for (const [shard, floats] of floatsByShard) this.bytesOut[shard] += floats * 4;
  }
}

import { runShardProcess, type ShardProcessOptions } from '../shardProcess.js';

/**
 * A shard process for tests: `tsx shardChild.ts '<ShardProcessOptions as JSON>'`. Prints "ready" once
 * it serves; closes (with its last checkpoint) on SIGTERM. A SIGKILL leaves only its periodic ones.
 */
const options = JSON.parse(process.argv[2] ?? '{}') as ShardProcessOptions;
const shard = await runShardProcess({ ...options, log: (line) => console.error(line) });
console.log('ready');
process.once('SIGTERM', () => {
  shard.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});

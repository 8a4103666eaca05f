import { describe, expect, it } from 'vitest';
import { parseHubCommandLine } from '../cli/hubCommand.js';
import { parseClusterCommandLine, passThroughProblem } from './clusterCommand.js';
import { coordinatorArgs, gatewayArgs, plannedPorts, shardArgs, shellWords } from './clusterPlan.js';

/** `npm run cluster`'s flags and the hub command lines it derives from them, without processes. */

const at = { natsUrl: 'nats://127.0.0.1:4222', checkpointDir: '/ckpt', host: '127.0.0.1' };

describe('npm run cluster: flags and command lines', () => {
  it('defaults: 2 shards, 2 gateways on the ports after 8080, ./checkpoints/cluster', () => {
    const cli = parseClusterCommandLine([]);
    expect(cli).toMatchObject({
      shards: 2,
      gateways: 2,
      port: 8080,
      host: '127.0.0.1',
      checkpointDir: './checkpoints/cluster',
      subjectPrefix: 'ps',
      standby: false,
      buildClient: true,
    });
    expect(plannedPorts(cli)).toEqual({ gateways: [8081, 8082], standby: 8083 });
    expect(plannedPorts({ ...cli, port: 0 })).toEqual({ gateways: [0, 0], standby: 0 });
  });

  it('every shard and coordinator gets the same run flags, known ones and those after --; gateways none', () => {
    const cli = parseClusterCommandLine([
      ...['--shards', '3', '--model', 'mlp', '--lr', '0.01', '--optimizer', 'sgd', '--seed', '9'],
      ...['--', '--max-staleness', '4', '--checkpoint-secs', '5'],
    ]);
    const run = [
      ...['--model', 'mlp', '--mode', 'local', '--optimizer', 'sgd', '--lr', '0.01', '--seed', '9'],
      ...['--batch-size', '64', '--max-staleness', '4', '--checkpoint-secs', '5'],
    ];
    for (let i = 0; i < 3; i++) expect(shardArgs(cli, at, i).slice(-run.length)).toEqual(run);
    expect(coordinatorArgs(cli, at, 8080).slice(-run.length)).toEqual(run);
    expect(gatewayArgs(cli, at, 8081)).toEqual([
      ...['--nats', at.natsUrl, '--role', 'gateway', '--subject-prefix', 'ps'],
      ...['--host', '127.0.0.1', '--port', '8081'],
    ]);
    // What the hub makes of them: the same model, shards, optimizer, rate and seed in every role.
    const shard = parseHubCommandLine(shardArgs(cli, at, 2));
    const coordinator = parseHubCommandLine(coordinatorArgs(cli, at, 8080));
    expect(shard.cluster).toMatchObject({ role: 'shard', shardIndex: 2 });
    expect(coordinator.cluster).toMatchObject({ role: 'coordinator' });
    for (const { options } of [shard, coordinator]) {
      expect(options).toMatchObject({
        model: 'mlp',
        shards: 3,
        optimizer: 'sgd',
        learningRate: 0.01,
        seed: 9,
        maxStaleness: 4,
      });
    }
    expect(shard.checkpoints.dir).toBe('/ckpt');
  });

  it('refuses after -- what the cluster sets itself, or a known flag in the wrong place', () => {
    expect(passThroughProblem(['--max-staleness', '4'])).toBeNull();
    expect(passThroughProblem(['--shards', '3'])).toMatch(/--shards cannot come after --/);
    expect(passThroughProblem(['--nats=nats://x:1'])).toMatch(/its own nats-server/);
    expect(passThroughProblem(['--fresh'])).toMatch(/point --checkpoint-dir at a new folder/);
    expect(passThroughProblem(['--lr', '0.1'])).toMatch(/give --lr before the --/);
  });

  it('prints commands a shell reads back as the same arguments', () => {
    expect(shellWords(['--checkpoint-dir', './a b', "it's", '--lr', '0.001'])).toBe(
      `--checkpoint-dir './a b' 'it'\\''s' --lr 0.001`,
    );
  });
});

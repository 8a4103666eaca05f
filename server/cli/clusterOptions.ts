/**
 * The hub's flags for a cluster on NATS (the "Several machines" group: --nats, --role, --shard-index,
 * --subject-prefix), the help text on starting one, and the check that turns them into a ClusterRole.
 * Apart from hubCommand.ts because the rules of which flags go together are the cluster's own.
 */
import { type Command, Option } from 'commander';
import { DEFAULT_SUBJECT_PREFIX } from '../cluster/subjects.js';
import { integerIn, natsSubjectPrefix, natsUrl } from './parsers.js';

export const CLUSTER_ROLES = ['shard', 'coordinator', 'gateway'] as const;

/** A process of a cluster on NATS (`--nats` and `--role`); absent: the embedded hub, all in one. */
export type ClusterRole =
  | {
      /** The full hub (HTTP, dashboard, worker gateway, coordinator) on shard processes. */
      readonly role: 'coordinator';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
    }
  | {
      /**
       * Pages, examples and worker sockets for the coordinator's run: joins, pushes and leases go to the
       * coordinator over NATS, pulls straight to the shard processes. Takes the run's settings from it.
       */
      readonly role: 'gateway';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
    }
  | {
      /** One shard actor: floats of range `shardIndex` of `--shards`, served on NATS. */
      readonly role: 'shard';
      readonly natsUrl: string;
      readonly subjectPrefix: string;
      readonly shardIndex: number;
    };

/** The cluster flags as commander gives them. */
export interface ClusterFlags {
  nats?: string;
  role?: (typeof CLUSTER_ROLES)[number];
  shardIndex?: number;
  subjectPrefix: string;
}

/** Adds the "Several machines" group of flags, and the help text on starting a cluster. */
export function addClusterOptions(program: Command): Command {
  return program
    .optionsGroup('Several machines (NATS; see README "Run on several machines"):')
    .addOption(
      new Option(
        '--nats <url>',
        'NATS server every process of the cluster uses, e.g. nats://10.0.0.5:4222 (needs --role)',
      ).argParser(natsUrl),
    )
    .addOption(
      new Option(
        '--role <role>',
        'shard: serve one shard of the weights (with --shard-index; keeps its own checkpoints in ' +
          '<checkpoint-dir>/shard-<i>/); coordinator: the hub (HTTP, dashboard, workers) on --shards shard ' +
          'processes, and the global step, leases and ledger for every gateway (a second one waits as a ' +
          'standby); gateway: one more address for workers (pages, examples, sockets) of the coordinator ' +
          'with the same --subject-prefix, which gives it the run settings. Default: embedded, everything ' +
          'in this process',
      ).choices(CLUSTER_ROLES),
    )
    .addOption(
      new Option('--shard-index <i>', '--role shard: which shard, 0 to --shards minus 1').argParser(
        integerIn(0, 63),
      ),
    )
    .addOption(
      new Option(
        '--subject-prefix <prefix>',
        'NATS subjects are <prefix>.shard.<i> and <prefix>.coord.*: one prefix per run sharing a NATS server',
      )
        .default(DEFAULT_SUBJECT_PREFIX)
        .argParser(natsSubjectPrefix),
    )
    .addHelpText(
      'after',
      `
On this machine, all of it in one command: npm run cluster -- --shards 2 --gateways 2 [--standby]
Several machines: a nats-server with JetStream and max_payload raised (README "Run on several
machines"), then one process per shard and a coordinator, all with the same --model, --shards,
--optimizer, --lr, --seed, --subject-prefix (and, in sync mode, --aggregate and --sync-lr-scaling):
  npm run hub -- --nats nats://HOST:4222 --role shard --shards 2 --shard-index 0   (and 1)
  npm start -- --nats nats://HOST:4222 --role coordinator --shards 2 --host 0.0.0.0
the same coordinator command on another machine for a standby that takes over if it dies, and, for
more worker addresses, any number of gateways (any mode; the dashboard is the coordinator's):
  npm start -- --nats nats://HOST:4222 --role gateway --host 0.0.0.0 --port 8081
A shard that is killed and started again resumes from its checkpoint; workers wait and retry meanwhile.`,
    );
}

/** `--nats`, `--role` and `--shard-index` only make sense together; `fail` exits with the message. */
export function clusterRole(
  f: ClusterFlags & { shards: number; fresh: boolean },
  fail: (message: string) => never,
): ClusterRole | undefined {
  if (f.role === undefined) {
    if (f.nats !== undefined) {
      fail(
        '--nats needs --role shard, coordinator or gateway (without both, the hub runs embedded in one process)',
      );
    }
    if (f.shardIndex !== undefined) fail('--shard-index needs --role shard');
    return undefined;
  }
  if (f.nats === undefined) {
    fail(`--role ${f.role} needs --nats <url>: the NATS server every process of the cluster uses`);
  }
  if (f.role === 'gateway') {
    if (f.shardIndex !== undefined) fail('--shard-index is for --role shard; a gateway uses every shard');
    return { role: 'gateway', natsUrl: f.nats, subjectPrefix: f.subjectPrefix };
  }
  if (f.role === 'coordinator') {
    if (f.shardIndex !== undefined) fail('--shard-index is for --role shard; a coordinator uses every shard');
    return { role: 'coordinator', natsUrl: f.nats, subjectPrefix: f.subjectPrefix };
  }
  if (f.shardIndex === undefined) fail(`--role shard needs --shard-index <i> (0 to ${f.shards - 1})`);
  if (f.shardIndex >= f.shards) {
    fail(
      `--shard-index ${f.shardIndex} is out of range for --shards ${f.shards}: expected 0 to ${f.shards - 1}`,
    );
  }
  if (f.fresh) {
    fail(
      '--fresh is not for --role shard: a shard resumes from <checkpoint-dir>/shard-<i>/; point it at an empty --checkpoint-dir to start over',
    );
  }
  return { role: 'shard', natsUrl: f.nats, subjectPrefix: f.subjectPrefix, shardIndex: f.shardIndex };
}

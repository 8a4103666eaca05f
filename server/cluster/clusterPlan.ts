import { join } from 'node:path';
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_PENDING_BYTES } from './natsServer.js';
import type { ClusterCommandLine } from './clusterCommand.js';

/**
 * The hub command line of every process of a local cluster, written once: the cluster spawns these,
 * and prints the same ones as the commands that run the cluster on several machines, so the two
 * cannot drift apart.
 */

/** Where the run's processes find each other. */
export interface ClusterAddress {
  readonly natsUrl: string;
  /** The checkpoint folder as the processes get it (absolute for the children, as given when printed). */
  readonly checkpointDir: string;
  readonly host: string;
}

/** `server/main.ts` flags of shard `index`. */
export function shardArgs(cli: ClusterCommandLine, at: ClusterAddress, index: number): string[] {
  return [
    ...[
      '--nats',
      at.natsUrl,
      '--role',
      'shard',
      '--shards',
      String(cli.shards),
      '--shard-index',
      String(index),
    ],
    ...['--checkpoint-dir', at.checkpointDir, '--subject-prefix', cli.subjectPrefix],
    ...cli.runFlags,
  ];
}

/** `server/main.ts` flags of a coordinator (the active one and a standby alike) on `port`. */
export function coordinatorArgs(cli: ClusterCommandLine, at: ClusterAddress, port: number): string[] {
  return [
    ...['--nats', at.natsUrl, '--role', 'coordinator', '--shards', String(cli.shards)],
    ...['--checkpoint-dir', at.checkpointDir, '--subject-prefix', cli.subjectPrefix],
    ...['--host', at.host, '--port', String(port)],
    ...cli.runFlags,
  ];
}

/** `server/main.ts` flags of a gateway on `port`: no run flags, it asks the coordinator for them. */
export function gatewayArgs(cli: ClusterCommandLine, at: ClusterAddress, port: number): string[] {
  return [
    ...['--nats', at.natsUrl, '--role', 'gateway', '--subject-prefix', cli.subjectPrefix],
    ...['--host', at.host, '--port', String(port)],
  ];
}

/** Ports before anything listens: gateway i after the coordinator, a standby after the gateways. */
export function plannedPorts(cli: ClusterCommandLine): { gateways: number[]; standby: number } {
  const after = (offset: number) => (cli.port === 0 ? 0 : cli.port + offset);
  return {
    gateways: Array.from({ length: cli.gateways }, (_, i) => after(1 + i)),
    standby: after(1 + cli.gateways),
  };
}

/** What the cluster's processes serve, once they have said so. */
export interface ClusterServing {
  readonly natsUrl: string;
  readonly coordinatorUrl: string;
  /** The dashboard with its admin controls, as the coordinator printed it (or built from the token). */
  readonly adminUrl: string | null;
  readonly gatewayUrls: readonly string[];
  /** Null: no --standby, or it has not printed a URL (it waits as a standby). */
  readonly standbyUrl: string | null;
  readonly pids: readonly { readonly name: string; readonly pid: number | undefined }[];
}

/** The lines the cluster prints once every process serves. */
export function describeCluster(cli: ClusterCommandLine, serving: ClusterServing): string[] {
  const lines = [
    `cluster: ${cli.shards} shard process(es), a coordinator${cli.standby ? ' and a standby' : ''}, ` +
      `${cli.gateways} gateway(s) on NATS; checkpoints in ${cli.checkpointDir}`,
    `cluster: dashboard   ${serving.coordinatorUrl}/`,
  ];
  if (serving.adminUrl !== null) lines.push(`cluster: admin       ${serving.adminUrl}   (keep it private)`);
  lines.push(`cluster: worker      ${serving.coordinatorUrl}/worker   (the coordinator's own)`);
  serving.gatewayUrls.forEach((url, i) => lines.push(`cluster: gateway ${i}   ${url}/worker`));
  if (cli.standby) {
    lines.push(
      `cluster: standby     ${serving.standbyUrl ?? `(no URL yet: it waits to take over, port ${plannedPorts(cli).standby})`}`,
    );
  }
  lines.push(`cluster: status      ${serving.coordinatorUrl}/api/status`);
  lines.push(`cluster: NATS        ${serving.natsUrl}   (JetStream in ${natsStoreDir(cli.checkpointDir)})`);
  lines.push(`cluster: processes   ${serving.pids.map((p) => `${p.name} pid ${p.pid ?? '?'}`).join(', ')}`);
  lines.push(
    'cluster: the same run on several machines (NATS_HOST: the NATS machine; each process listens on 0.0.0.0):',
    ...severalMachines(cli, serving).map((line) => `  ${line}`),
    'cluster: Ctrl-C stops them all: gateways, coordinator, shards, then NATS (a second Ctrl-C kills them)',
  );
  return lines;
}

/** Where NATS keeps its JetStream store: inside the checkpoints, so a restarted cluster keeps it. */
export function natsStoreDir(checkpointDir: string): string {
  return join(checkpointDir, 'nats');
}

/** The commands of README "Run on several machines", with this cluster's flags and ports. */
function severalMachines(cli: ClusterCommandLine, serving: ClusterServing): string[] {
  const at: ClusterAddress = {
    natsUrl: 'nats://NATS_HOST:4222',
    checkpointDir: cli.checkpointDir,
    host: '0.0.0.0',
  };
  const mb = (bytes: number) => `${bytes / 2 ** 20}MB`;
  const config =
    `max_payload: ${mb(DEFAULT_MAX_PAYLOAD_BYTES)}, max_pending: ${mb(DEFAULT_MAX_PENDING_BYTES)}, ` +
    `jetstream { store_dir: ${JSON.stringify(natsStoreDir(cli.checkpointDir))} }`;
  const lines = [`nats-server -c nats-server.conf -a 0.0.0.0 -p 4222   # nats-server.conf: ${config}`];
  for (let i = 0; i < cli.shards; i++) lines.push(`npm run hub -- ${shellWords(shardArgs(cli, at, i))}`);
  const port = (url: string | null, planned: number) => (url === null ? planned : Number(new URL(url).port));
  lines.push(`npm start -- ${shellWords(coordinatorArgs(cli, at, port(serving.coordinatorUrl, cli.port)))}`);
  if (cli.standby) {
    const standby = port(serving.standbyUrl, plannedPorts(cli).standby);
    lines.push(`npm start -- ${shellWords(coordinatorArgs(cli, at, standby))}   # the standby`);
  }
  serving.gatewayUrls.forEach((url, i) =>
    lines.push(`npm start -- ${shellWords(gatewayArgs(cli, at, port(url, plannedPorts(cli).gateways[i])))}`),
  );
  return lines;
}

/** Arguments as a POSIX shell reads them back: quoted only where they need it. */
export function shellWords(args: readonly string[]): string {
  return args
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../repoRoot.js';
import { ClusterChild } from './clusterChild.js';
import type { ClusterCommandLine } from './clusterCommand.js';
import {
  coordinatorArgs,
  gatewayArgs,
  natsStoreDir,
  plannedPorts,
  shardArgs,
  shellWords,
  type ClusterAddress,
  type ClusterServing,
} from './clusterPlan.js';

const MAIN = join('server', 'main.ts');
const NATS_CHILD = join('server', 'cluster', 'natsChild.ts');

/** What coordinators and gateways print once they listen (server/main.ts). */
const SERVING = /status\s+(https?:\/\/\S+)\/api\/status/;
const ADMIN = /admin\s+(https?:\/\/\S+)/;

/**
 * How long each role may take to serve. Generous: on two shared cores, a few Node processes loading
 * TF.js (and, from the sources, tsx) at once take tens of seconds, and a coordinator waits up to 60 s for its shards.
 */
const START_MS = { nats: 30_000, shard: 120_000, coordinator: 180_000, gateway: 120_000 };
/** A standby may never say it serves (it waits to take over): how long to wait for its URL. */
const STANDBY_URL_MS = 15_000;
/** SIGTERM to SIGKILL: coordinators and shards write a last checkpoint first. */
const STOP_MS = { gateway: 20_000, coordinator: 60_000, shard: 60_000, nats: 10_000 };

export interface LocalClusterOptions {
  readonly cli: ClusterCommandLine;
  /** Where the children's prefixed lines and the cluster's own go. */
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Called once every child has died without being stopped: nothing is left to serve. */
  readonly onAllExited?: () => void;
}

/**
 * `npm run cluster`: a nats-server, the shard processes, a coordinator (and a standby) and the
 * gateways, each a child process; started in the order each needs the previous, stopped in the
 * reverse, so that nothing asks a process that is already gone.
 */
export class LocalCluster {
  private readonly cli: ClusterCommandLine;
  private readonly options: LocalClusterOptions;
  private readonly checkpointDir: string;
  private readonly children: { child: ClusterChild; args: readonly string[] }[] = [];
  private ready = false;
  private stopping: Promise<boolean> | null = null;

  constructor(options: LocalClusterOptions) {
    this.options = options;
    this.cli = options.cli;
    // The children run in the repository root; the folder is the one the user named from here.
    this.checkpointDir = resolve(options.cli.checkpointDir);
  }

  /** Starts every process and resolves with what they serve; on a failure, stops what it started. */
  async start(): Promise<ClusterServing> {
    try {
      return await this.startAll();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async startAll(): Promise<ClusterServing> {
    const { cli } = this;
    const storeDir = natsStoreDir(this.checkpointDir);
    await mkdir(storeDir, { recursive: true });
    const nats = this.spawn('nats', NATS_CHILD, [storeDir]);
    const natsUrl = (await this.waitFor(nats, /serving (nats:\/\/\S+)/, START_MS.nats))[1];
    const at: ClusterAddress = { natsUrl, checkpointDir: this.checkpointDir, host: cli.host };

    const shards = Array.from({ length: cli.shards }, (_, i) =>
      this.spawn(`shard ${i}`, MAIN, shardArgs(cli, at, i)),
    );
    await Promise.all(shards.map((shard) => this.waitFor(shard, /serving floats/, START_MS.shard)));

    // With a standby, both coordinators need one admin token, or the link dies with the first.
    const token = cli.standby && !process.env.HUB_ADMIN_TOKEN ? randomBytes(16).toString('hex') : null;
    const env = token === null ? undefined : { HUB_ADMIN_TOKEN: token };
    const coordinator = this.spawn('coordinator', MAIN, coordinatorArgs(cli, at, cli.port), env);
    const adminLine = this.waitFor(coordinator, ADMIN, START_MS.coordinator).catch(() => null);
    const coordinatorUrl = (await this.waitFor(coordinator, SERVING, START_MS.coordinator))[1];
    const adminUrl =
      token === null
        ? ((await adminLine)?.[1] ?? null)
        : `${coordinatorUrl}/#admin=${encodeURIComponent(token)}`;

    const ports = plannedPorts(cli);
    const gateways = ports.gateways.map((port, i) =>
      this.spawn(`gateway ${i}`, MAIN, gatewayArgs(cli, at, port)),
    );
    const gatewayUrls = await Promise.all(
      gateways.map(async (gateway) => (await this.waitFor(gateway, SERVING, START_MS.gateway))[1]),
    );

    let standbyUrl: string | null = null;
    if (cli.standby) {
      const standby = this.spawn('standby', MAIN, coordinatorArgs(cli, at, ports.standby), env);
      // A standby that waits to take over prints no URL; one that dies at once fails the start.
      standbyUrl = await this.waitFor(standby, SERVING, STANDBY_URL_MS).then(
        (match) => match[1],
        (error: unknown) => {
          if (!standby.running) throw error;
          return null;
        },
      );
      if (standbyUrl === null) this.announceTakeover(standby, token);
    }
    this.ready = true;
    return {
      natsUrl,
      coordinatorUrl,
      adminUrl,
      gatewayUrls,
      standbyUrl,
      pids: this.children.map(({ child }) => ({ name: child.name, pid: child.pid })),
    };
  }

  /**
   * Stops every process, the order reversed: gateways, the standby (before the coordinator, or it
   * would take over), the coordinator, the shards, NATS. True when each one that was running exited
   * 0 on its SIGTERM. Safe to call twice.
   */
  stop(): Promise<boolean> {
    return (this.stopping ??= this.stopAll());
  }

  /** SIGKILL every process now (a second Ctrl-C while stopping). */
  kill(): void {
    for (const { child } of this.children) child.kill();
  }

  private async stopAll(): Promise<boolean> {
    const byName = (test: (name: string) => boolean) =>
      this.children.map(({ child }) => child).filter((child) => test(child.name));
    const groups: [string, ClusterChild[], number][] = [
      ['gateways', byName((n) => n.startsWith('gateway ')), STOP_MS.gateway],
      ['the standby', byName((n) => n === 'standby'), STOP_MS.coordinator],
      ['the coordinator', byName((n) => n === 'coordinator'), STOP_MS.coordinator],
      ['shards', byName((n) => n.startsWith('shard ')), STOP_MS.shard],
      ['NATS', byName((n) => n === 'nats'), STOP_MS.nats],
    ];
    let clean = true;
    for (const [what, children, timeoutMs] of groups) {
      const running = children.filter((child) => child.running);
      if (running.length === 0) continue;
      this.options.out(`cluster: stopping ${what}`);
      const results = await Promise.all(running.map((child) => child.stop(timeoutMs)));
      results.forEach(({ how, forced }, i) => {
        if (!forced && how === 'exited with code 0') return;
        // A standby still waiting for the lease has no SIGTERM handler (server/main.ts installs it
        // once a coordinator serves) and nothing to save: the signal's default end is its clean stop.
        if (!forced && running[i].name === 'standby' && how === 'was killed by SIGTERM') return;
        clean = false;
        const why = forced ? `did not stop within ${timeoutMs / 1000} s and was killed` : how;
        this.options.err(`cluster: ${running[i].name} ${why}; its last lines:\n${running[i].lastLines()}`);
      });
    }
    this.options.out(clean ? 'cluster: stopped' : 'cluster: stopped, not cleanly (above)');
    return clean;
  }

  private spawn(
    name: string,
    module: string,
    args: readonly string[],
    env?: Record<string, string>,
  ): ClusterChild {
    if (this.stopping !== null) throw new Error('the cluster is stopping');
    const child = new ClusterChild({
      name,
      module,
      args,
      cwd: REPO_ROOT,
      env: env === undefined ? undefined : { ...process.env, ...env },
      stdout: this.options.out,
      stderr: this.options.err,
      onUnexpectedExit: (exited, how) => this.onUnexpectedExit(exited, how),
    });
    this.children.push({ child, args });
    return child;
  }

  /** waitForLine, and a stop meanwhile ends the start. */
  private async waitFor(child: ClusterChild, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const match = await child.waitForLine(pattern, timeoutMs);
    if (this.stopping !== null) throw new Error('stopped while starting');
    return match;
  }

  /** When the waiting standby serves (it took over), its URLs replace the dead coordinator's. */
  private announceTakeover(standby: ClusterChild, token: string | null): void {
    void standby.waitForLine(SERVING).then(
      ([, url]) => {
        if (this.stopping !== null) return;
        const admin = token === null ? '' : `, admin ${url}/#admin=${encodeURIComponent(token)}`;
        this.options.out(`cluster: the standby took over: dashboard ${url}/${admin}, worker ${url}/worker`);
      },
      () => undefined,
    );
  }

  /** After the start (before it, the wait for the child's line says why): say who died and why. */
  private onUnexpectedExit(child: ClusterChild, how: string): void {
    if (!this.ready || this.stopping !== null) return;
    const { err } = this.options;
    err(`cluster: ${child.name} ${how} unexpectedly; its last lines:\n${child.lastLines()}`);
    const entry = this.children.find((c) => c.child === child)!;
    if (child.name === 'nats') {
      err('cluster: every process needs NATS: stop the cluster (Ctrl-C) and start it again');
    } else {
      if (child.name === 'coordinator' && this.cli.standby) {
        err('cluster: the standby takes over within seconds (once the lease is 3 s old)');
      }
      const npm = child.name.startsWith('shard ') ? 'npm run hub --' : 'npm start --';
      err(`cluster: the others keep running; to start it again: ${npm} ${shellWords(entry.args)}`);
    }
    if (this.children.every(({ child: c }) => !c.running)) this.options.onAllExited?.();
  }
}

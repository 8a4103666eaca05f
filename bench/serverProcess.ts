/**
 * Entry of a child process that runs one server for the bench (started by ChildServer): the hub
 * (startTestHub with the given options), the raw `ws` echo server, or a link relay, on 127.0.0.1
 * port 0. A process of its own, so that the server has a core to itself as a real hub would, and so
 * that its CPU time and memory are its own (the load generator's are not counted); a relay, so that
 * the link it emulates keeps its schedule while the bench process (hub, Playwright) is busy.
 *
 * Talks to the parent over IPC: sends `ready` with the URL; answers `usage` and `relay`; closes on
 * `close`.
 */
import type { HubOptions } from '../server/options.js';
import { startTestHub } from '../server/testing/testHub.js';
import type { ChildReply, ChildRequest, ServerSpec } from './childProtocol.js';
import { LinkRelay } from './LinkRelay.js';
import { startWsEcho } from './wsEcho.js';

/** How often RSS is sampled for the peak. */
const RSS_SAMPLE_MS = 50;

function send(message: ChildReply): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ServerSpec;
  const relay = spec.kind === 'relay' ? await LinkRelay.start(spec.target, spec.link) : null;
  const server =
    relay ??
    (spec.kind === 'hub' ? await startTestHub(spec.options as Partial<HubOptions>) : await startWsEcho());
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  process.on('message', (request: ChildRequest) => {
    switch (request.type) {
      case 'usage': {
        const rss = process.memoryUsage.rss();
        peakRss = Math.max(peakRss, rss);
        const cpu = process.cpuUsage();
        send({ type: 'usage', id: request.id, cpuMicros: cpu.user + cpu.system, rss, peakRss });
        if (request.resetPeak) peakRss = rss;
        break;
      }
      case 'relay':
        if (relay !== null) {
          send({ type: 'relay', id: request.id, traffic: relay.traffic(), lateness: relay.lateness() });
        }
        break;
      case 'close':
        clearInterval(sampler);
        void server.close().finally(() => process.exit(0));
        break;
    }
  });
  // The parent going away (a crash, Ctrl-C) ends this process too.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url: server.url });
}

main().catch((error: unknown) => {
  send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});

#!/usr/bin/env node
/* global process, console */
// Finds the `nats-server` binary the cluster tests (and shard processes run by hand) talk to. Run by
// the test command before vitest; server/cluster/natsServer.ts imports findNatsServer() for the path.
// Order:
//   1. $NATS_SERVER_PATH
//   2. `nats-server` on PATH
//   3. Debian's package: /usr/bin/nats-server, /usr/sbin/nats-server
// When none is found and this runs as root on Debian, it installs Debian's `nats-server` with
// apt-get (apt-get update first only when the plain install fails: the package lists may be fresh
// enough); otherwise it exits non-zero with a message saying how to get one.
import { aptInstall, canInstallWithApt, isExecutable, versionOf } from './debianPackage.mjs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const DEBIAN_CANDIDATES = ['/usr/bin/nats-server', '/usr/sbin/nats-server'];

function onPath(name, env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  return null;
}

/**
 * @returns {{ path: string, source: string } | { path: null, problem: string }}
 */
export function findNatsServer(env = process.env) {
  if (env.NATS_SERVER_PATH) {
    return isExecutable(env.NATS_SERVER_PATH)
      ? { path: env.NATS_SERVER_PATH, source: 'NATS_SERVER_PATH' }
      : {
          path: null,
          problem: `NATS_SERVER_PATH is set to ${env.NATS_SERVER_PATH}, which is not an executable file`,
        };
  }
  const found = onPath('nats-server', env);
  if (found) return { path: found, source: 'PATH' };
  for (const path of DEBIAN_CANDIDATES) {
    if (isExecutable(path)) return { path, source: "Debian's nats-server package" };
  }
  return { path: null, problem: 'no nats-server found' };
}

export const HOW_TO_GET_ONE = [
  'The NATS cluster tests need a nats-server binary (2.9 or later). Any one of these works:',
  '  - Debian/Ubuntu: sudo apt-get install nats-server   (this script does it by itself when run as root)',
  '  - point NATS_SERVER_PATH at a nats-server binary: NATS_SERVER_PATH=/path/to/nats-server',
  '  - a release from https://github.com/nats-io/nats-server/releases on PATH',
  'then run: node scripts/find-nats-server.mjs',
].join('\n');

function main() {
  let found = findNatsServer();
  if (found.path === null && !process.env.NATS_SERVER_PATH && canInstallWithApt()) {
    try {
      console.log('find-nats-server: no nats-server found; running apt-get install -y nats-server');
      aptInstall('nats-server');
    } catch (error) {
      console.error(`find-nats-server: apt-get failed: ${error instanceof Error ? error.message : error}`);
    }
    found = findNatsServer();
  }
  if (found.path === null) {
    console.error(`find-nats-server: ${found.problem}.\n${HOW_TO_GET_ONE}`);
    process.exit(1);
  }
  console.log(`find-nats-server: using ${found.path} (${found.source}; ${versionOf(found.path)})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();

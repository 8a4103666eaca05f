/* global process, console */
// What scripts/find-chromium.mjs and scripts/find-nats-server.mjs share: is a file an executable, what
// version does it say it is, and installing a Debian package with apt-get when this runs as root.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

export function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What `<path> --version` prints, or "version unknown". */
export function versionOf(path) {
  try {
    return execFileSync(path, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'version unknown';
  }
}

/** Root on Debian (or Ubuntu) with apt-get: the find scripts may install what is missing. */
export function canInstallWithApt() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot && existsSync('/etc/debian_version') && isExecutable('/usr/bin/apt-get');
}

/**
 * `apt-get install -y <name>` with the output shown. `updateFirst`: run `apt-get update` before it;
 * otherwise only when the plain install fails (the package lists may be fresh enough).
 */
export function aptInstall(name, { updateFirst = false } = {}) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => execFileSync('apt-get', args, { stdio: 'inherit', env });
  const install = () => run(['install', '-y', '--no-install-recommends', name]);
  if (updateFirst) run(['update']);
  else {
    try {
      install();
      return;
    } catch {
      console.log(`apt-get install ${name} failed; running apt-get update, then the install again`);
      run(['update']);
    }
  }
  install();
}

import { open, readdir, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint, type EncodedCheckpoint } from './checkpointFormat.js';

const PREFIX = 'checkpoint-';
const SUFFIX = '.ckpt';

export interface LoadResult<T> {
  /** The newest checkpoint that passed its checks (decoded), or null when there is none. */
  readonly checkpoint: { readonly value: T; readonly file: string } | null;
  /** Newer files that failed their checks, newest first, with why. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

/**
 * Checkpoint files in one folder, named so that they sort oldest to newest. Writes are atomic
 * (temp file, fsync, rename, fsync of the folder): a crash leaves the previous files intact and at
 * worst a stray temp file. Keeps the newest `keep` files.
 */
export class CheckpointStore {
  private sequence = 0;

  constructor(
    readonly dir: string,
    private readonly keep: number,
  ) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError('keep at least one checkpoint');
  }

  async write<H>(checkpoint: EncodedCheckpoint<H>, globalStep: number): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    // Time first so names sort by age; step and a sequence number for people and for ties.
    const name = `${PREFIX}${Date.now().toString().padStart(15, '0')}-${String(this.sequence++).padStart(4, '0')}-step${globalStep}${SUFFIX}`;
    const path = join(this.dir, name);
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(encodeCheckpoint(checkpoint));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(this.dir);
    await this.prune();
    return path;
  }

  /** Checkpoint files, newest first. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names
      .filter((n) => n.startsWith(PREFIX) && n.endsWith(SUFFIX))
      .sort()
      .reverse()
      .map((n) => join(this.dir, n));
  }

  /**
   * The newest checkpoint whose checksum holds and that `decode` accepts (it throws
   * CheckpointCorruptError to refuse one), and the newer ones that failed.
   */
  async loadNewest<T>(decode: (checkpoint: EncodedCheckpoint<unknown>) => T): Promise<LoadResult<T>> {
    const skipped: { file: string; reason: string }[] = [];
    for (const file of await this.list()) {
      try {
        const value = decode(decodeCheckpoint<unknown>(await readFile(file)));
        return { checkpoint: { value, file }, skipped };
      } catch (error) {
        if (!(error instanceof CheckpointCorruptError)) throw error;
        skipped.push({ file, reason: error.message });
      }
    }
    return { checkpoint: null, skipped };
  }

  private async prune(): Promise<void> {
    for (const file of (await this.list()).slice(this.keep)) await rm(file, { force: true });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

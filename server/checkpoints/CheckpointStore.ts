import { open, readdir, readFile, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointCorruptError, decodeCheckpoint, encodeCheckpoint, type EncodedCheckpoint } from './checkpointFormat.js';

const PREFIX = 'checkpoint-';
const SUFFIX = '.ckpt';
/** `checkpoint-s000000000042-step1234.ckpt`: the sequence number the file carries, then the step. */
const SEQUENCED = /^checkpoint-s(\d+)-step\d+\.ckpt$/;
const SEQUENCE_DIGITS = 12;

export interface LoadResult<T> {
  /** The newest checkpoint that passed its checks (decoded), or null when there is none. */
  readonly checkpoint: { readonly value: T; readonly file: string } | null;
  /** Newer files that failed their checks, newest first, with why. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

/**
 * Checkpoint files in one folder, ordered by a sequence number that each file carries (in its header
 * and its name): 1, 2, 3, ... in the order written, continuing from the highest in the folder. Not by
 * the wall clock, which can step back (NTP, a VM restored): resume would then pick a stale file and
 * pruning delete the newest. Writes are atomic (temp file, fsync, rename, fsync of the folder): a
 * crash leaves the previous files intact and at worst a stray temp file. Keeps the newest `keep`.
 */
export class CheckpointStore {
  /** The next file's sequence number; read from the folder before the first write. */
  private nextSequence: number | null = null;

  constructor(
    readonly dir: string,
    private readonly keep: number,
  ) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError('keep at least one checkpoint');
  }

  async write<H>(checkpoint: EncodedCheckpoint<H>, globalStep: number): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    this.nextSequence ??= (await this.highestSequence()) + 1;
    const sequence = this.nextSequence++;
    const name = `${PREFIX}s${String(sequence).padStart(SEQUENCE_DIGITS, '0')}-step${globalStep}${SUFFIX}`;
    const path = join(this.dir, name);
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(encodeCheckpoint({ ...checkpoint, sequence }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(this.dir);
    await this.prune();
    return path;
  }

  /**
   * Checkpoint files, newest first: by sequence number; files from before sequence numbers (named by
   * time) count as older than every numbered one, in the order of their names.
   */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files = names.filter((n) => n.startsWith(PREFIX) && n.endsWith(SUFFIX));
    const numbered = files.filter((n) => SEQUENCED.test(n)).sort((a, b) => sequenceOf(b) - sequenceOf(a));
    const legacy = files.filter((n) => !SEQUENCED.test(n)).sort().reverse();
    return [...numbered, ...legacy].map((n) => join(this.dir, n));
  }

  /**
   * The newest checkpoint whose checksum holds and that `decode` accepts (it throws
   * CheckpointCorruptError to refuse one), and the newer ones that failed. A file whose name and
   * carried sequence number disagree (renamed, copied in) is refused too.
   */
  async loadNewest<T>(decode: (checkpoint: EncodedCheckpoint<unknown>) => T): Promise<LoadResult<T>> {
    const skipped: { file: string; reason: string }[] = [];
    for (const file of await this.list()) {
      try {
        const encoded = decodeCheckpoint<unknown>(await readFile(file));
        const named = sequenceOf(file.slice(file.lastIndexOf('/') + 1));
        if (Number.isFinite(named) && encoded.sequence !== named) {
          throw new CheckpointCorruptError(
            `its name says sequence ${named}, the file carries ${encoded.sequence ?? 'none'}: renamed or copied in`,
          );
        }
        return { checkpoint: { value: decode(encoded), file }, skipped };
      } catch (error) {
        if (!(error instanceof CheckpointCorruptError)) throw error;
        skipped.push({ file, reason: error.message });
      }
    }
    return { checkpoint: null, skipped };
  }

  private async highestSequence(): Promise<number> {
    const [newest] = await this.list();
    const sequence = newest === undefined ? NaN : sequenceOf(newest.slice(newest.lastIndexOf('/') + 1));
    return Number.isFinite(sequence) ? sequence : 0;
  }

  private async prune(): Promise<void> {
    for (const file of (await this.list()).slice(this.keep)) await rm(file, { force: true });
  }
}

/** The sequence number in a file name; NaN for a file from before sequence numbers. */
function sequenceOf(name: string): number {
  const match = SEQUENCED.exec(name);
  return match ? Number(match[1]) : NaN;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The hub's "Checkpoints:" flags (where, how often, how many, or a fresh start) and the
 * CheckpointOptions they set. Apart from hubCommand.ts because checkpoints are not hub options: the
 * Checkpointer takes them, beside the hub.
 */
import { type Command, Option } from 'commander';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import { integerIn, secondsOption } from './parsers.js';

const DEFAULT_CHECKPOINTS: CheckpointOptions = {
  dir: './checkpoints',
  intervalMs: 60_000,
  keep: 3,
  fresh: false,
};

/** The checkpoint flags as commander gives them. */
export interface CheckpointFlags {
  checkpointDir: string;
  checkpointSecs: number;
  keepCheckpoints: number;
  fresh: boolean;
}

/** Adds the "Checkpoints:" group of flags to the hub's command line. */
export function addCheckpointOptions(program: Command): Command {
  return program
    .optionsGroup('Checkpoints:')
    .addOption(
      new Option('--checkpoint-dir <dir>', 'where checkpoints are written and resumed from').default(
        DEFAULT_CHECKPOINTS.dir,
      ),
    )
    .addOption(
      secondsOption(
        '--checkpoint-secs <seconds>',
        'write a checkpoint this often while training',
        DEFAULT_CHECKPOINTS.intervalMs,
      ),
    )
    .addOption(
      new Option('--keep-checkpoints <n>', 'checkpoints kept on disk')
        .default(DEFAULT_CHECKPOINTS.keep)
        .argParser(integerIn(1, 1000)),
    )
    .addOption(
      new Option('--fresh', 'start a new run instead of resuming the newest checkpoint').default(false),
    );
}

/** The checkpoint options the flags set. */
export function checkpointOptions(f: CheckpointFlags): CheckpointOptions {
  return {
    dir: f.checkpointDir,
    intervalMs: f.checkpointSecs,
    keep: f.keepCheckpoints,
    fresh: f.fresh,
  };
}

import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  COMPRESSIONS,
  OUTER_OPTIMIZERS,
  type Compression,
  type OuterOptimizerName,
} from '../../shared/protocol.js';
import { DEFAULT_HUB_OPTIONS as D, type HubOptions } from '../options.js';
import { integerIn, positiveNumber } from './parsers.js';

/** The flags of local mode as commander gives them. */
export interface LocalModeFlags {
  localSteps: number;
  roundSecs?: number;
  localBuffer?: number;
  outerOptimizer: OuterOptimizerName;
  outerLr: number;
  outerMomentum: number;
  compressChanges: Compression;
}

/** Adds the "Local mode:" group of flags to the hub's command line. */
export function addLocalModeOptions(program: Command): Command {
  return program
    .optionsGroup('Local mode (DiLoCo: workers train locally, the hub applies an outer optimizer):')
    .addOption(
      new Option('--local-steps <n>', "inner steps each worker takes on a round's weights")
        .default(D.localSteps)
        .argParser(integerIn(1, 100_000)),
    )
    .addOption(
      new Option(
        '--round-secs <seconds>',
        'stop inner steps after this long if --local-steps are not done (slow and fast volunteers finish together); the round closes --round-timeout later',
      ).argParser(positiveNumber),
    )
    .addOption(
      new Option(
        '--local-buffer <k>',
        'no rounds: apply every k changes as they arrive, discounted by staleness (FedBuff); default: rounds',
      ).argParser(integerIn(1, 100_000)),
    )
    .addOption(
      new Option(
        '--outer-optimizer <name>',
        "nesterov: DiLoCo's momentum on the mean change; average: FedAvg, the workers' mean end point",
      )
        .choices(OUTER_OPTIMIZERS)
        .default(D.outerOptimizer),
    )
    .addOption(
      new Option('--outer-lr <rate>', 'nesterov: outer learning rate')
        .default(D.outerLr)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option('--outer-momentum <m>', 'nesterov: outer momentum, 0 to below 1')
        .default(D.outerMomentum)
        .argParser(momentum),
    )
    .addOption(
      new Option('--compress-changes <scheme>', 'how workers send weight changes: float32, or fp16')
        .choices(COMPRESSIONS)
        .default(D.compressChanges),
    );
}

/** The hub options the local-mode flags set. */
export function localModeOptions(
  f: LocalModeFlags,
): Pick<
  HubOptions,
  | 'localSteps'
  | 'roundSecs'
  | 'localBuffer'
  | 'outerOptimizer'
  | 'outerLr'
  | 'outerMomentum'
  | 'compressChanges'
> {
  return {
    localSteps: f.localSteps,
    roundSecs: f.roundSecs,
    localBuffer: f.localBuffer,
    outerOptimizer: f.outerOptimizer,
    outerLr: f.outerLr,
    outerMomentum: f.outerMomentum,
    compressChanges: f.compressChanges,
  };
}

function momentum(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) {
    throw new InvalidArgumentError(`expected a number from 0 to below 1, got "${value}".`);
  }
  return n;
}

/**
 * `npm start -- …`: the hub's command line, assembled from its groups of flags (each group's flags,
 * defaults and mapping are in a file of its own: trainingOptions, localModeOptions,
 * untrustedVolunteerOptions, checkpointOptions, clusterOptions) and parsed into a HubCommandLine.
 * This file keeps the server and evaluation flags and the order of the groups in --help.
 */
import { Command, Option } from 'commander';
import type { CheckpointOptions } from '../checkpoints/Checkpointer.js';
import { DEFAULT_HUB_OPTIONS as D, type HubOptions } from '../options.js';
import { addCheckpointOptions, checkpointOptions, type CheckpointFlags } from './checkpointOptions.js';
import { addClusterOptions, clusterRole, type ClusterFlags, type ClusterRole } from './clusterOptions.js';
import { addLocalModeOptions, localModeOptions, type LocalModeFlags } from './localModeOptions.js';
import { integerIn, secondsOption } from './parsers.js';
import { addTrainingOptions, trainingOptions, type TrainingFlags } from './trainingOptions.js';
import {
  addUntrustedVolunteerOptions,
  untrustedVolunteerOptions,
  type UntrustedVolunteerFlags,
} from './untrustedVolunteerOptions.js';

export { CLUSTER_ROLES, type ClusterRole } from './clusterOptions.js';

export interface HubCommandLine {
  readonly host: string;
  readonly port: number;
  /** Undefined: the hub generates one and prints it. */
  readonly adminToken?: string;
  readonly options: HubOptions;
  readonly checkpoints: CheckpointOptions;
  readonly cluster?: ClusterRole;
}

/** The server and evaluation flags as commander gives them. */
interface ServerFlags {
  port: number;
  host: string;
  adminToken?: string;
  evalInterval: number;
  evalExamples: number;
}

/** `npm start -- …`: every flag of the hub, grouped in --help; bad values exit with the accepted range. */
export function parseHubCommandLine(argv: readonly string[]): HubCommandLine {
  const program = new Command('npm start --')
    .description(
      'Parameter-server hub of the volunteer-compute trainer: open /worker in a browser to help train.',
    )
    .showHelpAfterError('(run with --help for every flag)')
    .optionsGroup('Server:')
    .addOption(
      new Option('--port <port>', 'port to listen on (0: any free port)')
        .default(8080)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(
      new Option('--host <host>', 'address to listen on (0.0.0.0: every interface)').default('127.0.0.1'),
    )
    .addOption(
      new Option(
        '--admin-token <token>',
        'token for actions that change the run (default: a new one, printed at start)',
      ).env('HUB_ADMIN_TOKEN'),
    );
  addTrainingOptions(program);
  addLocalModeOptions(program);
  addUntrustedVolunteerOptions(program)
    .optionsGroup('Evaluation:')
    .addOption(
      secondsOption('--eval-interval <seconds>', 'how often to measure test accuracy', D.evalIntervalMs),
    )
    .addOption(
      new Option('--eval-examples <n>', 'test examples per evaluation (first N of 10,000)')
        .default(D.evalExamples)
        .argParser(integerIn(1, 10_000)),
    );
  addCheckpointOptions(program);
  addClusterOptions(program);

  program.parse(argv, { from: 'user' });
  const f = program.opts<
    ServerFlags & TrainingFlags & LocalModeFlags & UntrustedVolunteerFlags & CheckpointFlags & ClusterFlags
  >();
  const cluster = clusterRole(f, (message) => program.error(`error: ${message}`));
  return {
    host: f.host,
    port: f.port,
    adminToken: f.adminToken,
    // The spreads' order keeps the keys' order as before the groups had files of their own.
    options: {
      ...D,
      ...trainingOptions(f),
      ...untrustedVolunteerOptions(f),
      ...localModeOptions(f),
      evalIntervalMs: f.evalInterval,
      evalExamples: f.evalExamples,
    },
    checkpoints: checkpointOptions(f),
    cluster,
  };
}

/**
 * The hub's flags against untrusted volunteers (the "Untrusted volunteers:" group: robust
 * aggregation, clipping, trust, the known answer, spot checks, bans) and the hub options they set.
 * Apart from hubCommand.ts so that the defences' flags read together.
 */
import { type Command, Option } from 'commander';
import { AGGREGATION_RULES, type AggregationRule } from '../aggregation/robustAggregate.js';
import { DEFAULT_HUB_OPTIONS as D, type HubOptions } from '../options.js';
import { fraction, integerIn, positiveNumber } from './parsers.js';

/** The flags against untrusted volunteers as commander gives them. */
export interface UntrustedVolunteerFlags {
  aggregate: AggregationRule;
  clipNorm?: number;
  trust: boolean;
  knownAnswer: boolean;
  spotCheck: number;
  banAfter: number;
  banSecs: number;
}

/** Adds the "Untrusted volunteers:" group of flags to the hub's command line. */
export function addUntrustedVolunteerOptions(program: Command): Command {
  return program
    .optionsGroup('Untrusted volunteers:')
    .addOption(
      new Option('--aggregate <rule>', 'sync mode: how a round combines its gradients')
        .choices(AGGREGATION_RULES)
        .default(D.aggregate),
    )
    .addOption(
      new Option('--clip-norm <norm>', 'scale gradients with a larger L2 norm down to it').argParser(
        positiveNumber,
      ),
    )
    .addOption(
      new Option(
        '--trust',
        'weight each volunteer by a trust score that out-of-line gradients and failed spot checks lower; newcomers start on probation',
      ).default(false),
    )
    .addOption(
      new Option(
        '--no-known-answer',
        "count a worker's pushes without first checking one gradient of its backend against the hub's",
      ),
    )
    .addOption(
      new Option(
        '--spot-check <rate>',
        'share of accepted pushes the hub recomputes off the event loop; a mismatch costs trust (0: none)',
      )
        .default(D.spotCheck)
        .argParser(fraction),
    )
    .addOption(
      new Option(
        '--ban-after <n>',
        'refuse an address for a while after this many of its connections were closed for strikes (0: never)',
      )
        .default(D.banAfter)
        .argParser(integerIn(0, 1000)),
    )
    .addOption(
      new Option('--ban-secs <seconds>', 'how long a banned address is refused')
        .default(D.banSecs)
        .argParser(integerIn(1, 7 * 24 * 3600)),
    );
}

/** The hub options the flags against untrusted volunteers set. */
export function untrustedVolunteerOptions(
  f: UntrustedVolunteerFlags,
): Pick<
  HubOptions,
  'aggregate' | 'clipNorm' | 'trust' | 'knownAnswer' | 'spotCheck' | 'banAfter' | 'banSecs'
> {
  return {
    aggregate: f.aggregate,
    clipNorm: f.clipNorm,
    trust: f.trust,
    knownAnswer: f.knownAnswer,
    spotCheck: f.spotCheck,
    banAfter: f.banAfter,
    banSecs: f.banSecs,
  };
}

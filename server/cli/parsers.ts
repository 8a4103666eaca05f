import { InvalidArgumentError, Option } from 'commander';
import { shardSubject } from '../cluster/subjects.js';

/** commander argument parsers that reject bad values with a message naming the accepted range. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got "${value}".`);
    }
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number, got "${value}".`);
  }
  return n;
}

/** A share: a number from 0 to 1. */
export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}".`);
  }
  return n;
}

export function secondsToMs(value: string): number {
  return Math.round(positiveNumber(value) * 1000);
}

/** A flag given in seconds and kept in milliseconds; --help shows its default in seconds. */
export function secondsOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).default(defaultMs, String(defaultMs / 1000)).argParser(secondsToMs);
}

export function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value.replace(/\/+$/, '');
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError(`expected an http(s) URL such as http://127.0.0.1:8080, got "${value}".`);
}

/** A NATS server URL: nats://HOST:PORT (or tls://), as nats-server prints it. */
export function natsUrl(value: string): string {
  try {
    const url = new URL(value);
    if ((url.protocol === 'nats:' || url.protocol === 'tls:') && url.hostname !== '') return value;
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError(`expected a NATS URL such as nats://127.0.0.1:4222, got "${value}".`);
}

/** A NATS subject prefix (--subject-prefix): what the cluster's subjects accept. */
export function natsSubjectPrefix(value: string): string {
  try {
    shardSubject(value, 0);
    return value;
  } catch {
    throw new InvalidArgumentError(
      `expected dot-separated tokens of letters, digits, _ and - (no spaces or wildcards), got "${value}".`,
    );
  }
}

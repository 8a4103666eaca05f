import { InvalidArgumentError } from 'commander';

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

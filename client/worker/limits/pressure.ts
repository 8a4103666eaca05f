/** The Compute Pressure API's states, from least to most pressure. */
export type PressureState = 'nominal' | 'fair' | 'serious' | 'critical';

const PRESSURE_STATES: readonly PressureState[] = ['nominal', 'fair', 'serious', 'critical'];

/**
 * What the duty cycle is multiplied by under each state: 'serious' (the machine is throttling or near
 * it) halves it and 'critical' quarters it, so that the volunteer's own work keeps the machine first;
 * nominal and fair leave it alone. The browser already smooths the states over a few seconds.
 */
export function pressureFactor(state: PressureState | null): number {
  switch (state) {
    case 'serious':
      return 0.5;
    case 'critical':
      return 0.25;
    default:
      return 1;
  }
}

/** A PressureRecord's fields used here. */
export interface PressureRecordLike {
  readonly source: string;
  readonly state: string;
  readonly time: number;
}

/** The newest CPU state among `records` (the observer's callback may batch several), or null. */
export function latestState(records: readonly PressureRecordLike[]): PressureState | null {
  let newest: PressureRecordLike | null = null;
  for (const record of records) {
    if (record.source !== 'cpu' || !isPressureState(record.state)) continue;
    if (newest === null || record.time >= newest.time) newest = record;
  }
  return newest === null ? null : (newest.state as PressureState);
}

function isPressureState(state: string): state is PressureState {
  return (PRESSURE_STATES as readonly string[]).includes(state);
}

/** The part of PressureObserver used here (not yet in TypeScript's DOM types). */
export interface PressureObserverLike {
  observe(source: 'cpu', options?: { sampleInterval?: number }): Promise<void>;
  disconnect(): void;
}
export type PressureObserverFactory = (
  callback: (records: readonly PressureRecordLike[]) => void,
) => PressureObserverLike;

/**
 * `new PressureObserver(...)` where the browser has it (Chromium 125+, secure pages) and this document
 * may use it: a cross-origin iframe (the /embed card) needs its embedder's `allow="compute-pressure"`,
 * and asking without it only logs a policy violation.
 */
export function browserPressureObserver(): PressureObserverFactory | null {
  const policy = (document as { featurePolicy?: { allowsFeature(feature: string): boolean } }).featurePolicy;
  if (policy !== undefined && !policy.allowsFeature('compute-pressure')) return null;
  const ctor = (
    globalThis as {
      PressureObserver?: new (
        callback: (records: readonly PressureRecordLike[]) => void,
      ) => PressureObserverLike;
    }
  ).PressureObserver;
  return ctor === undefined ? null : (callback) => new ctor(callback);
}

/** How often the observer may report, ms: changes show within seconds, and cost next to nothing. */
const SAMPLE_INTERVAL_MS = 2_000;

/**
 * Calls `onState` with each new CPU pressure state. Resolves to a function that stops watching, or
 * null where the browser cannot tell (no API, no CPU source, or a policy forbids it).
 */
export async function watchPressure(
  factory: PressureObserverFactory | null,
  onState: (state: PressureState) => void,
): Promise<(() => void) | null> {
  if (factory === null) return null;
  const observer = factory((records) => {
    const state = latestState(records);
    if (state !== null) onState(state);
  });
  try {
    await observer.observe('cpu', { sampleInterval: SAMPLE_INTERVAL_MS });
  } catch {
    observer.disconnect();
    return null;
  }
  return () => observer.disconnect();
}

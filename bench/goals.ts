/** The goals of issue 8, one per figure; bench/README.md explains each. */
export const GOALS = {
  /** Transport: hub round trips/s over raw ws round trips/s, every size and operation. */
  transportRatioAtLeast: 0.9,
  /** Apply: ms per 1M-float update over ms per Float32Array.set copy of the same size. */
  applyRatioAtMost: 3,
  /** Worker overhead: examples/s through the hub over examples/s training locally. */
  workerOverheadAtLeast: 0.9,
  /** Time to accuracy: two tabs through the hub over one tab locally (wall time). */
  timeToAccuracyRatioAtMost: 0.75,
  /** Many volunteers: p99 ack latency, and no errors. */
  volunteersP99MsBelow: 100,
  /** Compression: bytes per push over float32's, and test accuracy within this many points. */
  compressionBytesRatioAtMost: 0.5,
  compressionAccuracyPointsWithin: 0.3,
} as const;

/** 'yes' / 'no', or '-' when the figure is missing. */
export function met(value: number | null | undefined, test: (v: number) => boolean): 'yes' | 'no' | '-' {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return test(value) ? 'yes' : 'no';
}

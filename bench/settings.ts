/**
 * How long and how often each phase measures, in full and in --quick mode. Full takes ~9 minutes on
 * the 2-core machine; quick stays under 5 minutes with the client build.
 */
export interface BenchSettings {
  readonly mode: 'full' | 'quick';
  readonly transport: {
    /** Repetitions; each measures hub and raw ws for both operations, alternating. */
    readonly reps: number;
    readonly secondsPerSample: number;
  };
  readonly apply: {
    readonly floats: number;
    readonly reps: number;
    /** Calls timed together per sample (a 1M-float copy takes ~0.2 ms: too short to time alone). */
    readonly callsPerSample: number;
  };
  readonly workerOverhead: {
    readonly reps: number;
    /** After the first step of an arm, before its examples are counted. */
    readonly warmupSeconds: number;
    readonly seconds: number;
  };
  readonly timeToAccuracy: {
    readonly target: number;
    readonly reps: number;
    /** Test accuracy is measured each time an arm has trained on this many more examples. */
    readonly everyExamples: number;
    /** An arm that has not reached the target by then counts as not reached. */
    readonly maxSeconds: number;
  };
  readonly volunteers: {
    readonly clients: number;
    /** Steady stage: each client pushes this often (open loop). */
    readonly pushesPerSecondPerClient: number;
    readonly steadySeconds: number;
    /** Saturated stage: every client keeps one push in flight. */
    readonly saturatedSeconds: number;
  };
  readonly compression: {
    /** Examples one Node worker trains on before the test accuracy is measured (a multiple of 640). */
    readonly examples: number;
  };
  readonly gateways: {
    /** Simulated volunteers, each keeping one push in flight; the same load for both arms. */
    readonly clients: number;
    readonly seconds: number;
    readonly reps: number;
  };
  readonly coordinatorCost: {
    /** Simulated volunteers per mode, pulling and pushing back to back: a round waits for them all. */
    readonly clients: number;
    /** Seconds per measured window, and windows per mode. */
    readonly seconds: number;
    readonly reps: number;
  };
  readonly scale: {
    /** DevTools CPU throttling rate of every tab in (b), the lone tab's too: slow laptops. */
    readonly cpuThrottle: number;
    /** (a): full-speed tabs; each repetition measures every arm once, the order alternating. */
    readonly efficiency: { readonly reps: number; readonly warmupSeconds: number; readonly seconds: number };
    /** (b): how many throttled tabs train through the hub, each behind a home link of its own. */
    readonly tabs: readonly number[];
    readonly target: number;
    readonly everyExamples: number;
    readonly maxSeconds: number;
    /** (b): runs of every arm (the lone tab, each mode with each number of tabs). */
    readonly reps: number;
  };
  readonly syncLrScaling: {
    /** Sync-mode workers of each arm. */
    readonly workers: readonly number[];
    /** Examples every arm trains on: a multiple of 64 x every count of workers. */
    readonly examples: number;
    /** Test accuracy is measured each time the hub has applied this many more examples. */
    readonly everyExamples: number;
    /** Examples to this test accuracy, held for two measurements in a row, is the second figure. */
    readonly target: number;
    readonly reps: number;
  };
  readonly dashboard: {
    /** Simulated volunteers, each pulling and pushing about 5 times a second. */
    readonly volunteers: number;
    /** After the page lists every volunteer, before the first window. */
    readonly warmupSeconds: number;
    readonly seconds: number;
    readonly windows: number;
  };
  /** Test examples behind every accuracy figure (the first N of MNIST's 10,000). */
  readonly testExamples: number;
}

export const FULL: BenchSettings = {
  mode: 'full',
  transport: { reps: 5, secondsPerSample: 1.5 },
  apply: { floats: 1_000_000, reps: 15, callsPerSample: 20 },
  workerOverhead: { reps: 5, warmupSeconds: 3, seconds: 10 },
  timeToAccuracy: { target: 0.97, reps: 3, everyExamples: 3_200, maxSeconds: 240 },
  volunteers: { clients: 500, pushesPerSecondPerClient: 2, steadySeconds: 20, saturatedSeconds: 10 },
  compression: { examples: 19_200 },
  gateways: { clients: 64, seconds: 5, reps: 3 },
  coordinatorCost: { clients: 32, seconds: 5, reps: 3 },
  // One tab at 6x reaches 0.97 in ~4 minutes here: (b) is most of the phase's ~35 minutes.
  scale: {
    cpuThrottle: 6,
    efficiency: { reps: 3, warmupSeconds: 3, seconds: 10 },
    tabs: [1, 2, 4, 8],
    target: 0.97,
    everyExamples: 3_200,
    maxSeconds: 480,
    reps: 1,
  },
  // 15 arms x 2: ~30 s each here (~1,400 examples/s with the measurements): ~15 minutes.
  syncLrScaling: { workers: [2, 4, 8], examples: 40_960, everyExamples: 5_120, target: 0.95, reps: 2 },
  dashboard: { volunteers: 50, warmupSeconds: 3, seconds: 12, windows: 3 },
  testExamples: 10_000,
};

export const QUICK: BenchSettings = {
  mode: 'quick',
  transport: { reps: 3, secondsPerSample: 0.6 },
  apply: { floats: 1_000_000, reps: 7, callsPerSample: 10 },
  workerOverhead: { reps: 2, warmupSeconds: 2, seconds: 5 },
  timeToAccuracy: { target: 0.95, reps: 1, everyExamples: 3_200, maxSeconds: 90 },
  volunteers: { clients: 500, pushesPerSecondPerClient: 2, steadySeconds: 8, saturatedSeconds: 5 },
  compression: { examples: 6_400 },
  gateways: { clients: 32, seconds: 3, reps: 1 },
  coordinatorCost: { clients: 16, seconds: 3, reps: 3 },
  scale: {
    cpuThrottle: 6,
    efficiency: { reps: 2, warmupSeconds: 2, seconds: 6 },
    tabs: [4],
    target: 0.95,
    everyExamples: 3_200,
    maxSeconds: 300,
    reps: 1,
  },
  syncLrScaling: { workers: [2, 8], examples: 10_240, everyExamples: 2_560, target: 0.9, reps: 1 },
  dashboard: { volunteers: 50, warmupSeconds: 2, seconds: 6, windows: 3 },
  testExamples: 10_000,
};

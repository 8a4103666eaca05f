import { GradientWorker } from '../shared/GradientWorker.js';
import { HubClient, type HubClientOptions } from '../shared/HubClient.js';
import type { HubOptions } from '../server/options.js';
import { startBenchHub, using } from './hubs.js';
import { LinkRelay } from './LinkRelay.js';
import type { Log } from './log.js';
import type { CompressionResult, CompressionRow } from './results.js';
import { withSeededMathRandom } from '../server/testing/seededInit.js';
import type { BenchSettings } from './settings.js';
import { ratio } from './stats.js';

/** One way of sending gradients. The first scheme is the baseline the others are compared with. */
export interface CompressionScheme {
  readonly name: string;
  /**
   * What turns the scheme on: hub options (e.g. `{ compress: 'fp16' }`) and, if the client needs to
   * be told too, HubClient options. Null while the hub has no such scheme.
   */
  readonly setup: { readonly hub: Partial<HubOptions>; readonly client?: Partial<HubClientOptions> } | null;
  /** Why `setup` is null. */
  readonly missing?: string;
}

/**
 * The schemes measured. To add one that the hub implements, give it a `setup`; the table and the
 * JSON pick it up as a column/row of their own.
 */
export const COMPRESSION_SCHEMES: readonly CompressionScheme[] = [
  { name: 'float32', setup: { hub: {} } },
  { name: 'fp16', setup: { hub: { compress: 'fp16' } } },
];

/** Seeds the hub's initial weights, so that every scheme starts from the same ones. */
const INIT_SEED = 8;

/**
 * Bytes per push and test accuracy after a fixed number of examples, per scheme. One headless Node
 * worker (shared/GradientWorker, TF.js wasm: the same loop as a tab) trains cnn through a hub in this
 * process, from the same initial weights and on the same examples in the same order each time, so
 * the schemes differ only in how gradients travel. Its connection goes through a byte-counting relay (no link): the
 * bytes are everything the worker sent (frames, headers, pulls, leases) over the pushes accepted.
 */
export async function measureCompression(settings: BenchSettings, log: Log): Promise<CompressionResult> {
  const { examples } = settings.compression;
  const measured: {
    scheme: CompressionScheme;
    params: number;
    wireBytesPerPush: number;
    accuracy: number;
  }[] = [];
  for (const scheme of COMPRESSION_SCHEMES) {
    if (scheme.setup === null) continue;
    const figures = await trainFixed(scheme.setup, examples, settings.testExamples);
    log(
      `  ${scheme.name}: ${figures.wireBytesPerPush.toFixed(0)} B/push, test accuracy ${figures.accuracy.toFixed(4)} after ${examples} examples`,
    );
    measured.push({ scheme, ...figures });
  }
  const baseline = measured.find((m) => m.scheme === COMPRESSION_SCHEMES[0]) ?? null;
  const float32GradientBytes = (measured[0]?.params ?? NaN) * 4;
  const rows: CompressionRow[] = COMPRESSION_SCHEMES.map((scheme) => {
    const m = measured.find((x) => x.scheme === scheme);
    if (m === undefined) {
      return {
        scheme: scheme.name,
        implemented: false,
        wireBytesPerPush: null,
        float32GradientBytes,
        testAccuracy: null,
        bytesRatio: null,
        accuracyDeltaPoints: null,
        note: scheme.missing,
      };
    }
    return {
      scheme: scheme.name,
      implemented: true,
      wireBytesPerPush: m.wireBytesPerPush,
      float32GradientBytes,
      testAccuracy: m.accuracy,
      bytesRatio: baseline ? ratio(m.wireBytesPerPush, baseline.wireBytesPerPush) : null,
      accuracyDeltaPoints: baseline ? (m.accuracy - baseline.accuracy) * 100 : null,
    };
  });
  return { model: 'cnn', examples, testExamples: settings.testExamples, rows };
}

async function trainFixed(
  setup: NonNullable<CompressionScheme['setup']>,
  examples: number,
  testExamples: number,
): Promise<{ params: number; wireBytesPerPush: number; accuracy: number }> {
  const hubStarting = withSeededMathRandom(INIT_SEED, () =>
    startBenchHub({ model: 'cnn', evalExamples: testExamples, ...setup.hub }),
  );
  return using(hubStarting, async (hub) => {
    return using(LinkRelay.start(hub.url), async (counter) => {
      const client = await HubClient.connect({
        url: counter.url,
        backend: 'wasm',
        device: 'bench (Node)',
        ...setup.client,
      });
      let steps: number;
      try {
        const batchSize = hub.hub.options.batchSize;
        const worker = new GradientWorker({ client, batchSize, maxSteps: Math.ceil(examples / batchSize) });
        steps = (await worker.run()).steps;
      } finally {
        client.close();
      }
      const seen = hub.hub.coordinator.status().examplesSeen;
      if (seen !== examples) throw new Error(`the hub applied ${seen} examples, expected ${examples}`);
      const evaluation = await hub.hub.evaluateNow();
      return {
        params: hub.hub.layout.totalLength,
        wireBytesPerPush: counter.traffic().up / steps,
        accuracy: evaluation.accuracy,
      };
    });
  });
}

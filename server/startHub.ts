import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SAMPLE_DIGIT_COUNT } from '../shared/dashboardProtocol.js';
import { createHub, type Hub } from './createHub.js';
import { loadMnist } from './data/mnist.js';
import { Evaluator } from './evaluation/Evaluator.js';
import type { HubOptions } from './options.js';
import { initNodeTf } from './tf/initNodeTf.js';

export interface RunningHub {
  readonly hub: Hub;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log?: (line: string) => void;
}

/** Everything `npm start` runs, on one HTTP server: data, evaluator thread, hub, listening socket. */
export async function startHub(options: HubOptions, listen: ListenOptions): Promise<RunningHub> {
  const log = listen.log ?? (() => undefined);
  await initNodeTf();
  const mnist = await loadMnist();
  const evaluator = await Evaluator.start({
    model: options.model,
    testSubset: options.evalExamples,
    sampleCount: SAMPLE_DIGIT_COUNT,
  });
  const http = createServer();
  let hub: Hub;
  try {
    hub = await createHub({
      http,
      options,
      deps: {
        mnist,
        evaluate: (weights) => evaluator.evaluate(weights),
        log,
        logError: (message, error) => console.error(`hub: ${message}:`, error),
      },
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(listen.port, listen.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await evaluator.close();
    http.close();
    throw error;
  }
  const { port } = http.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    hub,
    url: `http://${host}:${port}`,
    port,
    async close() {
      await hub.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await evaluator.close();
    },
  };
}

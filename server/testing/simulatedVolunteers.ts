import { HubClient, HubRequestError } from '../../shared/HubClient.js';
import { testGradient } from './testHub.js';

/** A crowd of simulated volunteers pushing: what it did so far, and its stop. */
export interface SimulatedVolunteers {
  /** Pushes accepted. */
  pushes(): number;
  /** Pushes the hub refused by name (HubRequestError). */
  refused(): number;
  /** The first error that was not a named refusal (it ended that volunteer's loop); undefined if none. */
  failure(): unknown;
  /** Ends every loop and closes the connections. */
  stop(): Promise<void>;
}

/**
 * `count` simulated volunteers over real sockets (backend `simulated`, device `${label} #i`), each
 * pulling and pushing a small random gradient about 5 times a second: 250 pushes/s for 50, busy but
 * far below a hub's limits. The load of the dashboard spec (e2e/dashboard.spec.ts) and of the
 * benchmark's dashboard figure (bench/dashboard.ts).
 */
export async function simulateVolunteers(
  url: string,
  count: number,
  label: string,
): Promise<SimulatedVolunteers> {
  const clients = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      HubClient.connect({ url, backend: 'simulated', device: `${label} #${i + 1}`, ackTimeoutMs: 20_000 }),
    ),
  );
  let running = true;
  let pushes = 0;
  let refused = 0;
  let failure: unknown = undefined;
  const loops = clients.map(async (client, i) => {
    const gradient = testGradient(client.config.params, i + 1).map((v) => v * 1e-3);
    while (running) {
      try {
        const { versions } = await client.pull();
        await client.push({ versions, examples: 64, loss: 2.3 / (1 + pushes / 500), gradient });
        pushes++;
      } catch (error) {
        if (!running) return;
        if (!(error instanceof HubRequestError)) {
          failure ??= error;
          return;
        }
        refused++;
      }
      // Spread over 150-240 ms, so that the pushes do not arrive in lockstep.
      await new Promise((resolve) => setTimeout(resolve, 150 + (i % 10) * 10));
    }
  });
  return {
    pushes: () => pushes,
    refused: () => refused,
    failure: () => failure,
    async stop() {
      running = false;
      await Promise.allSettled(loops);
      for (const client of clients) client.close();
    },
  };
}

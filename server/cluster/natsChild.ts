import { startNatsServer } from './natsServer.js';

/**
 * `node --import tsx server/cluster/natsChild.ts <store-dir>`: the local cluster's nats-server, started
 * by startNatsServer() as the tests start theirs (found by findNatsServer(), limits raised, JetStream
 * storing in <store-dir> so that a restarted cluster keeps it), from a process of its own. The cluster
 * starts this detached, so the nats-server it spawns shares its process group and a Ctrl-C in the
 * terminal does not stop NATS before the coordinator and shards have written their last state.
 * Prints its URL; stops the server on SIGTERM or SIGINT.
 */
const storeDir = process.argv[2];
if (storeDir === undefined) {
  console.error('nats: usage: natsChild.ts <jetstream-store-dir>');
  process.exit(2);
}
try {
  const server = await startNatsServer({ storeDir });
  console.log(
    `nats: serving ${server.url} (max_payload ${server.maxPayloadBytes / 2 ** 20} MB, JetStream in ${storeDir})`,
  );
  const stop = (signal: string): void => {
    console.log(`nats: ${signal}, stopping nats-server`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('nats: stopping failed:', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  console.error(`nats: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

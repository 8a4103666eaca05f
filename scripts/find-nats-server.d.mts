/** Types for find-nats-server.mjs (imported by server/cluster/natsServer.ts). */
export type NatsServerLookup = { path: string; source: string } | { path: null; problem: string };
export function findNatsServer(env?: NodeJS.ProcessEnv): NatsServerLookup;
export const HOW_TO_GET_ONE: string;

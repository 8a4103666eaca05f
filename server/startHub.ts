import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SAMPLE_DIGIT_COUNT } from '../shared/dashboardProtocol.js';
import { createHub, type Hub } from './createHub.js';
import { loadMnist } from './data/mnist.js';
import { NEW_EVALUATOR_PER_HUB, type EvaluatorSource } from './evaluation/Evaluator.js';
import { generateAdminToken } from './http/adminAuth.js';
import type { HubOptions } from './options.js';
import type { ShardRef } from './actors/ShardRef.js';
import { checkCompatible, CheckpointMismatchError, type RunCheckpoint } from './checkpoints/runCheckpoint.js';
import {
  Checkpointer,
  planResume,
  type CheckpointOptions,
  type WrittenCheckpoint,
} from './checkpoints/Checkpointer.js';
import { restoredSettings } from './checkpoints/resumeRule.js';
import { initNodeTf } from './tf/initNodeTf.js';

export interface RunningHub {
  readonly hub: Hub;
  /** Needed by every action that changes the run (HTTP /api/admin/*). */
  readonly adminToken: string;
  /** Writes a checkpoint now; undefined when the hub runs without checkpoints. */
  readonly checkpointNow?: () => Promise<WrittenCheckpoint>;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A hub on shard processes (`--role coordinator`). */
export interface RemoteRun {
  /** One per shard range, in index order (connectRemoteShards). */
  readonly shards: readonly ShardRef[];
  /**
   * The run's state as another coordinator of it left it (the coordinators' bucket on NATS,
   * server/cluster/coordinatorBucket.ts): resumed instead of the newest checkpoint on disk when newer.
   */
  readonly resume?: { readonly checkpoint: RunCheckpoint; readonly from: string };
  /** Appended to worker ids (CoordinatorOptions.workerIdSuffix). */
  readonly workerIdSuffix?: string;
}

export interface ListenOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log?: (line: string) => void;
  /** The token admin actions need; generated when absent. */
  readonly adminToken?: string;
  /** Where the evaluation thread comes from; default NEW_EVALUATOR_PER_HUB. */
  readonly evaluators?: EvaluatorSource;
}

/**
 * Everything `npm start` runs, on one HTTP server: data, evaluator thread, hub, listening socket,
 * and (with `checkpoints`) resuming from the newest valid checkpoint and writing new ones. With
 * `remoteShards` (`--role coordinator`) the hub runs on shard processes, and its checkpoints hold the
 * coordinator's state only.
 */
export async function startHub(
  flags: HubOptions,
  listen: ListenOptions,
  checkpoints?: CheckpointOptions,
  remote?: RemoteRun,
): Promise<RunningHub> {
  const log = listen.log ?? (() => undefined);
  const remoteShards = remote?.shards;
  await initNodeTf();
  const mnist = await loadMnist();
  const plan = checkpoints ? await planResume(checkpoints, flags) : null;
  for (const { file, reason } of plan?.skipped ?? []) {
    log(`hub: checkpoint ${file} is damaged (${reason}); using the one before it`);
  }
  let resume = plan?.checkpoint ?? undefined;
  let resumedFrom = plan?.file ?? '';
  if (resume) checkShardsKept(resume, remoteShards !== undefined, resumedFrom);
  const shared = remote?.resume;
  if (shared && (!resume || shared.checkpoint.savedAt >= resume.savedAt)) {
    checkCompatible(shared.checkpoint.config, flags, shared.from);
    resume = shared.checkpoint;
    resumedFrom = shared.from;
  }
  if (resume) {
    const accuracy = resume.evaluation ? `test accuracy ${resume.evaluation.accuracy.toFixed(4)}, ` : '';
    const age = ((Date.now() - resume.savedAt) / 1000).toFixed(0);
    log(
      `hub: resumed from ${resumedFrom}: step ${resume.coordinator.globalStep}, ${accuracy}saved ${age} s ago`,
    );
  }
  const { settings: options, overridden } = restoredSettings(resume?.config, flags);
  if (overridden.length > 0) {
    log(`hub: the checkpoint restores what the operator changed during the run: ${overridden.join('; ')}`);
  }
  let checkpointer: Checkpointer | null = null;
  const adminToken = listen.adminToken ?? generateAdminToken();
  const evaluators = listen.evaluators ?? NEW_EVALUATOR_PER_HUB;
  const evaluator = await evaluators.acquire({
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
      resume,
      deps: {
        mnist,
        evaluate: (weights) => evaluator.evaluate(weights),
        compute: evaluator,
        log,
        logError: (message, error) => console.error(`hub: ${message}:`, error),
        checkpointNow: checkpoints ? () => checkpointer!.writeNow() : undefined,
        adminToken,
        remoteShards,
        workerIdSuffix: remote?.workerIdSuffix,
      },
    });
    const running = hub;
    if (checkpoints) {
      checkpointer = new Checkpointer(
        checkpoints,
        () => running.checkpoint(),
        () => running.coordinator.status().globalStep,
        log,
        resume?.coordinator.globalStep ?? null,
      );
    }
    if (resume && !remoteShards) {
      // Measure the restored weights before any worker can change them: proof that what was
      // loaded is what was saved.
      const check = await running.evaluateNow();
      const saved = resume.evaluation ? ` (saved: ${resume.evaluation.accuracy.toFixed(4)})` : '';
      log(`hub: restored weights re-measured: test accuracy ${check.accuracy.toFixed(4)}${saved}`);
    }
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(listen.port, listen.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await evaluators.release(evaluator);
    http.close();
    throw error;
  }
  const { port } = http.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    hub,
    url: `http://${host}:${port}`,
    port,
    adminToken,
    checkpointNow: checkpointer ? () => checkpointer!.writeNow() : undefined,
    async close() {
      // Intake stops first, so that the last checkpoint (written while the evaluator still runs)
      // holds every push acknowledged; a push arriving meanwhile is refused, not lost.
      await hub.stopIntake();
      await checkpointer?.close();
      await hub.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await evaluators.release(evaluator);
    },
  };
}

/**
 * A run checkpoint holds the shards' weights only when the hub owns its shards. An embedded hub must
 * not resume a coordinator's checkpoint (it would start the shards from fresh weights under the saved
 * counters), nor a coordinator an embedded hub's (its shard processes resume from their own files).
 */
function checkShardsKept(resume: RunCheckpoint, remote: boolean, file: string): void {
  const savedByCoordinator = resume.shards.length === 0;
  if (savedByCoordinator === remote) return;
  throw new CheckpointMismatchError(
    savedByCoordinator
      ? `checkpoint ${file} was saved by a coordinator (--role coordinator): the weights are in its shard ` +
          `processes' own checkpoints (<checkpoint-dir>/shard-<i>/), not in it. Resume it with --role ` +
          `coordinator, or start with --fresh (or another --checkpoint-dir).`
      : `checkpoint ${file} was saved by an embedded hub and holds its shards' weights, which shard ` +
          `processes do not read (they resume from <checkpoint-dir>/shard-<i>/). Start the coordinator with ` +
          `--fresh or another --checkpoint-dir.`,
  );
}

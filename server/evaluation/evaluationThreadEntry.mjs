// Entry of the evaluation thread. Node 20 does not pass tsx's module hooks on to worker threads
// (neither inherited from `tsx server/main.ts` nor via `execArgv: ['--import', 'tsx']`: both fail with
// ERR_UNKNOWN_FILE_EXTENSION), so this plain-JS file registers tsx inside the thread, then loads the
// TypeScript thread. Works the same under tsx and vitest. The built hub (dist/) does not use it: its
// Evaluator starts the thread's built JavaScript directly.
import { register } from 'tsx/esm/api';

register();
await import('./evaluationThread.ts');

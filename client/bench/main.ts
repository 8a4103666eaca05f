import { isModelName } from '../../shared/models.js';
import { backendChoiceFromQuery, messageOf } from '../worker/backends.js';
import type { LocalTrainerApi } from './benchApi.js';
import { LocalTrainer, type LocalTrainerOptions } from './LocalTrainer.js';

const statusLine = document.getElementById('status') as HTMLElement;

/** The run settings from the address (`npm run bench` sets them to the hub's). */
function optionsFromQuery(search: string): LocalTrainerOptions {
  const query = new URLSearchParams(search);
  const model = query.get('model') ?? 'cnn';
  if (!isModelName(model)) throw new Error(`unknown model "${model}"`);
  const optimizer = query.get('optimizer') ?? 'adam';
  if (optimizer !== 'sgd' && optimizer !== 'momentum' && optimizer !== 'adam') {
    throw new Error(`unknown optimizer "${optimizer}"`);
  }
  const positive = (name: string, fallback: number): number => {
    const value = Number(query.get(name) ?? fallback);
    if (!(value > 0)) throw new Error(`${name} must be a positive number`);
    return value;
  };
  return {
    choice: backendChoiceFromQuery(search),
    model,
    optimizer,
    batchSize: Math.round(positive('batch', 64)),
    learningRate: positive('lr', 0.001),
    unitSize: Math.round(positive('unit', 640)),
    seed: Math.round(positive('seed', 1)),
  };
}

try {
  const trainer = new LocalTrainer(optionsFromQuery(window.location.search));
  trainer.onChange((view) => {
    statusLine.textContent = `${view.phase} on ${view.backendDetail ?? '(choosing)'}: ${view.steps} steps, ${view.examples} examples`;
  });
  const api: LocalTrainerApi = {
    status: () => trainer.status(),
    start: (options) => trainer.start(options?.fresh ?? false),
    pause: () => trainer.pause(),
    snapshot: () => trainer.snapshot(),
  };
  window.__bench = api;
  void trainer.prepare();
} catch (error) {
  statusLine.textContent = `This page cannot train: ${messageOf(error)}`;
}

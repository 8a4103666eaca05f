import { Command, Option } from 'commander';
import { readNewest } from '../checkpoints/Checkpointer.js';
import { initNodeTf } from '../tf/initNodeTf.js';
import { layersModelArtifacts } from './layersModelArtifacts.js';
import { writeModelFiles } from './writeModelFiles.js';

const program = new Command('npm run export --')
  .description('Writes the newest checkpoint as a TF.js LayersModel (model.json + weights.bin).')
  .addOption(new Option('--out <dir>', 'folder to write the model to').makeOptionMandatory())
  .addOption(
    new Option('--checkpoint-dir <dir>', 'where the hub writes its checkpoints').default('./checkpoints'),
  )
  .showHelpAfterError('(run with --help for every flag)');
program.parse();
const { out, checkpointDir } = program.opts<{ out: string; checkpointDir: string }>();

try {
  const { checkpoint, skipped } = await readNewest(checkpointDir);
  for (const { file, reason } of skipped) console.error(`export: skipping ${file}: ${reason}`);
  if (!checkpoint) {
    console.error(
      `export: no valid checkpoint in ${checkpointDir}; run the hub (npm start) first, or name --checkpoint-dir`,
    );
    process.exit(1);
  }
  const run = checkpoint.value;
  const weights = new Float32Array(run.shards.reduce((n, s) => n + s.weights.length, 0));
  for (const shard of run.shards) weights.set(shard.weights, shard.offset);
  await initNodeTf();
  const files = await writeModelFiles(out, await layersModelArtifacts(run.config.model, weights));
  const accuracy = run.evaluation ? `, test accuracy ${run.evaluation.accuracy.toFixed(4)}` : '';
  console.log(
    `export: ${run.config.model} at step ${run.coordinator.globalStep}${accuracy} from ${checkpoint.file} -> ${files.modelJson}`,
  );
} catch (error) {
  console.error('export: failed:', error instanceof Error ? error.message : error);
  process.exit(1);
}

import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import { encodeExamples } from '../../shared/examplesCodec.js';
import { IMAGE_PIXELS } from '../../shared/models.js';
import { EXAMPLES_PATH } from '../../shared/protocol.js';
import { VOLUNTEERS_PATH } from '../../shared/volunteerStanding.js';
import type { MnistSplit } from '../data/mnist.js';
import { securityHeaders } from './securityHeaders.js';
import { MODEL_JSON_FILE, WEIGHTS_FILE, type LayersModelArtifacts } from '../export/layersModelArtifacts.js';

export interface HttpDeps {
  readonly status: () => Promise<object>;
  /** Every volunteer's credit, best first (VolunteerCredit). */
  readonly volunteers: () => Promise<readonly object[]>;
  readonly metrics: Registry;
  readonly train: MnistSplit;
  /** Largest number of examples one request may ask for. */
  readonly maxExamplesPerRequest: number;
  /** The current weights as a TF.js LayersModel (model.json + weights.bin). */
  readonly modelArtifacts: () => Promise<LayersModelArtifacts>;
}

/** The hub's HTTP side: run status as JSON, Prometheus metrics, and training examples as binary. */
export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders());

  app.get('/api/status', async (_req, res) => {
    res.json(await deps.status());
  });

  app.get(VOLUNTEERS_PATH, async (_req, res) => {
    res.json(await deps.volunteers());
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  // A standard TF.js LayersModel: tf.loadLayersModel('<hub>/api/model/model.json') loads it.
  app.get(`/api/model/${MODEL_JSON_FILE}`, async (_req, res) => {
    res.json((await deps.modelArtifacts()).modelJson);
  });
  app.get(`/api/model/${WEIGHTS_FILE}`, async (_req, res) => {
    const { weightsBin } = await deps.modelArtifacts();
    res
      .type('application/octet-stream')
      .send(Buffer.from(weightsBin.buffer, weightsBin.byteOffset, weightsBin.byteLength));
  });

  app.get(EXAMPLES_PATH, (req, res) => {
    const start = Number(req.query.start);
    const count = Number(req.query.count);
    const total = deps.train.count;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1) {
      res
        .status(400)
        .json({ code: 'INVALID_MESSAGE', message: 'start and count must be integers, count >= 1' });
      return;
    }
    if (count > deps.maxExamplesPerRequest || start + count > total) {
      res.status(400).json({
        code: 'INVALID_MESSAGE',
        message: `ask for at most ${deps.maxExamplesPerRequest} examples within [0, ${total})`,
      });
      return;
    }
    const body = encodeExamples(
      deps.train.images.subarray(start * IMAGE_PIXELS, (start + count) * IMAGE_PIXELS),
      deps.train.labels.subarray(start, start + count),
    );
    res.type('application/octet-stream').send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });

  return app;
}

import type { Examples } from '../../shared/examplesCodec.js';
import { IMAGE_PIXELS } from '../../shared/models.js';
import type { MnistSplit } from '../data/mnist.js';

/**
 * Training examples [start, start + count) as a batch of their own. Copied, not viewed: a view
 * posted to the evaluation thread would clone the whole split's buffer with it.
 */
export function trainingExamples(train: MnistSplit, start: number, count: number): Examples {
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count > 0)) {
    throw new RangeError(`examples [${start}, ${start + count}) are not a range of training examples`);
  }
  if (start + count > train.count) {
    throw new RangeError(
      `examples [${start}, ${start + count}) run past the ${train.count} training examples`,
    );
  }
  return {
    count,
    images: train.images.slice(start * IMAGE_PIXELS, (start + count) * IMAGE_PIXELS),
    labels: train.labels.slice(start, start + count),
  };
}

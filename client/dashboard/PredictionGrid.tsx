import { memo } from 'react';
import type { Samples } from './DashboardStore.js';
import { GreyImage } from './GreyImage.js';
import { Panel } from './Panel.js';

interface PredictionGridProps {
  readonly samples: Samples | null;
  /** Predicted class of each sample at the last evaluation; null before the first one. */
  readonly predictions: readonly number[] | null;
}

/** The fixed sample test digits with the model's current guess; wrong guesses are marked. */
export const PredictionGrid = memo(function PredictionGrid({ samples, predictions }: PredictionGridProps) {
  const ready = samples !== null && predictions !== null;
  const wrong = samples && predictions ? predictions.filter((p, i) => p !== samples.labels[i]).length : 0;
  const count = samples?.images.length ?? 0;
  return (
    <Panel
      id="predictions"
      title="Predictions on sample test digits"
      note={
        predictions
          ? `${count - wrong} of ${count} right at the last evaluation; wrong ones are outlined in red, with the true label.`
          : `The first ${count || 32} test digits; the model's guesses appear after the first evaluation.`
      }
      ready={ready}
      span="wide"
    >
      <div className="image-grid digits" data-testid="prediction-grid">
        {samples?.images.map((pixels, i) => {
          const label = samples.labels[i];
          const guess = predictions?.[i] ?? null;
          const isWrong = guess !== null && guess !== label;
          const state = guess === null ? 'pending' : isWrong ? 'wrong' : 'right';
          return (
            <figure key={i} className={`digit ${state}`} data-state={state}>
              <GreyImage
                pixels={pixels}
                width={samples.width}
                height={samples.height}
                scale={2}
                label={`test digit ${i + 1}, a ${label}`}
              />
              <figcaption>
                {guess === null ? <span className="pending">?</span> : <b>{guess}</b>}
                {isWrong ? <span className="truth"> not {label}</span> : null}
              </figcaption>
            </figure>
          );
        })}
      </div>
    </Panel>
  );
});

import { memo, type ReactNode } from 'react';
import type { DashboardUpdate, RunInfo } from '../../shared/dashboardProtocol.js';
import {
  formatClock,
  formatConstant,
  formatDecimal,
  formatInteger,
  formatPercent,
  formatRate,
} from './format.js';
import { describeMode, describeModeFully } from './modeDetail.js';

interface RunSummaryProps {
  readonly run: RunInfo;
  readonly latest: DashboardUpdate | null;
}

/** The run at a glance: configuration on the left, live figures on the right. */
export const RunSummary = memo(function RunSummary({ run, latest }: RunSummaryProps) {
  const epochs = latest?.run.epoch ?? 0;
  const epochIndex = Math.floor(epochs) + 1;
  const epochProgress = epochs - Math.floor(epochs);
  const testLoss = latest?.run.testLoss ?? null;
  const trainLoss = latest?.run.trainLoss ?? null;
  return (
    <section
      className="summary"
      aria-label="Run summary"
      data-panel="summary"
      data-ready={latest ? 'true' : 'false'}
    >
      <dl>
        <Figure
          label="Mode"
          value={run.mode}
          detail={describeMode(run)}
          title={describeModeFully(run)}
          testId="mode"
        />
        <Figure label="Model" value={run.model} detail={`${formatInteger(run.params)} parameters`} />
        <Figure label="Shards" value={String(run.shardCount)} detail={`batch ${run.batchSize}`} />
        <Figure
          label="Optimizer"
          value={run.optimizer}
          // Local mode: this is each worker's inner optimizer; the outer one is under the mode.
          detail={`${run.mode === 'local' ? 'inner, ' : ''}learning rate ${formatConstant(run.learningRate)}`}
        />
        <Figure
          label="Global step"
          value={latest ? formatInteger(latest.run.globalStep) : '-'}
          detail={latest ? `${formatInteger(latest.run.examplesSeen)} examples` : undefined}
          testId="global-step"
        />
        <Figure
          label="Epoch"
          value={String(epochIndex)}
          detail={`${(epochProgress * 100).toFixed(0)} % through`}
        >
          <progress max={1} value={epochProgress} aria-label="progress through the epoch" />
        </Figure>
        <Figure
          label="Elapsed"
          value={latest ? formatClock(latest.point.t) : '-'}
          detail="since the run started"
          testId="elapsed"
        />
        <Figure
          label="Examples/s"
          value={latest ? formatRate(latest.point.examplesPerSec) : '-'}
          detail={latest ? `${formatRate(latest.point.pushesPerSec)} pushes/s` : undefined}
        />
        <Figure
          label="Test accuracy"
          value={formatPercent(latest?.run.testAccuracy ?? null)}
          detail={testLoss !== null ? `test loss ${formatDecimal(testLoss)}` : 'not measured yet'}
          testId="test-accuracy"
          highlight
        />
        <Figure
          label="Workers"
          value={latest ? String(latest.workers.length) : '-'}
          detail={trainLoss !== null ? `train loss ${formatDecimal(trainLoss)}` : undefined}
          testId="worker-count"
        />
      </dl>
    </section>
  );
});

function Figure(props: {
  label: string;
  value: string;
  detail?: string;
  testId?: string;
  /** Shown on hover: what the short detail leaves out. */
  title?: string;
  highlight?: boolean;
  children?: ReactNode;
}) {
  return (
    <div className={props.highlight ? 'figure highlight' : 'figure'} title={props.title}>
      <dt>{props.label}</dt>
      <dd data-testid={props.testId}>
        <span className="value">{props.value}</span>
        {props.detail ? <span className="detail">{props.detail}</span> : null}
        {props.children}
      </dd>
    </div>
  );
}

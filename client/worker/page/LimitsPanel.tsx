import { useSyncExternalStore } from 'react';
import type { Limits, LimitsView } from '../limits/Limits.js';
import { requestIdlePermission } from '../limits/presenceEnvironment.js';
import { applyLimits } from './applyLimits.js';
import { CpuControl } from './CpuControl.js';

const BATTERY_LEVELS = [10, 20, 30, 50] as const;

/**
 * The volunteer's limits: how much of the machine, and when to stop. Remembered in this browser.
 * `measured`: the duty cycle's share as measured (the page re-renders it at each step).
 */
export function LimitsPanel({ limits, measured }: { limits: Limits; measured: number | null }) {
  const view = useSyncExternalStore(limits.subscribe, limits.getSnapshot);
  const { settings } = view;
  return (
    <section className="card limits" data-testid="limits">
      <h2>Limits</h2>
      <p className="note">
        Remembered in this browser. A link can set them too: ?cpu=25&amp;battery=off&amp;idle=on.
      </p>
      <CpuControl cpu={settings.cpu} onChange={(cpu) => applyLimits(limits, { cpu })} />
      <p className="note" data-testid="share">
        {shareLine(view)}
        {measured !== null ? `; measured over the last seconds: ${Math.round(measured * 100)}%` : ''}
      </p>
      <label className="row">
        <span>Pause on battery below</span>
        <select
          data-testid="battery"
          value={settings.batteryBelow ?? 'off'}
          onChange={(event) =>
            applyLimits(limits, {
              batteryBelow: event.target.value === 'off' ? null : Number(event.target.value),
            })
          }
        >
          <option value="off">never</option>
          {BATTERY_LEVELS.map((level) => (
            <option key={level} value={level}>
              {level}%
            </option>
          ))}
        </select>
        <span className="note">{batteryLine(view)}</span>
      </label>
      <label className="row check">
        <input
          type="checkbox"
          data-testid="only-when-away"
          checked={settings.onlyWhenAway}
          onChange={(event) => setOnlyWhenAway(limits, event.target.checked)}
        />
        <span>Only while I&apos;m not using the computer</span>
        {view.presence ? <span className="note">{presenceLine(view)}</span> : null}
      </label>
      <label className="row check">
        <input
          type="checkbox"
          data-testid="pressure"
          checked={settings.pressureBackoff}
          onChange={(event) => applyLimits(limits, { pressureBackoff: event.target.checked })}
        />
        <span>Slow down when the computer is under strain</span>
        <span className="note">{pressureLine(view)}</span>
      </label>
      {view.problems.map((problem) => (
        <p key={problem} className="error">
          {problem}
        </p>
      ))}
    </section>
  );
}

/**
 * Turning it on asks for the Idle Detection permission, in the click's handler (the API wants its
 * gesture); meanwhile the page goes by visibility, and switches to idle detection once granted.
 */
function setOnlyWhenAway(limits: Limits, on: boolean): void {
  const asking = on ? requestIdlePermission() : null;
  applyLimits(limits, { onlyWhenAway: on });
  void asking?.then((granted) => {
    if (granted) limits.refreshPresence();
  });
}

function shareLine(view: LimitsView): string {
  const percent = Math.round(view.share * 100);
  if (percent >= 100) return 'Trains without resting';
  const backedOff =
    percent < view.settings.cpu ? ` (${view.settings.cpu}%, slowed down: the computer is busy)` : '';
  return `Trains about ${percent}% of the time, resting in between${backedOff}`;
}

function batteryLine(view: LimitsView): string {
  if (view.battery === null) return 'this browser does not report its battery';
  const percent = Math.round(view.battery.level * 100);
  return `now ${percent}%, ${view.battery.charging ? 'charging' : 'on battery'}`;
}

function presenceLine(view: LimitsView): string {
  return view.presence === 'idle-detector'
    ? 'goes by idle detection: a minute without input, or the screen locked'
    : 'goes by this tab: it trains while the tab is hidden (idle detection not permitted here)';
}

function pressureLine(view: LimitsView): string {
  if (!view.pressureSupported) return 'this browser does not report CPU pressure';
  return view.pressure === null ? 'no pressure reported yet' : `CPU pressure now: ${view.pressure}`;
}

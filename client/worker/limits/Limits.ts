import { BatteryRule, watchBattery, type BatteryReading, type GetBattery } from './battery.js';
import { presenceHold, watchPresence, type Presence, type PresenceEnvironment } from './presence.js';
import {
  pressureFactor,
  watchPressure,
  type PressureObserverFactory,
  type PressureState,
} from './pressure.js';
import { rememberLimits, type LimitSettings } from './settings.js';

/** Where the limits read the machine's state: the browser (limitsEnvironment.ts) or a test's fakes. */
export interface LimitsEnvironment {
  readonly getBattery: GetBattery | null;
  readonly pressure: PressureObserverFactory | null;
  readonly presence: PresenceEnvironment;
  readonly storage: Pick<Storage, 'setItem'> | null;
}

/** What the page shows of the limits; plain data. */
export interface LimitsView {
  readonly settings: LimitSettings;
  /** The share of time the tab may compute now, 0..1: cpu, after any pressure backoff. */
  readonly share: number;
  /** Why the tab must not train now ("on battery at 15%"); null when it may. */
  readonly hold: string | null;
  /** The battery's last reading; null where the browser tells nothing (or not yet). */
  readonly battery: BatteryReading | null;
  /** The last CPU pressure state; null where the browser tells nothing (or not yet). */
  readonly pressure: PressureState | null;
  /** False once it is known that this browser reports no pressure. */
  readonly pressureSupported: boolean;
  /** What "only while away" goes by while it is on; null while it is off. */
  readonly presence: Presence['source'] | null;
  /** URL parameters that could not be read. */
  readonly problems: readonly string[];
}

/**
 * The volunteer's limits, live: keeps the settings (and remembers the ones changed on the page),
 * watches the battery, the CPU pressure and the person's presence, and says what follows from them:
 * the duty cycle's share (for the pacer) and whether the tab must stop (for BrowserWorker.hold).
 */
export class Limits {
  private readonly env: LimitsEnvironment;
  private current: LimitsView;
  private battery: BatteryRule;
  private presence: Presence | null = null;
  private stopPresence: (() => void) | null = null;
  /** Counts presence watchers started, so that a slow start that was overtaken stops itself. */
  private presenceGeneration = 0;
  private readonly stops: (() => void)[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(env: LimitsEnvironment, settings: LimitSettings, problems: readonly string[] = []) {
    this.env = env;
    this.battery = new BatteryRule(settings.batteryBelow);
    this.current = {
      settings,
      share: settings.cpu / 100,
      hold: null,
      battery: null,
      pressure: null,
      pressureSupported: true,
      presence: null,
      problems,
    };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): LimitsView => this.current;

  /** The duty cycle's share now (DutyPacer reads it before each rest). */
  readonly share = (): number => this.current.share;

  /** Starts watching the machine. Resolves once every watcher has started (or found nothing). */
  async start(): Promise<void> {
    const battery = watchBattery(this.env.getBattery, (reading) => this.recompute({ battery: reading }));
    const pressure = watchPressure(this.env.pressure, (state) => this.recompute({ pressure: state }));
    const [stopBattery, stopPressure] = await Promise.all([battery, pressure]);
    if (stopBattery) this.stops.push(stopBattery);
    if (stopPressure) this.stops.push(stopPressure);
    else this.recompute({ pressureSupported: false });
    await this.followPresence();
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.presenceGeneration++;
    this.stopPresence?.();
    this.stopPresence = null;
  }

  /** The volunteer changed limits on the page: apply and remember them. */
  set(patch: Partial<LimitSettings>): void {
    const before = this.current.settings;
    const settings = { ...before, ...patch };
    rememberLimits(this.env.storage, settings);
    if (settings.batteryBelow !== before.batteryBelow) this.battery = new BatteryRule(settings.batteryBelow);
    this.recompute({ settings });
    if (settings.onlyWhenAway !== before.onlyWhenAway) void this.followPresence();
  }

  /** Idle detection was just permitted: watch presence with it from now on. */
  refreshPresence(): void {
    void this.followPresence();
  }

  /** (Re)starts or stops the presence watcher to match the setting. */
  private async followPresence(): Promise<void> {
    const generation = ++this.presenceGeneration;
    this.stopPresence?.();
    this.stopPresence = null;
    this.presence = null;
    if (!this.current.settings.onlyWhenAway) {
      this.recompute({ presence: null });
      return;
    }
    const watching = await watchPresence(this.env.presence, (presence) => {
      if (generation !== this.presenceGeneration) return;
      this.presence = presence;
      this.recompute({ presence: presence.source });
    });
    if (generation !== this.presenceGeneration) watching.stop();
    else this.stopPresence = watching.stop;
  }

  private recompute(patch: Partial<LimitsView>): void {
    const next = { ...this.current, ...patch };
    const { settings } = next;
    const pressure = settings.pressureBackoff ? pressureFactor(next.pressure) : 1;
    const batteryHold = next.battery === null ? null : this.battery.update(next.battery);
    const awayHold = settings.onlyWhenAway && this.presence !== null ? presenceHold(this.presence) : null;
    this.current = { ...next, share: (settings.cpu / 100) * pressure, hold: batteryHold ?? awayHold };
    for (const listener of this.listeners) listener();
  }
}

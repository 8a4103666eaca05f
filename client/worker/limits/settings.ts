/** The limits a volunteer sets: on the page, as URL parameters, remembered in localStorage. */
export interface LimitSettings {
  /** Percent of the time the tab may compute, 10..100 (the duty cycle). */
  readonly cpu: number;
  /** Pause on battery below this percent (resume on charge or 10 points higher); null: never. */
  readonly batteryBelow: number | null;
  /** Train only while the person is not using the computer (presence.ts). */
  readonly onlyWhenAway: boolean;
  /** Slow down while the Compute Pressure API reports 'serious' or 'critical'. */
  readonly pressureBackoff: boolean;
}

/**
 * Half the time: the machine stays responsive and its fans quiet, and the volunteer still gives half
 * of what the tab could (README, "Joining as a volunteer"). Battery and pressure guard by default;
 * "only while away" is the volunteer's to choose, since it stops a tab that is in view.
 */
export const DEFAULT_LIMITS: LimitSettings = {
  cpu: 50,
  batteryBelow: 20,
  onlyWhenAway: false,
  pressureBackoff: true,
};

export const CPU_MIN = 10;
export const CPU_MAX = 100;

/** The URL parameters, e.g. /worker?cpu=25&battery=off&idle=on&pressure=off. */
export const LIMIT_PARAMS = {
  cpu: 'cpu',
  batteryBelow: 'battery',
  onlyWhenAway: 'idle',
  pressureBackoff: 'pressure',
} as const satisfies Record<keyof LimitSettings, string>;

type Parsed<T> = { readonly value: T } | { readonly problem: string };

function parseCpu(text: string): Parsed<number> {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  if (match === null) return { problem: `cpu must be a percentage (${CPU_MIN}-${CPU_MAX}), not "${text}"` };
  const value = Number(match[1]);
  return { value: Math.round(Math.min(CPU_MAX, Math.max(CPU_MIN, value))) };
}

function parseBattery(text: string): Parsed<number | null> {
  const value = text.trim().toLowerCase();
  if (value === 'off' || value === '0' || value === 'false' || value === 'no') return { value: null };
  const match = /^(\d+)%?$/.exec(value);
  if (match === null || Number(match[1]) < 1 || Number(match[1]) > 90) {
    return { problem: `battery must be a percentage (1-90) or "off", not "${text}"` };
  }
  return { value: Number(match[1]) };
}

function parseSwitch(name: string, text: string): Parsed<boolean> {
  const value = text.trim().toLowerCase();
  if (['on', '1', 'true', 'yes', ''].includes(value)) return { value: true };
  if (['off', '0', 'false', 'no'].includes(value)) return { value: false };
  return { problem: `${name} must be "on" or "off", not "${text}"` };
}

export interface QueryLimits {
  readonly limits: Partial<LimitSettings>;
  /** Parameters that could not be read, said in words for the page. */
  readonly problems: readonly string[];
}

/** The limits a link carries; a value out of range is clamped, one that makes no sense is reported. */
export function limitsFromQuery(search: string): QueryLimits {
  const params = new URLSearchParams(search);
  const limits: { -readonly [K in keyof LimitSettings]?: LimitSettings[K] } = {};
  const problems: string[] = [];
  const take = <K extends keyof LimitSettings>(key: K, parse: (text: string) => Parsed<LimitSettings[K]>) => {
    const text = params.get(LIMIT_PARAMS[key]);
    if (text === null) return;
    const parsed = parse(text);
    if ('problem' in parsed) problems.push(`?${LIMIT_PARAMS[key]}=: ${parsed.problem}`);
    else limits[key] = parsed.value;
  };
  take('cpu', parseCpu);
  take('batteryBelow', parseBattery);
  take('onlyWhenAway', (text) => parseSwitch('idle', text));
  take('pressureBackoff', (text) => parseSwitch('pressure', text));
  return { limits, problems };
}

const STORAGE_KEY = 'volunteer-limits';

/** What the volunteer set on the page last time; fields that do not check out are dropped. */
export function rememberedLimits(storage: Pick<Storage, 'getItem'> | null): Partial<LimitSettings> {
  let saved: unknown;
  try {
    saved = JSON.parse(storage?.getItem(STORAGE_KEY) ?? 'null');
  } catch {
    return {};
  }
  if (typeof saved !== 'object' || saved === null) return {};
  const s = saved as Record<string, unknown>;
  const out: { -readonly [K in keyof LimitSettings]?: LimitSettings[K] } = {};
  if (typeof s.cpu === 'number' && s.cpu >= CPU_MIN && s.cpu <= CPU_MAX) out.cpu = s.cpu;
  if (s.batteryBelow === null || (typeof s.batteryBelow === 'number' && s.batteryBelow >= 1)) {
    out.batteryBelow = s.batteryBelow;
  }
  if (typeof s.onlyWhenAway === 'boolean') out.onlyWhenAway = s.onlyWhenAway;
  if (typeof s.pressureBackoff === 'boolean') out.pressureBackoff = s.pressureBackoff;
  return out;
}

export function rememberLimits(storage: Pick<Storage, 'setItem'> | null, limits: LimitSettings): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(limits));
  } catch {
    // Storage is off (a private window, a policy): the limits hold for this visit only.
  }
}

/** The defaults, then what was remembered, then what the link says: the link wins. */
export function resolveLimits(
  remembered: Partial<LimitSettings>,
  query: Partial<LimitSettings>,
): LimitSettings {
  return { ...DEFAULT_LIMITS, ...remembered, ...query };
}

/**
 * The address without the parameters of limits the volunteer just changed on the page: otherwise a
 * reload would bring the link's value back over the one they chose (the link wins over the remembered).
 */
export function searchWithout(search: string, keys: readonly (keyof LimitSettings)[]): string {
  const params = new URLSearchParams(search);
  for (const key of keys) params.delete(LIMIT_PARAMS[key]);
  const rest = params.toString();
  return rest === '' ? '' : `?${rest}`;
}

/** localStorage, or null where the browser refuses it (some private windows throw on access). */
export function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

// A standard 5-field cron expression (minute hour day-of-month month day-of-week) in a time
// zone: parsing and the slots it names. Pure; time zones come from Node's Intl.
//
// Fields take `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n`, `a-b/n`, `a/n`, month and
// weekday names (jan..dec, sun..sat), and 7 for Sunday. As in Vixie cron, when both
// day-of-month and day-of-week are restricted a day matching either runs. The macros @yearly
// (@annually), @monthly, @weekly, @daily (@midnight) and @hourly are accepted.
//
// Wall-clock times and daylight saving time: a time that occurs twice (clocks going back) runs
// once, at its first occurrence; a time that does not exist (clocks going forward) runs at the
// same distance past the jump (02:30 in a skipped hour runs at 03:30).

export interface Cron {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (not `*`). */
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldSpec {
  what: string;
  min: number;
  max: number;
  names?: string[];
  /** First value of `names` (months count from 1). */
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { what: "minute", min: 0, max: 59 },
  { what: "hour", min: 0, max: 23 },
  { what: "day of month", min: 1, max: 31 },
  { what: "month", min: 1, max: 12, names: MONTH_NAMES, namesFrom: 1 },
  { what: "day of week", min: 0, max: 7, names: DAY_NAMES, namesFrom: 0 },
];

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

function value(text: string, f: FieldSpec): number {
  const named = f.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (f.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) throw new CronError(`"${text}" is not a valid ${f.what}`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new CronError(`${f.what} ${n} is out of range ${f.min}-${f.max}`);
  return n;
}

function field(text: string, f: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range = "", stepText, extra] = part.split("/");
    if (extra !== undefined || range === "") throw new CronError(`"${part}" is not a valid ${f.what}`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw new CronError(`step "${stepText}" of the ${f.what} must be a positive number`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === "*") {
      lo = f.min;
      hi = f.what === "day of week" ? 6 : f.max;
    } else {
      const [a = "", b, more] = range.split("-");
      if (more !== undefined) throw new CronError(`"${range}" is not a valid ${f.what} range`);
      lo = value(a, f);
      // `a/n` means a, a+n, ... up to the end of the field.
      hi = b !== undefined ? value(b, f) : stepText !== undefined ? f.max : lo;
      if (hi < lo) throw new CronError(`${f.what} range "${range}" goes backwards`);
    }
    for (let v = lo; v <= hi; v += step) out.add(f.what === "day of week" && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses a 5-field cron expression or a macro; throws CronError with a precise message. */
export function parseCron(expr: string): Cron {
  const text = MACROS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    throw new CronError(
      `"${expr}" has ${parts.length} field${parts.length === 1 ? "" : "s"}: a cron expression has 5 (minute hour day-of-month month day-of-week)`,
    );
  }
  const sets = parts.map((p, i) => field(p, FIELDS[i] as FieldSpec));
  return {
    minutes: sets[0] as Set<number>,
    hours: sets[1] as Set<number>,
    days: sets[2] as Set<number>,
    months: sets[3] as Set<number>,
    weekdays: sets[4] as Set<number>,
    daysRestricted: !parts[2]!.startsWith("*"),
    weekdaysRestricted: !parts[4]!.startsWith("*"),
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws CronError when Intl does not know the zone. */
export function checkTimeZone(zone: string): void {
  formatter(zone);
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new CronError(
        `"${zone}" is not a known time zone: use an IANA name such as Europe/Berlin or UTC`,
      );
    }
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant, in ms (local = utc + offset). */
export function zoneOffset(ms: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return local - (ms - (((ms % 1000) + 1000) % 1000));
}

const HALF_DAY = 12 * 3_600_000;

/** The instant of a wall-clock time (given as if it were UTC) in `zone`; see the DST rules above. */
export function wallToInstant(wall: number, zone: string): number {
  const before = wall - zoneOffset(wall - HALF_DAY, zone);
  const after = wall - zoneOffset(wall + HALF_DAY, zone);
  const exists = [before, after].filter((t) => t + zoneOffset(t, zone) === wall);
  if (exists.length > 0) return Math.min(...exists);
  return before;
}

const DAY = 86_400_000;

function dayMatches(c: Cron, dayStart: number): boolean {
  const d = new Date(dayStart);
  if (!c.months.has(d.getUTCMonth() + 1)) return false;
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  if (c.daysRestricted && c.weekdaysRestricted) return dom || dow;
  return dom && dow;
}

const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

/** The instants of a matching local day, ascending. */
function dayInstants(c: Cron, dayStart: number, zone: string): number[] {
  const out = new Set<number>();
  for (const h of sorted(c.hours)) {
    for (const m of sorted(c.minutes)) out.add(wallToInstant(dayStart + h * 3_600_000 + m * 60_000, zone));
  }
  return [...out].sort((a, b) => a - b);
}

/** How far to look for a slot: "0 0 29 2 1" (a Monday 29 February) can be 28 years away. */
const SEARCH_DAYS = 366 * 30;

/** The first slot strictly after `after` (ms), or undefined if none within the search range. */
export function cronNext(c: Cron, zone: string, after: number): number | undefined {
  const localDay = Math.floor((after + zoneOffset(after, zone)) / DAY) * DAY;
  for (let i = -1; i <= SEARCH_DAYS; i++) {
    const day = localDay + i * DAY;
    if (!dayMatches(c, day)) continue;
    const hit = dayInstants(c, day, zone).find((t) => t > after);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** The last slot at or before `at` (ms), or undefined if none within the search range. */
export function cronPrevious(c: Cron, zone: string, at: number): number | undefined {
  const localDay = Math.floor((at + zoneOffset(at, zone)) / DAY) * DAY;
  for (let i = 1; i >= -SEARCH_DAYS; i--) {
    const day = localDay + i * DAY;
    if (!dayMatches(c, day)) continue;
    const hit = dayInstants(c, day, zone).findLast((t) => t <= at);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/**
 * Pure parsers for the values found in a WarpDrive sysfs tree.
 *
 * Every parser takes the raw text of one attribute file and returns either the value or
 * a readable reason why the text is not acceptable. None of them throws on bad input:
 * sysfs content is data, and bad data excludes one device or type, never the whole
 * enumeration.
 *
 * @module
 */

/** The result of parsing one attribute: a value, or the reason the text was refused. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly reason: string;
};

/** The priority range of the spec: values outside it disable a device. */
export const PRIORITY_MIN = -100;
/** The highest priority value that still lets a device be chosen. */
export const PRIORITY_MAX = 99;
/**
 * Zones (`zone_id`, `node_id`) are C ints: [-2^31, 2^31 - 1], read and written alike. A
 * kernel reports -1 for "no NUMA node".
 */
export const ZONE_MIN = -0x80000000;
/** The largest zone id, read or written. */
export const ZONE_MAX = 0x7fffffff;
/** Latency and throughput levels are in [0, LEVEL_MAX]; 10 is average. */
export const LEVEL_MAX = 99;

/** Framework flag bit 0: the queue can be shared by every process. */
export const WD_CAPA_SHARE_ALL = 0x1;
/** Framework flag bit 1: the queue accepts scatter-gather memory. */
export const WD_CAPA_SGL_MEM = 0x2;

const DECIMAL = /^[+-]?[0-9]+$/;
const HEX = /^(?:0[xX])?([0-9a-fA-F]+)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function quote(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}

/**
 * Parses a decimal integer attribute (`priority`, `zone_id`, `latency`, …), trimmed of
 * white space.
 *
 * @example
 * ```ts
 * parseDecimal(" -5\n"); // { ok: true, value: -5 }
 * parseDecimal("high");  // { ok: false, reason: 'not a decimal integer: "high"' }
 * ```
 */
export function parseDecimal(text: string): Parsed<number> {
  const t = text.trim();
  if (t === "") return { ok: false, reason: "empty" };
  if (!DECIMAL.test(t)) return { ok: false, reason: `not a decimal integer: ${quote(t)}` };
  const value = Number(t);
  if (!Number.isSafeInteger(value)) return { ok: false, reason: `integer out of range: ${quote(t)}` };
  return { ok: true, value };
}

/**
 * Parses a decimal integer that must lie in `[min, max]`.
 *
 * @example
 * ```ts
 * parseInRange("12", 0, 99); // { ok: true, value: 12 }
 * parseInRange("120", 0, 99); // { ok: false, reason: "120 is outside [0, 99]" }
 * ```
 */
export function parseInRange(text: string, min: number, max: number): Parsed<number> {
  const p = parseDecimal(text);
  if (!p.ok) return p;
  if (p.value < min || p.value > max) {
    return { ok: false, reason: `${p.value} is outside [${min}, ${max}]` };
  }
  return p;
}

/**
 * Parses the `flags` attribute: a 32-bit mask in hex, with or without `0x`.
 *
 * @example
 * ```ts
 * parseFlags("0x3"); // { ok: true, value: 3 }
 * parseFlags("ff");  // { ok: true, value: 255 }
 * ```
 */
export function parseFlags(text: string): Parsed<number> {
  const t = text.trim();
  if (t === "") return { ok: false, reason: "empty" };
  const m = HEX.exec(t);
  if (!m || m[1] === undefined) return { ok: false, reason: `not a hex number: ${quote(t)}` };
  const digits = m[1].replace(/^0+(?=.)/, "");
  if (digits.length > 8) return { ok: false, reason: `wider than 32 bits: ${quote(t)}` };
  return { ok: true, value: parseInt(digits, 16) >>> 0 };
}

/**
 * Parses a plain text attribute (`name`, `wd_type`, `device_api`): trimmed, one line,
 * not empty, printable.
 *
 * @example
 * ```ts
 * parseToken("copy\n"); // { ok: true, value: "copy" }
 * ```
 */
export function parseToken(text: string): Parsed<string> {
  const t = text.trim();
  if (t === "") return { ok: false, reason: "empty" };
  if (t.length > 256) return { ok: false, reason: `longer than 256 characters: ${quote(t)}` };
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(t)) return { ok: false, reason: `not a single printable word: ${quote(t)}` };
  return { ok: true, value: t };
}

/**
 * Tells whether a string is a UUID in the canonical 8-4-4-4-12 form, the form the mdev
 * core accepts in `create` and uses for device names.
 *
 * @example
 * ```ts
 * isUuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"); // true
 * ```
 */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * Compares two names in natural order, so that `acc2` sorts before `acc10`.
 *
 * @example
 * ```ts
 * ["acc10", "acc2"].sort(naturalCompare); // ["acc2", "acc10"]
 * ```
 */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  const n = Math.min(ra.length, rb.length);
  for (let i = 0; i < n; i++) {
    const x = ra[i] as string;
    const y = rb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      // Exact at any length: compare the digits without leading zeros, shorter is smaller,
      // then as text; only then let leading zeros decide ("7" before "007").
      const sx = x.replace(/^0+(?=\d)/, "");
      const sy = y.replace(/^0+(?=\d)/, "");
      if (sx.length !== sy.length) return sx.length - sy.length;
      if (sx !== sy) return sx < sy ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Formats a flag mask the way sysfs shows it.
 *
 * @example
 * ```ts
 * import { formatFlags } from "warpdrive";
 *
 * formatFlags(3); // "0x3"
 * ```
 */
export function formatFlags(flags: number): string {
  return `0x${(flags >>> 0).toString(16)}`;
}

/** The framework's part of `flags`: the low 8 bits; the rest belong to the algorithm. */
export const WD_CAPA_FRAMEWORK_MASK = 0xff;

/**
 * Describes a flag mask for people: the framework's low 8 bits by name (`SHARE_ALL`,
 * `SGL_MEM`; other framework bits as `fw:0x…`), the algorithm's bits in hex (`alg:0x…`),
 * joined by `|`; `-` for no bits.
 *
 * @example
 * ```ts
 * import { describeFlags } from "warpdrive";
 *
 * describeFlags(0x103); // "SHARE_ALL|SGL_MEM|alg:0x100"
 * ```
 */
export function describeFlags(flags: number): string {
  const f = flags >>> 0;
  const parts: string[] = [];
  if (f & WD_CAPA_SHARE_ALL) parts.push("SHARE_ALL");
  if (f & WD_CAPA_SGL_MEM) parts.push("SGL_MEM");
  const otherFramework = f & WD_CAPA_FRAMEWORK_MASK & ~(WD_CAPA_SHARE_ALL | WD_CAPA_SGL_MEM);
  if (otherFramework !== 0) parts.push(`fw:${formatFlags(otherFramework)}`);
  const algorithm = (f & ~WD_CAPA_FRAMEWORK_MASK) >>> 0;
  if (algorithm !== 0) parts.push(`alg:${formatFlags(algorithm)}`);
  return parts.length === 0 ? "-" : parts.join("|");
}

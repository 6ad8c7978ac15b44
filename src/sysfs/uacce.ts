/**
 * Step 1 of the inquiry for mainline Linux's class: reading one `<root>/class/uacce/<name>-<id>/`
 * entry into an {@link Accelerator} of class `"uacce"`.
 *
 * What the kernel shows (`drivers/misc/uacce/uacce.c`, `Documentation/ABI/testing/sysfs-driver-uacce`):
 * `api` (a string), `flags` (decimal, bit 0 `UACCE_DEV_SVA`), `available_instances`
 * (decimal; the read fails with ENODEV when the driver lacks the operation), `algorithms`
 * (one per line), `region_mmio_size` and `region_dus_size` (decimal bytes, hidden when 0),
 * from 6.2 on `isolate` (0 or 1) and `isolate_strategy` (decimal, hidden without the
 * driver's operations), and the parent device's `device/numa_node` (-1 for none).
 *
 * @module
 */
import { describeCode, errnoCode } from "./errors.ts";
import type { Accelerator, AcceleratorType, UacceAttributes } from "./model.ts";
import { type Parsed, parseDecimal, parseToken, ZONE_MAX } from "./parse.ts";
import type { Entry, SysfsReader } from "./reader.ts";

/** `UACCE_DEV_SVA`: bit 0 of a UACCE device's `flags`, the device shares the process's address space. */
export const UACCE_DEV_SVA = 0x1;

/** The largest `flags` value: the kernel prints an `unsigned int`. */
const FLAGS_MAX = 0xffffffff;

interface Ctx {
  readonly reader: SysfsReader;
  readonly problems: string[];
  readonly base: string;
}

/** What to do when an attribute cannot be read. */
type Absent =
  /** Missing or unreadable is a problem (the device is excluded). */
  | "required"
  /** Missing (not shown by this kernel or driver) is `null`, not a problem. */
  | "optional"
  /** Missing, or refused with ENODEV (the driver lacks the operation), is `null`. */
  | "driver-op";

const child = (dir: string, name: string): string => (dir === "/" ? `/${name}` : `${dir}/${name}`);

function read<T>(ctx: Ctx, rel: string, parse: (t: string) => Parsed<T>, absent: Absent): T | null {
  let text: string;
  try {
    text = ctx.reader.readAttribute(child(ctx.base, rel));
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" && absent !== "required") return null;
    if (code === "ENODEV" && absent === "driver-op") return null;
    ctx.problems.push(`${rel}: ${code === "EFBIG" ? "larger than one page, not a sysfs attribute" : describeCode(code)}`);
    return null;
  }
  const p = parse(text);
  if (p.ok) return p.value;
  ctx.problems.push(`${rel}: ${p.reason}`);
  return null;
}

/** A decimal integer in `[min, max]`. */
const between = (min: number, max: number) => (t: string): Parsed<number> => {
  const p = parseDecimal(t);
  if (p.ok && (p.value < min || p.value > max)) return { ok: false, reason: `${p.value} is outside [${min}, ${max}]` };
  return p;
};

const size = between(0, Number.MAX_SAFE_INTEGER);
const flagsValue = between(0, FLAGS_MAX);

/**
 * `available_instances` is printed with `%d` from the driver's count: a negative number is
 * the driver's error code, not a count, so it reads as "not reported" (`null`).
 */
function instances(t: string): Parsed<number | null> {
  const p = parseDecimal(t);
  if (!p.ok) return p;
  return { ok: true, value: p.value < 0 ? null : p.value };
}

/** `numa_node`: -1 is "no node" (`null`); anything below is not a node. */
function numaNode(t: string): Parsed<number | null> {
  const p = between(-1, ZONE_MAX)(t);
  if (!p.ok) return p;
  return { ok: true, value: p.value === -1 ? null : p.value };
}

/** `algorithms`: one per line, each a single printable word; duplicates are kept once. */
export function parseAlgorithms(text: string): Parsed<string[]> {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const p = parseToken(line);
    if (!p.ok) return { ok: false, reason: `line ${JSON.stringify(line.slice(0, 40))}: ${p.reason}` };
    if (!out.includes(p.value)) out.push(p.value);
  }
  if (out.length === 0) return { ok: false, reason: "empty (no algorithm listed)" };
  return { ok: true, value: out };
}

function typeOf(devPath: string, alg: string, u: UacceAttributes | null, partial: boolean): AcceleratorType {
  return {
    type: alg,
    path: devPath,
    name: alg,
    wdType: null,
    latency: null,
    throughput: null,
    flags: partial || u === null ? null : u.flags,
    availableInstances: partial || u === null ? null : u.availableInstances,
    deviceApi: partial || u === null ? null : u.api,
    mdevs: [],
    problems: [],
    partial,
  };
}

/**
 * Reads one entry of `<root>/class/uacce` (its path is `classDir/entry.name`). Never
 * throws: what cannot be read or parsed lands in `problems`, which excludes the device.
 * When `alg` is given and the device does not list it, only `algorithms` is read and the
 * result is `partial`.
 */
export function readUacceDevice(reader: SysfsReader, classDir: string, entry: Entry, alg: string | undefined): Accelerator {
  const devPath = child(classDir, entry.name);
  const problems: string[] = [];
  const empty: Accelerator = {
    class: "uacce",
    uacce: null,
    id: entry.name,
    path: devPath,
    zoneId: null,
    priority: null,
    iommu: null,
    enabled: false,
    problems,
    types: [],
    partial: false,
  };
  if (entry.invalidName !== undefined) {
    problems.push(`the name is not valid UTF-8 (bytes ${entry.invalidName})`);
    return empty;
  }
  if (entry.kind === "file") {
    problems.push("is a file, not a device directory");
    return empty;
  }
  const ctx: Ctx = { reader, problems, base: devPath };
  const algorithms = read(ctx, "algorithms", parseAlgorithms, "required");
  if (algorithms === null) {
    if (reader.isDanglingLink(devPath)) problems.splice(0, problems.length, "dangling link");
    return empty;
  }
  if (alg !== undefined && !algorithms.includes(alg)) {
    return { ...empty, types: algorithms.map((a) => typeOf(devPath, a, null, true)), partial: true };
  }
  const api = read(ctx, "api", parseToken, "required");
  const flags = read(ctx, "flags", flagsValue, "required");
  const availableInstances = read(ctx, "available_instances", instances, "driver-op");
  const regionMmioSize = read(ctx, "region_mmio_size", size, "optional");
  const regionDusSize = read(ctx, "region_dus_size", size, "optional");
  const isolate = read(ctx, "isolate", between(0, 1), "driver-op");
  const isolateStrategy = read(ctx, "isolate_strategy", size, "driver-op");
  const numa = read(ctx, "device/numa_node", numaNode, "optional");
  const uacce: UacceAttributes = {
    api,
    algorithms,
    flags,
    sva: flags !== null && (flags & UACCE_DEV_SVA) !== 0,
    availableInstances,
    regionMmioSize,
    regionDusSize,
    isolate,
    isolateStrategy,
    numaNode: numa,
    devName: entry.name,
  };
  return {
    ...empty,
    uacce,
    zoneId: numa,
    enabled: problems.length === 0 && isolate !== 1,
    types: algorithms.map((a) => typeOf(devPath, a, uacce, false)),
  };
}

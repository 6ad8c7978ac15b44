/**
 * Step 1 of the queue inquiry: reading `<root>/class/warpdrive` and `<root>/class/uacce`
 * into plain data.
 *
 * @module
 */
import { describeCode, errnoCode, SysfsError } from "./errors.ts";
import type { Accelerator, AcceleratorClass, AcceleratorType, ClassDir, Inventory } from "./model.ts";
import {
  isUuid,
  LEVEL_MAX,
  naturalCompare,
  type Parsed,
  parseDecimal,
  parseFlags,
  parseInRange,
  parseToken,
  PRIORITY_MAX,
  PRIORITY_MIN,
  ZONE_MAX,
  ZONE_MIN,
} from "./parse.ts";
import { type Entry, nodeReader, type SysfsReader } from "./reader.ts";
import { readUacceDevice } from "./uacce.ts";

/** The sysfs root used when none is given. */
export const DEFAULT_SYSFS_ROOT = "/sys";

/** The classes {@link enumerate} reads when not told otherwise, in the order it reads them. */
export const ACCELERATOR_CLASSES: readonly AcceleratorClass[] = ["warpdrive", "uacce"];

/** Options of {@link enumerate}. */
export interface EnumerateOptions {
  /**
   * The sysfs root; `/sys` by default. The class directories are `<root>/class/warpdrive`
   * and `<root>/class/uacce`.
   */
  readonly root?: string;
  /**
   * Narrow the reading to one algorithm: types whose `name` differs are read no further
   * than their `name`, and devices with no such type keep their `wdev/` unread (a UACCE
   * device that does not list it: only its `algorithms` is read).
   */
  readonly alg?: string;
  /** The classes to read; both (`["warpdrive", "uacce"]`) by default. */
  readonly classes?: readonly AcceleratorClass[];
  /** The file access to use; the real file system by default. */
  readonly reader?: SysfsReader;
}

/**
 * `p` with "." and ".." resolved and repeated slashes made one, as `path.posix.normalize`
 * gives it (without a trailing slash, which no caller passes): no `node:path`, which Deno
 * would load its compatibility layer for.
 */
function normalize(p: string): string {
  const absolute = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg !== "..") out.push(seg);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!absolute) out.push("..");
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}

/** Returns `<root>/class/warpdrive`, or the directory of another class (`<root>/class/uacce`), as `path.join` would. */
export function classDirOf(root: string, cls: AcceleratorClass = "warpdrive"): string {
  return normalize(root === "" ? `class/${cls}` : `${root}/class/${cls}`);
}

interface Ctx {
  readonly reader: SysfsReader;
  readonly problems: string[];
  readonly base: string;
}

/**
 * `dir/name` for a directory path that is already normal (it comes from `classDirOf` and
 * names readdir returned, which never hold "/" and are never "." or ".."): what
 * `path.join` returns, without its normalising pass, which is the largest share of the
 * enumeration's own time.
 */
function child(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function readValue<T>(ctx: Ctx, rel: string, parse: (t: string) => Parsed<T>, fallback?: string): T | null {
  let file = rel;
  let text: string;
  try {
    text = ctx.reader.readAttribute(child(ctx.base, rel));
  } catch (e) {
    let code = errnoCode(e);
    if (code === "ENOENT" && fallback !== undefined) {
      file = fallback;
      try {
        text = ctx.reader.readAttribute(child(ctx.base, fallback));
        return check(ctx, file, parse(text));
      } catch (e2) {
        code = errnoCode(e2);
        if (code === "ENOENT") {
          ctx.problems.push(`${rel} (or ${fallback}): missing`);
          return null;
        }
      }
    }
    ctx.problems.push(`${file}: ${code === "EFBIG" ? "larger than one page, not a sysfs attribute" : describeCode(code)}`);
    return null;
  }
  return check(ctx, file, parse(text));
}

function check<T>(ctx: Ctx, file: string, p: Parsed<T>): T | null {
  if (p.ok) return p.value;
  ctx.problems.push(`${file}: ${p.reason}`);
  return null;
}

const level = (t: string): Parsed<number> => parseInRange(t, 0, LEVEL_MAX);
const zone = (t: string): Parsed<number> => parseInRange(t, ZONE_MIN, ZONE_MAX);
const invalidName = (entry: Entry): string => `the name is not valid UTF-8 (bytes ${entry.invalidName})`;
const count = (t: string): Parsed<number> => {
  const p = parseDecimal(t);
  if (p.ok && p.value < 0) return { ok: false, reason: `${p.value} is negative` };
  return p;
};

function readType(reader: SysfsReader, dir: string, entry: Entry, alg: string | undefined): AcceleratorType {
  const typePath = child(dir, entry.name);
  const problems: string[] = [];
  const base = {
    type: entry.name,
    path: typePath,
    name: null,
    wdType: null,
    latency: null,
    throughput: null,
    flags: null,
    availableInstances: null,
    deviceApi: null,
    mdevs: [],
    problems,
    partial: false,
  };
  if (entry.invalidName !== undefined) {
    problems.push(invalidName(entry));
    return base;
  }
  let kind = entry.kind;
  if (kind === "link") {
    try {
      kind = reader.kindOf(typePath);
    } catch (e) {
      problems.push(errnoCode(e) === "ENOENT" ? "dangling link" : describeCode(errnoCode(e)));
      return base;
    }
  }
  if (kind !== "dir") {
    problems.push(kind === "file" ? "is a file, not a type directory" : "not a type directory");
    return base;
  }
  const ctx: Ctx = { reader, problems, base: typePath };
  const name = readValue(ctx, "name", parseToken);
  if (alg !== undefined && name !== null && name !== alg) {
    return { ...base, name, partial: true };
  }
  const wdType = readValue(ctx, "wd_type", parseToken);
  const flags = readValue(ctx, "flags", parseFlags);
  const latency = readValue(ctx, "latency", level);
  const throughput = readValue(ctx, "throughput", level);
  const availableInstances = readValue(ctx, "available_instances", count);
  const deviceApi = readValue(ctx, "device_api", parseToken);
  const mdevs: string[] = [];
  try {
    for (const d of reader.list(child(typePath, "devices"))) {
      if (isUuid(d.name)) mdevs.push(d.name.toLowerCase());
      else problems.push(`devices/${d.name}: not a mediated device UUID`);
    }
    mdevs.sort(naturalCompare);
  } catch (e) {
    problems.push(`devices/: ${describeCode(errnoCode(e))}`);
  }
  return { ...base, name, wdType, flags, latency, throughput, availableInstances, deviceApi, mdevs };
}

function readDevice(reader: SysfsReader, classDir: string, entry: Entry, alg: string | undefined): Accelerator {
  const devPath = child(classDir, entry.name);
  const problems: string[] = [];
  const empty: Accelerator = {
    class: "warpdrive",
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
    problems.push(invalidName(entry));
    return empty;
  }
  if (entry.kind === "file") {
    problems.push("is a file, not a device directory");
    return empty;
  }
  const typesDir = child(devPath, "mdev_supported_types");
  let entries: Entry[];
  try {
    entries = reader.list(typesDir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" && reader.isDanglingLink(devPath)) problems.push("dangling link");
    else if (code === "ENOENT" || code === "ENOTDIR") {
      let isDir = false;
      try {
        isDir = reader.kindOf(devPath) === "dir";
      } catch { /* reported below */ }
      problems.push(isDir ? "mdev_supported_types/: missing" : "not a device directory");
    } else problems.push(`mdev_supported_types/: ${describeCode(code)}`);
    return empty;
  }
  entries.sort((a, b) => naturalCompare(a.name, b.name));
  const types = entries.map((t) => readType(reader, typesDir, t, alg));
  if (alg !== undefined && !types.some((t) => t.name === alg)) {
    return { ...empty, types, partial: true };
  }
  const ctx: Ctx = { reader, problems, base: devPath };
  const zoneId = readValue(ctx, "wdev/zone_id", zone, "wdev/node_id");
  const priority = readValue(ctx, "wdev/priority", parseDecimal);
  const iommu = readValue(ctx, "wdev/iommu", count, "wdev/iommu_type");
  const enabled = problems.length === 0 && priority !== null && priority >= PRIORITY_MIN && priority <= PRIORITY_MAX;
  return { ...empty, zoneId, priority, iommu, enabled, types };
}

function checkClasses(classes: unknown): readonly AcceleratorClass[] {
  if (classes === undefined) return ACCELERATOR_CLASSES;
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => !ACCELERATOR_CLASSES.includes(c))) {
    throw new TypeError(`Cannot enumerate the classes ${JSON.stringify(classes)}: give a non-empty array of "warpdrive" and "uacce"`);
  }
  return ACCELERATOR_CLASSES.filter((c) => classes.includes(c));
}

/**
 * Reads the accelerator class directories into plain data (step 1 of the inquiry): the
 * WarpDrive devices of `<root>/class/warpdrive`, then the UACCE devices of
 * `<root>/class/uacce`, each in natural order of id. A UACCE device becomes an
 * {@link Accelerator} of class `"uacce"` with one type per algorithm it lists.
 *
 * Bad content never aborts the enumeration: a device or type whose attribute is missing,
 * unreadable or does not parse is kept with a readable reason in `problems`, and is never
 * chosen. A class directory that does not exist reads as no devices (`classDirs` says
 * which exist); only when none of the classes asked for has one, or one cannot be listed,
 * is it an error.
 *
 * @throws {SysfsError} `ENOENT` when no class directory asked for exists (no WarpDrive or
 *   UACCE driver loaded, or a wrong root; `path` is the first one); `ENOTDIR` or `EACCES`
 *   when one cannot be listed.
 * @throws {TypeError} on a malformed `alg` or `classes`.
 * @example
 * ```ts
 * import { enumerate } from "warpdrive";
 *
 * const inv = enumerate({ root: "/sys", alg: "zlib" });
 * for (const d of inv.devices) console.log(d.class, d.id, d.types.map((t) => t.name));
 * ```
 */
export function enumerate(options: EnumerateOptions = {}): Inventory {
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const reader = options.reader ?? nodeReader;
  const alg = options.alg;
  if (alg !== undefined && (typeof alg !== "string" || alg.trim() === "")) {
    throw new TypeError(`Cannot enumerate for algorithm ${JSON.stringify(alg)}: it must be a non-empty string`);
  }
  const classes = checkClasses(options.classes);
  const classDirs: ClassDir[] = [];
  const devices: Accelerator[] = [];
  let missing: unknown;
  for (const cls of classes) {
    const dir = classDirOf(root, cls);
    let entries: Entry[];
    try {
      entries = reader.list(dir);
    } catch (e) {
      const code = errnoCode(e);
      if (code === "ENOENT") {
        missing ??= e;
        classDirs.push({ class: cls, path: dir, present: false });
        continue;
      }
      const what = code === "ENOTDIR"
        ? `Cannot enumerate accelerators: ${dir} is not a directory`
        : `Cannot enumerate accelerators: ${dir} ${describeCode(code)}`;
      throw new SysfsError(what, { code, path: dir, cause: e });
    }
    classDirs.push({ class: cls, path: dir, present: true });
    entries.sort((a, b) => naturalCompare(a.name, b.name));
    for (const e of entries) devices.push(cls === "uacce" ? readUacceDevice(reader, dir, e, alg) : readDevice(reader, dir, e, alg));
  }
  if (!classDirs.some((c) => c.present)) {
    const dirs = classDirs.map((c) => c.path);
    const names = classes.map((c) => (c === "uacce" ? "UACCE" : "WarpDrive")).join(" or ");
    throw new SysfsError(
      `No accelerator class directory at ${dirs.join(" or ")}: no ${names} driver is loaded, or the sysfs root is wrong (set it with --sysfs or WD_SYSFS_ROOT)`,
      { code: "ENOENT", path: dirs[0] as string, cause: missing },
    );
  }
  return { root, classDir: classDirOf(root), classDirs, devices, alg: alg ?? null };
}

/**
 * A builder of WarpDrive and UACCE sysfs trees in a temporary directory, laid out as the
 * kernel lays them out (class entries are links to device directories), so code that
 * reads the tree can be tried without an accelerator or a kernel module.
 *
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatFlags } from "./parse.ts";

/** An attribute value: a number (written in the kernel's format), raw text, or `null` to leave the file out. */
export type AttrValue = number | string | null;

/** One type directory to build. Unset attributes get sound defaults. */
export interface FixtureType {
  /** The directory name; `wd_dummy-<name>` by default. */
  readonly dir?: string;
  /** `name`; required unless `dir` is given and the name is left out on purpose. */
  readonly name?: AttrValue;
  /** `wd_type`, default `"dummy"`. */
  readonly wdType?: AttrValue;
  /** `flags`, a number is written in hex with `0x`; default `0x3`. */
  readonly flags?: AttrValue;
  /** `latency`, default 10. */
  readonly latency?: AttrValue;
  /** `throughput`, default 10. */
  readonly throughput?: AttrValue;
  /** `available_instances`, default 4. */
  readonly availableInstances?: AttrValue;
  /** `device_api`, default `"wd_dummy_v1"`. */
  readonly deviceApi?: AttrValue;
  /** UUIDs of existing mediated devices. */
  readonly mdevs?: readonly string[];
}

/** One accelerator to build. */
export interface FixtureDevice {
  /** The device id (entry name in the class directory). */
  readonly id: string;
  /** `wdev/zone_id`, default 0. */
  readonly zoneId?: AttrValue;
  /** `wdev/priority`, default 0. */
  readonly priority?: AttrValue;
  /** `wdev/iommu`, default 3 (VFIO_TYPE1v2_IOMMU). */
  readonly iommu?: AttrValue;
  /** Its types. */
  readonly types?: readonly FixtureType[];
}

/**
 * One UACCE device to build: `<root>/class/uacce/<id>` linking to
 * `<root>/devices/platform/<parent>/uacce/<id>/`, whose `device` links to the parent.
 * Numbers are written as the kernel prints them (decimal); `null` leaves a file out.
 */
export interface FixtureUacceDevice {
  /** The class entry and `/dev` name, `<name>-<id>` (e.g. `"uacce_dummy-0"`). */
  readonly id: string;
  /**
   * The kernel's layout: `"6.1"` (no isolation attributes, the default) or `"6.2"` (adds
   * `isolate` and `isolate_strategy`, as a driver with the isolation operations shows).
   */
  readonly layout?: "6.1" | "6.2";
  /** `api`, default `"uacce_dummy_v1"`. */
  readonly api?: AttrValue;
  /** `algorithms`: a list is written one per line; raw text as it is; default `["copy"]`. */
  readonly algorithms?: readonly string[] | string | null;
  /** `flags`, default 0 (bit 0 is SVA). */
  readonly flags?: AttrValue;
  /** `available_instances`, default 2. */
  readonly availableInstances?: AttrValue;
  /** `region_mmio_size`, default 4096 (`null`: hidden, as for size 0). */
  readonly regionMmioSize?: AttrValue;
  /** `region_dus_size`, default 65536. */
  readonly regionDusSize?: AttrValue;
  /** `isolate` (layout 6.2), default 0. */
  readonly isolate?: AttrValue;
  /** `isolate_strategy` (layout 6.2), default 0. */
  readonly isolateStrategy?: AttrValue;
  /** The parent's `numa_node`, default -1 (none). */
  readonly numaNode?: AttrValue;
  /** The parent platform device's name; `uacce_dummy.<n>` by default (n = its place in the list). */
  readonly parent?: string;
}

/** What {@link makeSysfs} builds. */
export interface FixtureSpec {
  /**
   * The WarpDrive accelerators. Left out, no `class/warpdrive` directory is made (a
   * machine without a WarpDrive driver); `[]` makes an empty one.
   */
  readonly devices?: readonly FixtureDevice[];
  /**
   * The UACCE devices. Left out, no `class/uacce` directory is made (no UACCE driver);
   * `[]` makes an empty one.
   */
  readonly uacce?: readonly FixtureUacceDevice[];
  /** The directory to build in; a new temporary directory by default. */
  readonly dir?: string;
}

/** A built tree; `close()` (or `using`) removes what it built. */
export interface Fixture extends Disposable {
  /** The sysfs root to pass as `root` / `--sysfs`. */
  readonly root: string;
  /**
   * Removes what {@link makeSysfs} made: its temporary directory, or, in a directory it was
   * given, only the files, links and directories it created there. Idempotent.
   */
  close(): void;
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function write(file: string, value: AttrValue | undefined, fallback: AttrValue, format?: (n: number) => string): void {
  const v = value === undefined ? fallback : value;
  if (v === null) return;
  fs.writeFileSync(file, typeof v === "number" ? `${format ? format(v) : String(v)}\n` : v);
}

/**
 * Builds a sysfs tree: for WarpDrive `<root>/devices/warpdrive/<id>/` with `wdev/` and
 * `mdev_supported_types/`, `<root>/class/warpdrive/<id>` linking to it, and for each
 * mediated device `<root>/bus/mdev/devices/<uuid>/remove`; for UACCE (see
 * {@link FixtureUacceDevice}) `<root>/class/uacce/<id>` and its device directory.
 *
 * @example
 * ```ts
 * import { enumerate } from "warpdrive";
 * import { makeSysfs } from "warpdrive/testing";
 *
 * using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy" }] }] });
 * const inv = enumerate({ root: tree.root });
 * ```
 */
export function makeSysfs(spec: FixtureSpec): Fixture {
  const owned = spec.dir === undefined;
  const root = spec.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "wd-sysfs-"));
  const classDir = path.join(root, "class", "warpdrive");
  const devicesDir = path.join(root, "devices", "warpdrive");
  const mdevBus = path.join(root, "bus", "mdev", "devices");
  // In a given directory, the topmost paths this call creates, to remove only those.
  const made: string[] = [];
  const track = (p: string): void => {
    if (owned) return;
    let top: string | undefined;
    for (let q = p; q.startsWith(`${root}${path.sep}`) && !exists(q); q = path.dirname(q)) top = q;
    if (top !== undefined && !made.some((m) => top === m || top.startsWith(`${m}${path.sep}`))) made.push(top);
  };
  if (spec.devices !== undefined) {
    track(classDir);
    track(devicesDir);
    track(mdevBus);
    fs.mkdirSync(classDir, { recursive: true });
    fs.mkdirSync(devicesDir, { recursive: true });
    fs.mkdirSync(mdevBus, { recursive: true });
  }
  for (const d of spec.devices ?? []) {
    const dev = path.join(devicesDir, d.id);
    track(dev);
    track(path.join(classDir, d.id));
    fs.mkdirSync(path.join(dev, "wdev"), { recursive: true });
    fs.symlinkSync(path.join("..", "..", "devices", "warpdrive", d.id), path.join(classDir, d.id));
    write(path.join(dev, "wdev", "zone_id"), d.zoneId, 0);
    write(path.join(dev, "wdev", "priority"), d.priority, 0);
    write(path.join(dev, "wdev", "iommu"), d.iommu, 3);
    const typesDir = path.join(dev, "mdev_supported_types");
    fs.mkdirSync(typesDir);
    for (const t of d.types ?? []) {
      const dir = path.join(typesDir, t.dir ?? `wd_dummy-${String(t.name)}`);
      fs.mkdirSync(path.join(dir, "devices"), { recursive: true });
      write(path.join(dir, "name"), t.name, null);
      write(path.join(dir, "wd_type"), t.wdType, "dummy");
      write(path.join(dir, "flags"), t.flags, 0x3, formatFlags);
      write(path.join(dir, "latency"), t.latency, 10);
      write(path.join(dir, "throughput"), t.throughput, 10);
      write(path.join(dir, "available_instances"), t.availableInstances, 4);
      write(path.join(dir, "device_api"), t.deviceApi, "wd_dummy_v1");
      fs.writeFileSync(path.join(dir, "create"), "");
      for (const uuid of t.mdevs ?? []) {
        const mdev = path.join(dev, uuid);
        fs.mkdirSync(mdev, { recursive: true });
        fs.writeFileSync(path.join(mdev, "remove"), "");
        fs.symlinkSync(path.join("..", "..", "..", uuid), path.join(dir, "devices", uuid));
        track(path.join(mdevBus, uuid));
        fs.symlinkSync(path.relative(mdevBus, mdev), path.join(mdevBus, uuid));
      }
    }
  }
  if (spec.uacce !== undefined) writeUacce(root, spec.uacce, track);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (owned) fs.rmSync(root, { recursive: true, force: true });
    else for (const m of made.reverse()) fs.rmSync(m, { recursive: true, force: true });
  };
  return { root, close, [Symbol.dispose]: close };
}

function writeUacce(root: string, devices: readonly FixtureUacceDevice[], track: (p: string) => void): void {
  const classDir = path.join(root, "class", "uacce");
  track(classDir);
  fs.mkdirSync(classDir, { recursive: true });
  devices.forEach((d, i) => {
    const parent = path.join(root, "devices", "platform", d.parent ?? `uacce_dummy.${i}`);
    const dev = path.join(parent, "uacce", d.id);
    track(parent);
    track(path.join(classDir, d.id));
    fs.mkdirSync(dev, { recursive: true });
    fs.symlinkSync(path.relative(classDir, dev), path.join(classDir, d.id));
    fs.symlinkSync(path.join("..", ".."), path.join(dev, "device"));
    if (!exists(path.join(parent, "numa_node"))) write(path.join(parent, "numa_node"), d.numaNode, -1);
    const algs = d.algorithms === undefined ? ["copy"] : d.algorithms;
    write(path.join(dev, "algorithms"), typeof algs === "string" || algs === null ? algs : `${algs.join("\n")}\n`, null);
    write(path.join(dev, "api"), d.api, "uacce_dummy_v1");
    write(path.join(dev, "flags"), d.flags, 0);
    write(path.join(dev, "available_instances"), d.availableInstances, 2);
    write(path.join(dev, "region_mmio_size"), d.regionMmioSize, 4096);
    write(path.join(dev, "region_dus_size"), d.regionDusSize, 65536);
    if (d.layout === "6.2") {
      write(path.join(dev, "isolate"), d.isolate, 0);
      write(path.join(dev, "isolate_strategy"), d.isolateStrategy, 0);
    }
  });
}

/**
 * The plain, immutable data that {@link enumerate} reads from `/sys/class/warpdrive` and
 * `/sys/class/uacce`.
 *
 * @module
 */

/** The sysfs class a device registered in: the WarpDrive RFC's, or mainline Linux's UACCE. */
export type AcceleratorClass = "warpdrive" | "uacce";

/**
 * What a device of `/sys/class/uacce/<name>-<id>/` adds: its attributes as the kernel
 * shows them. A value that could not be read or parsed is `null` (and the device's
 * `problems` say why); an attribute the kernel does not show (`isolate` before 6.2, a
 * region of size 0) is `null` too.
 */
export interface UacceAttributes {
  /** The queue API (`api`), which selects the user-space driver, as `device_api` does. */
  readonly api: string | null;
  /** The algorithms (`algorithms`, one per line), in the order the driver lists them. */
  readonly algorithms: readonly string[];
  /** The `flags` attribute; bit 0 is `UACCE_DEV_SVA`. */
  readonly flags: number | null;
  /** True when the device shares the process's address space (`flags` bit 0). */
  readonly sva: boolean;
  /** How many more queues can be opened (`available_instances`). */
  readonly availableInstances: number | null;
  /** Size in bytes of the MMIO region (`region_mmio_size`), `null` when not shown. */
  readonly regionMmioSize: number | null;
  /** Size in bytes of the device-user-share region (`region_dus_size`), `null` when not shown. */
  readonly regionDusSize: number | null;
  /** Whether the device is isolated after errors (`isolate`, 6.2+), `null` when not shown. */
  readonly isolate: number | null;
  /** The error threshold that isolates it (`isolate_strategy`, 6.2+), `null` when not shown. */
  readonly isolateStrategy: number | null;
  /** The parent device's NUMA node (`device/numa_node`); `null` for -1 (none) or absent. */
  readonly numaNode: number | null;
  /** The char device's name under the device root (`/dev/<name>-<id>`): the device id. */
  readonly devName: string;
}

/**
 * One mediated-device type of an accelerator:
 * `<dev_id>/mdev_supported_types/<dev_drv>-<algo_type>/`.
 *
 * A value that could not be read or parsed is `null`, and `problems` says why; a type with
 * problems is never chosen. When an enumeration was narrowed to one algorithm, a type of
 * another algorithm carries only its `name` and has `partial` set.
 */
export interface AcceleratorType {
  /** The type directory name, `<dev_drv>-<algo_type>`. */
  readonly type: string;
  /** Absolute path of the type directory. */
  readonly path: string;
  /** The algorithm (`name` attribute): the value to rely on, not the directory name. */
  readonly name: string | null;
  /** The WarpDrive type (`wd_type`), e.g. `"crypto"`. */
  readonly wdType: string | null;
  /** Latency level in [0, 99]; lower is better. */
  readonly latency: number | null;
  /** Throughput level in [0, 99]; higher is better. */
  readonly throughput: number | null;
  /** The 32-bit capability mask (`flags`, hex in sysfs). */
  readonly flags: number | null;
  /** How many more mediated devices can be created (`available_instances`). */
  readonly availableInstances: number | null;
  /** The queue API version string (`device_api`) that selects the user-space driver. */
  readonly deviceApi: string | null;
  /** UUIDs of the existing mediated devices of this type (`devices/`), in natural order. */
  readonly mdevs: readonly string[];
  /** Readable reasons why this type cannot be chosen; empty when it is sound. */
  readonly problems: readonly string[];
  /** True when only `name` was read because the type offers another algorithm. */
  readonly partial: boolean;
}

/** One accelerator: `<root>/class/warpdrive/<dev_id>/` or `<root>/class/uacce/<name>-<id>/`. */
export interface Accelerator {
  /** The class the device registered in. */
  readonly class: AcceleratorClass;
  /** The UACCE attributes, for a device of class `"uacce"`; `null` for WarpDrive devices. */
  readonly uacce: UacceAttributes | null;
  /** The device id, the entry name in the class directory. */
  readonly id: string;
  /** Path of the entry in the class directory. */
  readonly path: string;
  /** `wdev/zone_id` (fallback `wdev/node_id`). */
  readonly zoneId: number | null;
  /** `wdev/priority`: smaller is preferred; outside [-100, 99] the device is disabled. */
  readonly priority: number | null;
  /** `wdev/iommu` (fallback `wdev/iommu_type`): the VFIO IOMMU type number. */
  readonly iommu: number | null;
  /** True when the priority is inside [-100, 99]. A device with problems is not enabled. */
  readonly enabled: boolean;
  /** Readable reasons why this device cannot be chosen; empty when it is sound. */
  readonly problems: readonly string[];
  /** Its mediated-device types, in natural order of directory name. */
  readonly types: readonly AcceleratorType[];
  /** True when the `wdev/` attributes were not read because no type matched the question. */
  readonly partial: boolean;
}

/** Where one class was read from. */
export interface ClassDir {
  /** The class. */
  readonly class: AcceleratorClass;
  /** Its directory: `<root>/class/warpdrive` or `<root>/class/uacce`. */
  readonly path: string;
  /** False when the directory does not exist: no driver of that class is loaded. */
  readonly present: boolean;
}

/** Everything one enumeration found. */
export interface Inventory {
  /** The sysfs root the tree was read from (`/sys` by default). */
  readonly root: string;
  /** The WarpDrive class directory, `<root>/class/warpdrive` (whether it was read or not). */
  readonly classDir: string;
  /** Each class read, in the order `warpdrive`, `uacce`: its directory and whether it exists. */
  readonly classDirs: readonly ClassDir[];
  /** The accelerators: the WarpDrive ones, then the UACCE ones, each in natural order of id. */
  readonly devices: readonly Accelerator[];
  /** The algorithm the enumeration was narrowed to, if any. */
  readonly alg: string | null;
}

/**
 * The writable side of the tree: creating and removing mediated devices, and setting a
 * device's priority and zone. Every write needs root on a real kernel; nothing is ever
 * chmod-ed to avoid that.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { v4 as uuidv4 } from "uuid";
import { classDirOf, DEFAULT_SYSFS_ROOT } from "../sysfs/enumerate.ts";
import { errnoCode, SysfsError } from "../sysfs/errors.ts";
import { isUuid, parseDecimal, PRIORITY_MAX, PRIORITY_MIN, ZONE_MAX, ZONE_MIN } from "../sysfs/parse.ts";
import { nodeReader } from "../sysfs/reader.ts";
import { writeAttribute, writeAttributeOffThread, writeError, type WriteWhere } from "./write.ts";

/** Where the tree is; shared by every writer. */
export interface RootOptions {
  /** The sysfs root; `/sys` by default. */
  readonly root?: string;
}

/** Options of {@link createMdev}. */
export interface CreateMdevOptions extends RootOptions {
  /** The UUID to create; a random v4 UUID by default. */
  readonly uuid?: string;
}

/** Options of the off-thread writers ({@link createMdevAsync}, {@link removeMdevAsync}). */
export interface AsyncWriteOptions {
  /** Milliseconds to wait for the kernel before rejecting (default {@link MDEV_WRITE_TIMEOUT_MS}). */
  readonly timeout?: number;
}

/** How long the off-thread writers wait for the kernel by default. */
export const MDEV_WRITE_TIMEOUT_MS = 10_000;

/** The priority written by {@link disableDevice}: the first value above the range. */
export const DISABLED_PRIORITY = PRIORITY_MAX + 1;

export { ZONE_MAX, ZONE_MIN };

function checkName(what: string, value: unknown): string {
  if (typeof value !== "string" || value === "" || value === "." || value === ".." || value.includes("/") || value.includes("\0")) {
    throw new TypeError(`Cannot use ${what} ${JSON.stringify(value)}: it must be a plain directory name`);
  }
  return value;
}

function deviceDir(root: string, device: string): string {
  const dir = path.join(classDirOf(root), checkName("device", device));
  try {
    if (nodeReader.kindOf(dir) === "dir") return dir;
  } catch { /* reported below */ }
  throw new SysfsError(`No accelerator "${device}" at ${dir} (see \`wd list\`)`, { code: "ENOENT", path: dir });
}

/**
 * Creates a mediated device of one type by writing a UUID to the type's `create`, and
 * returns the UUID. Checks first that the device and type exist and that the type has
 * capacity, so a refused request changes nothing.
 *
 * @throws {TypeError} when the device, type or UUID is malformed.
 * @throws {SysfsError} `ENOENT` when the device or type does not exist, `ENOSPC` when
 *   `available_instances` is 0, `EACCES` when root is needed, `EEXIST` when the UUID is taken.
 * @example
 * ```ts
 * import { createMdev } from "warpdrive";
 *
 * const uuid = createMdev("acc0", "wd_dummy-copy");
 * ```
 */
export function createMdev(device: string, type: string, options: CreateMdevOptions = {}): string {
  const { file, uuid, where } = prepareCreate(device, type, options);
  writeAttribute(file, uuid, where);
  return uuid;
}

/**
 * {@link createMdev} with the write on a worker thread and a timeout, so the event loop
 * never waits for the kernel. The checks before the write are the same and synchronous.
 *
 * @throws {TypeError} when the device, type or UUID is malformed.
 * @throws {SysfsError} as {@link createMdev}, and `ETIMEDOUT` when the kernel does not
 *   answer within `timeout`.
 * @example
 * ```ts
 * const uuid = await createMdevAsync("acc0", "wd_dummy-copy", { timeout: 5000 });
 * ```
 */
export async function createMdevAsync(device: string, type: string, options: CreateMdevOptions & AsyncWriteOptions = {}): Promise<string> {
  const { file, uuid, where } = prepareCreate(device, type, options);
  await writeAttributeOffThread(file, uuid, where, options.timeout ?? MDEV_WRITE_TIMEOUT_MS, "the mediated-device core did not finish the creation");
  return uuid;
}

function prepareCreate(device: string, type: string, options: CreateMdevOptions): { file: string; uuid: string; where: WriteWhere } {
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const uuid = options.uuid ?? uuidv4();
  if (typeof uuid !== "string" || !isUuid(uuid)) {
    throw new TypeError(`Cannot create a mediated device with UUID ${JSON.stringify(uuid)}: it must look like 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001`);
  }
  const typeDir = path.join(deviceDir(root, device), "mdev_supported_types", checkName("type", type));
  const action = `create a mediated device of ${device}/${type}`;
  const avail = path.join(typeDir, "available_instances");
  let text: string;
  try {
    text = nodeReader.readAttribute(avail);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") {
      throw new SysfsError(`Cannot ${action}: no such type at ${typeDir} (see \`wd list\`)`, { code: "ENOENT", path: typeDir });
    }
    throw writeError(e, avail, action);
  }
  const n = parseDecimal(text);
  if (!n.ok) throw new SysfsError(`Cannot ${action}: ${avail}: ${n.reason}`, { code: "EINVAL", path: avail });
  if (n.value <= 0) {
    throw new SysfsError(`Cannot ${action}: available_instances is ${n.value}; remove an unused mediated device first`, {
      code: "ENOSPC",
      path: avail,
    });
  }
  return { file: path.join(typeDir, "create"), uuid: uuid.toLowerCase(), where: { action, root } };
}

/**
 * Removes a mediated device by writing `1` to `<root>/bus/mdev/devices/<uuid>/remove`.
 *
 * @throws {TypeError} when the UUID is malformed.
 * @throws {SysfsError} `ENOENT` when no such mediated device exists, `EACCES` when root is
 *   needed, `EBUSY` when a process still holds it.
 * @example
 * ```ts
 * import { removeMdev } from "warpdrive";
 *
 * removeMdev("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
 * ```
 */
export function removeMdev(uuid: string, options: RootOptions = {}): void {
  const { file, where } = prepareRemove(uuid, options);
  writeAttribute(file, "1", where);
}

/**
 * {@link removeMdev} with the write on a worker thread and a timeout. The kernel holds a
 * removal while another process has the mediated device open (and asks that process to
 * close it); this rejects after `timeout` instead of stopping the event loop. The kernel
 * cannot be told to give up: the removal then completes when the holder closes it.
 *
 * @throws {TypeError} when the UUID is malformed.
 * @throws {SysfsError} as {@link removeMdev}, and `ETIMEDOUT` (naming the device and
 *   saying another process holds it) when the kernel does not finish within `timeout`.
 * @example
 * ```ts
 * await removeMdevAsync("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", { timeout: 5000 });
 * ```
 */
export async function removeMdevAsync(uuid: string, options: RootOptions & AsyncWriteOptions = {}): Promise<void> {
  const { file, where } = prepareRemove(uuid, options);
  await writeAttributeOffThread(
    file,
    "1",
    where,
    options.timeout ?? MDEV_WRITE_TIMEOUT_MS,
    `another process holds mediated device ${uuid.toLowerCase()} open; the kernel removes it once that process closes it`,
  );
}

function prepareRemove(uuid: string, options: RootOptions): { file: string; where: WriteWhere } {
  if (typeof uuid !== "string" || !isUuid(uuid)) {
    throw new TypeError(`Cannot remove mediated device ${JSON.stringify(uuid)}: it is not a UUID`);
  }
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const dir = path.join(root, "bus", "mdev", "devices", uuid.toLowerCase());
  if (!fs.existsSync(dir)) {
    throw new SysfsError(`Cannot remove mediated device ${uuid}: there is none at ${dir} (see \`wd list\`)`, {
      code: "ENOENT",
      path: dir,
    });
  }
  return { file: path.join(dir, "remove"), where: { action: `remove mediated device ${uuid}`, root } };
}

/**
 * Sets a device's priority (`wdev/priority`), which must be in [-100, 99]; smaller is
 * preferred. Use {@link disableDevice} to take a device out of choice.
 *
 * @throws {RangeError} when the priority is not an integer in [-100, 99].
 * @throws {SysfsError} `ENOENT` when the device does not exist, `EACCES` when root is needed.
 * @example
 * ```ts
 * import { setPriority } from "warpdrive";
 *
 * setPriority("acc0", -10);
 * ```
 */
export function setPriority(device: string, priority: number, options: RootOptions = {}): void {
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw new RangeError(
      `Cannot set the priority of ${device} to ${JSON.stringify(priority)}: it must be an integer in [${PRIORITY_MIN}, ${PRIORITY_MAX}] (to take a device out of choice, disable it)`,
    );
  }
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const dir = deviceDir(root, device);
  writeAttribute(path.join(dir, "wdev", "priority"), String(priority), { action: `set the priority of ${device}`, root });
}

/**
 * Disables a device: writes a priority outside the range (100), so no selection picks it
 * until {@link setPriority} sets a value in range again.
 *
 * @throws {SysfsError} `ENOENT` when the device does not exist, `EACCES` when root is needed.
 * @example
 * ```ts
 * import { disableDevice } from "warpdrive";
 *
 * disableDevice("acc0");
 * ```
 */
export function disableDevice(device: string, options: RootOptions = {}): void {
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const dir = deviceDir(root, device);
  writeAttribute(path.join(dir, "wdev", "priority"), String(DISABLED_PRIORITY), { action: `disable ${device}`, root });
}

/**
 * Sets a device's zone (`wdev/zone_id`, or `wdev/node_id` where only that exists).
 *
 * Zones are C ints, read and written by the same rule: [-2^31, 2^31 - 1] (a kernel shows
 * -1 for "no NUMA node").
 *
 * @throws {RangeError} when the zone is not an integer in [-2^31, 2^31 - 1].
 * @throws {SysfsError} `ENOENT` when the device does not exist, `EACCES` when root is needed.
 * @example
 * ```ts
 * import { setZone } from "warpdrive";
 *
 * setZone("acc0", 1);
 * ```
 */
export function setZone(device: string, zone: number, options: RootOptions = {}): void {
  if (!Number.isInteger(zone) || zone < ZONE_MIN || zone > ZONE_MAX) {
    throw new RangeError(`Cannot set the zone of ${device} to ${JSON.stringify(zone)}: it must be an integer in [${ZONE_MIN}, ${ZONE_MAX}]`);
  }
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const dir = deviceDir(root, device);
  let file = path.join(dir, "wdev", "zone_id");
  if (!fs.existsSync(file) && fs.existsSync(path.join(dir, "wdev", "node_id"))) file = path.join(dir, "wdev", "node_id");
  writeAttribute(file, String(zone), { action: `set the zone of ${device}`, root });
}

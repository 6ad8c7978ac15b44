/**
 * The writable side of the tree: creating and removing mediated devices, and setting a
 * device's priority and zone. Every write needs root on a real kernel; nothing is ever
 * chmod-ed to avoid that.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { v4 as uuidv4 } from "uuid";
import { classDirOf, DEFAULT_SYSFS_ROOT } from "../sysfs/enumerate.ts";
import { describeCode, errnoCode, SysfsError } from "../sysfs/errors.ts";
import { isUuid, parseDecimal, PRIORITY_MAX, PRIORITY_MIN, ZONE_MAX, ZONE_MIN } from "../sysfs/parse.ts";
import { nodeReader } from "../sysfs/reader.ts";

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

/** Whether `p` is `dir` or below it; both are real paths. */
function isInside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/**
 * Refuses to write anywhere but a regular file inside the root: links are normal on the
 * way (class entries point into `devices/`), but what is written must resolve inside the
 * root, and the attribute itself must be a regular file, not a link or a FIFO.
 */
function checkTarget(file: string, root: string, action: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    throw writeError(e, file, action);
  }
  if (st.isSymbolicLink()) {
    let target = "?";
    try {
      target = fs.readlinkSync(file);
    } catch { /* the link itself is the problem either way */ }
    throw new SysfsError(`Cannot ${action}: ${file} is a symbolic link to ${target}; a sysfs attribute must be a regular file`, {
      code: "ELOOP",
      path: file,
    });
  }
  if (!st.isFile()) {
    throw new SysfsError(`Cannot ${action}: ${file} is not a regular file (${kindName(st)}); a sysfs attribute must be one`, {
      code: "EINVAL",
      path: file,
    });
  }
  let realRoot: string, realDir: string;
  try {
    realRoot = fs.realpathSync(root);
    realDir = fs.realpathSync(path.dirname(file));
  } catch (e) {
    throw writeError(e, file, action);
  }
  const resolved = path.join(realDir, path.basename(file));
  if (!isInside(resolved, realRoot)) {
    throw new SysfsError(
      `Cannot ${action}: ${file} resolves to ${resolved}, outside the sysfs root ${realRoot}; check the links under the root`,
      { code: "ERR_OUTSIDE_ROOT", path: file },
    );
  }
}

function kindName(st: fs.Stats): string {
  return st.isFIFO() ? "a FIFO" : st.isDirectory() ? "a directory" : st.isSocket() ? "a socket" : st.isCharacterDevice() || st.isBlockDevice() ? "a device node" : "not a file";
}

/**
 * Writes one attribute in a single write(2), as sysfs requires; never creates the file.
 * Opened non-blocking and without following a final link, so a FIFO or a link planted
 * after the check still cannot hang the command or redirect the write.
 */
/** What a write is for (its messages) and the root it must stay inside. */
type WriteWhere = { readonly action: string; readonly root: string };

function writeAttribute(file: string, value: string, where: WriteWhere): void {
  const { action, root } = where;
  checkTarget(file, root, action);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (e) {
    throw writeError(e, file, action);
  }
  try {
    if (!fs.fstatSync(fd).isFile()) {
      throw new SysfsError(`Cannot ${action}: ${file} is not a regular file; a sysfs attribute must be one`, { code: "EINVAL", path: file });
    }
    const bytes = new TextEncoder().encode(value);
    const n = fs.writeSync(fd, bytes, 0, bytes.length, null);
    if (n !== bytes.length) {
      throw new SysfsError(`Cannot ${action}: short write to ${file} (${n} of ${bytes.length} bytes)`, { code: "EIO", path: file });
    }
  } catch (e) {
    if (e instanceof SysfsError) throw e;
    throw writeError(e, file, action);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The body of the worker thread that makes one sysfs write: open, one write(2), close. It
 * is plain CommonJS evaluated by `node:worker_threads` (Bun, Deno and Node run it alike).
 */
const WRITE_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const c = fs.constants;
let fd;
try {
  fd = fs.openSync(workerData.file, c.O_WRONLY | c.O_TRUNC | c.O_NONBLOCK | c.O_NOFOLLOW);
  if (!fs.fstatSync(fd).isFile()) {
    parentPort.postMessage({ notFile: true });
  } else {
    const bytes = new TextEncoder().encode(workerData.value);
    parentPort.postMessage({ n: fs.writeSync(fd, bytes, 0, bytes.length, null), want: bytes.length });
  }
} catch (e) {
  parentPort.postMessage({ code: e && e.code, message: String(e && e.message) });
} finally {
  if (fd !== undefined) try { fs.closeSync(fd); } catch {}
}`;

/**
 * Writes one attribute on a worker thread, so a write the kernel holds (removing a
 * mediated device another process has open waits until it is closed) never stops the
 * event loop. After `timeout` it rejects with `ETIMEDOUT` and `onTimeout`'s message; the
 * worker stays blocked in the kernel until the write returns (nothing can cancel it), is
 * unref'd so it does not keep the process alive, and ends by itself then.
 */
function writeAttributeOffThread(file: string, value: string, where: WriteWhere, timeout: number, onTimeout: string): Promise<void> {
  const { action } = where;
  if (!(typeof timeout === "number" && timeout > 0)) {
    return Promise.reject(new RangeError(`Cannot ${action} with timeout ${JSON.stringify(timeout)}: it must be a positive number of milliseconds`));
  }
  try {
    checkTarget(file, where.root, action); // the same rules as the synchronous write
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(WRITE_WORKER, { eval: true, workerData: { file, value } });
    let done = false;
    const finish = (e?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e === undefined) resolve();
      else reject(e);
    };
    const timer = setTimeout(() => {
      worker.unref();
      finish(new SysfsError(`Cannot ${action}: no answer from the kernel in ${timeout} ms: ${onTimeout}`, { code: "ETIMEDOUT", path: file }));
    }, timeout);
    worker.once("message", (m: { n?: number; want?: number; code?: string; message?: string; notFile?: boolean }) => {
      if (m.notFile) {
        return finish(new SysfsError(`Cannot ${action}: ${file} is not a regular file; a sysfs attribute must be one`, { code: "EINVAL", path: file }));
      }
      if (m.code !== undefined || m.message !== undefined) {
        // The worker's error, as the errno-shaped value writeError reads.
        return finish(writeError({ code: m.code, message: m.message ?? "write failed" }, file, action));
      }
      if (m.n !== m.want) {
        return finish(new SysfsError(`Cannot ${action}: short write to ${file} (${m.n} of ${m.want} bytes)`, { code: "EIO", path: file }));
      }
      finish();
    });
    worker.once("error", (e) => finish(writeError(e, file, action)));
    worker.once("exit", (code) => finish(new SysfsError(`Cannot ${action}: the writer thread exited (${code}) without an answer`, { code: "EIO", path: file })));
  });
}

function writeError(e: unknown, file: string, action: string): SysfsError {
  const code = errnoCode(e);
  let why: string;
  switch (code) {
    case "EACCES":
    case "EPERM":
      why = `writing ${file} needs root (run as root, or ask an administrator to do it)`;
      break;
    case "ENOENT":
      why = `${file} does not exist`;
      break;
    case "EEXIST":
      why = `the kernel says it already exists (${file})`;
      break;
    case "ENOSPC":
      why = `the kernel has no capacity left (${file}: ENOSPC)`;
      break;
    case "EINVAL":
      why = `the kernel refused the value (${file}: EINVAL)`;
      break;
    case "EBUSY":
      why = `it is in use (${file}: EBUSY); release it first`;
      break;
    case "ELOOP":
      why = `${file} is a symbolic link; a sysfs attribute must be a regular file`;
      break;
    case "ENXIO":
      why = `${file} is not a regular file (a FIFO with no reader); a sysfs attribute must be one`;
      break;
    default:
      why = `${file}: ${describeCode(code)} (${code})`;
  }
  return new SysfsError(`Cannot ${action}: ${why}`, { code, path: file, cause: e });
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

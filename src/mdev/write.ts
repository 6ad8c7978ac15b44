/**
 * How the writers of `mdev.ts` write one sysfs attribute: only a regular file inside the
 * root, opened non-blocking and without following a final link, in one write(2); or the
 * same on a worker thread with a timeout, for writes the kernel may hold; and the errors
 * that say what to do.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { describeCode, errnoCode, SysfsError } from "../sysfs/errors.ts";

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
export type WriteWhere = { readonly action: string; readonly root: string };

export function writeAttribute(file: string, value: string, where: WriteWhere): void {
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
export function writeAttributeOffThread(file: string, value: string, where: WriteWhere, timeout: number, onTimeout: string): Promise<void> {
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

export function writeError(e: unknown, file: string, action: string): SysfsError {
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

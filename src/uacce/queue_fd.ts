/**
 * One UACCE queue: an open of `/dev/<name>-<id>` (each open is one queue), started with
 * `UACCE_CMD_START_Q`, its regions mapped once each, its completions signalled by the fd's
 * `POLLIN`, and its release in the order the kernel needs: `UACCE_CMD_PUT_Q`, unmap every
 * region (the instance comes back at the last unmap), then close.
 *
 * Two kernel facts shape it (both seen on Linux 6.1):
 * - After an unmap, mapping the same region again on the same fd fails (EEXIST): each
 *   region is mapped once per fd and the mapping is kept; a second `map` returns it.
 * - When the driver is removed with a queue open, the ioctls answer ENXIO, `poll` reports
 *   nothing, and any access to the mappings raises SIGBUS. `check` notices (the liveness
 *   probe is a second START_Q: EINVAL while the queue lives, ENXIO once it is gone), after
 *   which every use throws {@link DeviceRemovedError} and the mappings are unmapped without
 *   being touched, so views of them stop working instead of faulting. A store racing with
 *   the removal itself cannot be made safe from JavaScript.
 *
 * @module
 */

import { O_CLOEXEC, O_RDWR, POLLIN } from "../abi/libc.ts";
import { UACCE_CMD_PUT_Q, UACCE_CMD_START_Q, UACCE_MAX_REGION } from "../abi/uacce.ts";
import { errnoValue, errorCode } from "../sys/errno.ts";
import { ClosedError, closeAll, SyscallError, TimeoutError } from "../sys/error.ts";
import { MappedMemory, pageSize } from "../sys/mman.ts";
import { pollBlocking } from "../sys/poll.ts";
import { reactor } from "../sys/reactor.ts";
import { existsSync } from "node:fs";
import { close as closeFd, ioctl, ioctlErrno, open as openFd } from "../sys/fd.ts";

/** How long a wait for readiness sleeps before it checks that the driver is still there (ms). */
export const UACCE_LIVENESS_MS = 1000;

/**
 * The system calls a UACCE queue makes; the real ones by default, a stand-in in tests.
 * @internal
 */
export interface UacceSyscalls {
  /** open(2) with O_RDWR | O_CLOEXEC; throws SyscallError. */
  open(path: string): number;
  /** ioctl(2) without an argument; returns the result or throws SyscallError. */
  ioctl(fd: number, request: number, op: string, path: string): number;
  /** ioctl(2) without an argument that throws nothing: 0 on success, else the errno. */
  ioctlErrno(fd: number, request: number): number;
  /** A MAP_SHARED read-write mapping of `size` bytes at `offset`. */
  map(fd: number, offset: number, size: number, label: string, path: string): MappedMemory;
  /** close(2). */
  close(fd: number, path: string): void;
  /** Whether a path exists (the class entry). */
  exists(path: string): boolean;
}

/** The real system calls. @internal */
export const UACCE_SYSCALLS: UacceSyscalls = {
  open: (path) => openFd(path, O_RDWR | O_CLOEXEC),
  ioctl: (fd, request, op, path) => ioctl(fd, request, undefined, { op, path }),
  ioctlErrno: (fd, request) => ioctlErrno(fd, request),
  map: (fd, offset, size, label, path) => MappedMemory.mapFile(fd, offset, size, { label, path, op: label }),
  close: (fd, path) => closeFd(fd, { path }),
  exists: (path) => existsSync(path),
};

/**
 * The driver of a UACCE device was removed (rmmod, unbind) while a queue was open: the
 * queue answers nothing any more, and touching its memory would kill the process
 * (SIGBUS). Release the queue and request a new one. `code` is `"ENXIO"`.
 *
 * @example
 * ```ts
 * import { DeviceRemovedError, requestQueue } from "warpdrive";
 * const q = await requestQueue({ alg: "copy" });
 * try {
 *   q.poll();
 * } catch (e) {
 *   if (e instanceof DeviceRemovedError) await q.release();
 * }
 * ```
 */
export class DeviceRemovedError extends Error {
  /** Always `"ENXIO"`. */
  readonly code: string = "ENXIO";
  /** The device's name (`uacce_dummy-0`). */
  readonly device: string;

  constructor(action: string, device: string, evidence: string) {
    super(`Cannot ${action}: the driver of UACCE device "${device}" was removed (${evidence}); release the queue and request a new one`);
    this.name = "DeviceRemovedError";
    this.device = device;
  }
}

/** Where a UACCE device is and what its regions are. */
export interface UacceQueueOptions {
  /** Where the char device is: `<devRoot>/<devName>`; `/dev` by default. */
  readonly devRoot?: string;
  /** The class entry (`/sys/class/uacce/<devName>`), named when the driver is gone. */
  readonly classEntry?: string;
  /** The size of each region by type (`region_mmio_size`, `region_dus_size`); `null` for none. */
  readonly regionSizes: readonly (number | null)[];
  /** @internal Stand-in system calls for tests. */
  readonly syscalls?: UacceSyscalls;
  /** @internal How long a readiness wait sleeps between liveness checks (ms). */
  readonly livenessMs?: number;
}

const REGION_NAMES = ["MMIO", "DUS"];
const EINVAL = errnoValue("EINVAL");
const ENXIO = errnoValue("ENXIO");

/**
 * An opened and started UACCE queue (see the module's text).
 *
 * @example
 * ```ts
 * import { UACCE_QFRT_MMIO } from "warpdrive/abi";
 * import { UacceQueueFd } from "./queue_fd.ts";
 * using q = UacceQueueFd.open("uacce_dummy-0", { regionSizes: [4096, 65536] });
 * const regs = q.map(UACCE_QFRT_MMIO);
 * ```
 */
export class UacceQueueFd {
  readonly devName: string;
  readonly path: string;
  #fd: number;
  #sys: UacceSyscalls;
  #sizes: readonly (number | null)[];
  #classEntry: string | undefined;
  #livenessMs: number;
  #maps: (MappedMemory | undefined)[] = [];
  #closed = false;
  #removed: string | undefined;

  private constructor(devName: string, path: string, fd: number, options: UacceQueueOptions, sys: UacceSyscalls) {
    this.devName = devName;
    this.path = path;
    this.#fd = fd;
    this.#sys = sys;
    this.#sizes = options.regionSizes;
    this.#classEntry = options.classEntry;
    this.#livenessMs = options.livenessMs ?? UACCE_LIVENESS_MS;
  }

  /**
   * Opens the device (one open is one queue) and starts its queue.
   *
   * @throws {SyscallError} From open (EBUSY, or the driver's errno, when every queue of the
   *   device is taken; ENOENT when the device is gone) or from START_Q (the fd is closed again).
   */
  static open(devName: string, options: UacceQueueOptions): UacceQueueFd {
    const sys = options.syscalls ?? UACCE_SYSCALLS;
    const path = `${options.devRoot ?? "/dev"}/${devName}`;
    const fd = sys.open(path);
    try {
      sys.ioctl(fd, UACCE_CMD_START_Q, "UACCE_CMD_START_Q", path);
    } catch (e) {
      try {
        sys.close(fd, path);
      } catch { /* the START_Q failure is the one to report */ }
      throw e;
    }
    return new UacceQueueFd(devName, path, fd, options, sys);
  }

  /**
   * The fd, for the reactor.
   *
   * @throws {ClosedError} After release.
   */
  get fd(): number {
    if (this.#closed) throw new ClosedError("use the fd", `UACCE queue "${this.path}"`);
    return this.#fd;
  }

  /** Whether the driver was found removed. */
  get removed(): boolean {
    return this.#removed !== undefined;
  }

  #usable(action: string): void {
    if (this.#closed) throw new ClosedError(action, `UACCE queue "${this.path}"`);
    if (this.#removed !== undefined) throw new DeviceRemovedError(action, this.devName, this.#removed);
  }

  /**
   * Maps a whole region (`UACCE_QFRT_MMIO` or `UACCE_QFRT_DUS`) the first time; later calls
   * return the same mapping (Linux 6.1 refuses a second mapping of a region on one fd).
   *
   * @throws {RangeError} For a region type the device does not have.
   * @throws {DeviceRemovedError} Once the driver is known to be gone.
   * @throws {SyscallError} From mmap.
   */
  map(qfrt: number): MappedMemory {
    this.#usable(`map region ${qfrt} of ${this.path}`);
    const known = this.#maps[qfrt];
    if (known !== undefined) return known;
    const size = Number.isInteger(qfrt) && qfrt >= 0 && qfrt < UACCE_MAX_REGION ? this.#sizes[qfrt] ?? null : null;
    if (size === null || size <= 0) {
      throw new RangeError(`Cannot map region ${qfrt} of ${this.path}: the device has no such region (sizes: ${JSON.stringify(this.#sizes)})`);
    }
    const label = `UACCE ${REGION_NAMES[qfrt]} region of "${this.path}"`;
    const m = this.#sys.map(this.#fd, qfrt * pageSize(), size, label, this.path);
    this.#maps[qfrt] = m;
    return m;
  }

  /**
   * Throws when the driver is gone, before anything touches the mappings: a second
   * START_Q answers EINVAL while the queue lives and ENXIO once its driver was removed.
   * On ENXIO the mappings are unmapped at once, untouched (their views stop working).
   * The probe's expected answer costs the system call only: the errno comes back as a
   * number, and an error object is made only for an answer that is not EINVAL.
   *
   * @throws {DeviceRemovedError} When the driver was removed.
   * @throws {SyscallError} For any other failure of the probe (EBADF, …).
   * @throws {ClosedError} After release.
   */
  check(action: string): void {
    this.#usable(action);
    const e = this.#sys.ioctlErrno(this.#fd, UACCE_CMD_START_Q);
    if (e === EINVAL || e === 0) return; // started already (or started now): alive
    if (e !== ENXIO) throw new SyscallError(e, { syscall: "ioctl", op: "UACCE_CMD_START_Q", path: this.path });
    const gone = this.#classEntry !== undefined && !this.#sys.exists(this.#classEntry);
    this.#removed = `UACCE_CMD_START_Q answered ENXIO${gone ? `; ${this.#classEntry} no longer exists` : ""}`;
    this.#dropMappings();
    throw new DeviceRemovedError(action, this.devName, this.#removed);
  }

  /** Unmaps every region without touching it; failures are not reported (the device is gone). */
  #dropMappings(): void {
    for (const m of this.#maps) {
      try {
        m?.close();
      } catch { /* nothing to report to: the device is gone */ }
    }
  }

  /**
   * Resolves when the fd is readable (the driver's `is_q_updated`: completions the queue
   * has not consumed). Every `UACCE_LIVENESS_MS` of quiet it checks the driver is still
   * there, since a removed driver's fd never becomes readable.
   *
   * @throws The signal's reason when aborted.
   * @throws {DeviceRemovedError} When the driver was removed meanwhile.
   */
  async ready(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      this.#usable("wait for completions");
      try {
        await reactor().readable(this.#fd, { timeout: this.#livenessMs, signal: options.signal, label: `UACCE queue "${this.path}"` });
        return;
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
      }
      if (this.#closed) throw new ClosedError("wait for completions", `UACCE queue "${this.path}"`);
      this.check("wait for completions");
    }
  }

  /**
   * Like `ready`, but blocks the calling thread in poll(2), checking every
   * `UACCE_LIVENESS_MS` of quiet that the driver is still there: for a thread given to a
   * data path (a Worker), as a C client sleeps.
   *
   * @throws {TimeoutError} After `timeout` ms.
   * @throws {DeviceRemovedError} When the driver was removed meanwhile.
   */
  readySync(options: { readonly timeout?: number } = {}): void {
    const { timeout } = options;
    const deadline = timeout === undefined ? Infinity : performance.now() + timeout;
    const label = `UACCE queue "${this.path}"`;
    for (;;) {
      this.#usable("wait for completions");
      const left = deadline - performance.now();
      if (pollBlocking(this.#fd, POLLIN, Math.max(0, Math.min(left, this.#livenessMs)), { op: "wait for completions", path: this.path }) !== 0) return;
      if (this.#closed) throw new ClosedError("wait for completions", label);
      this.check("wait for completions");
      if (left <= this.#livenessMs) throw new TimeoutError(`wait for completions on ${label}`, timeout!);
    }
  }

  /**
   * Gives the queue back (idempotent): `UACCE_CMD_PUT_Q` (skipped once the driver is gone),
   * then every region is unmapped (the kernel frees the instance at the last unmap), then
   * the fd is closed. Goes on past a failure and reports every failure at the end.
   *
   * @throws The failures (an AggregateError when several).
   */
  release(): void {
    if (this.#closed) return;
    this.#closed = true;
    const put = (): void => {
      try {
        this.#sys.ioctl(this.#fd, UACCE_CMD_PUT_Q, "UACCE_CMD_PUT_Q", this.path);
      } catch (e) {
        // ENXIO: the driver went away before the release; the queue is gone with it.
        if (errorCode(e) !== "ENXIO") throw e;
      }
    };
    const unmaps = this.#maps.filter((m) => m !== undefined).map((m) => () => m.close());
    const close = (): void => {
      reactor().cancel(this.#fd, new ClosedError("wait for completions", `UACCE queue "${this.path}"`));
      this.#sys.close(this.#fd, this.path);
    };
    // No PUT_Q once the driver is known gone: it would only answer ENXIO.
    const steps = [...(this.#removed === undefined ? [put] : []), ...unmaps, close];
    this.#maps = [];
    closeAll(`UACCE queue "${this.path}"`, steps);
  }

  /** Same as `release()`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

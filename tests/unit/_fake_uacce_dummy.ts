/**
 * A user-space stand-in for the dummy UACCE driver (scripts/rig/kmod/PROTOCOL_UACCE.md),
 * for queue tests without a kernel: the system calls of a UACCE queue (open, the START_Q
 * and PUT_Q ioctls, mmap of each region, close) over anonymous memory, logged in order, and
 * the device's work on the rings. Each open's "fd" is a real eventfd, readable while the
 * queue has completions user space has not consumed, as the driver's `is_q_updated` makes
 * the char device; the reactor waits on it for real. The kernel module is tested in the rig.
 */
import { UACCE_CMD_PUT_Q, UACCE_CMD_START_Q } from "../../src/abi/uacce.ts";
import * as L from "../../src/drivers/uacce_dummy_v1_layout.ts";
import { errnoValue } from "../../src/sys/errno.ts";
import { SyscallError } from "../../src/sys/error.ts";
import { EventFd } from "../../src/sys/eventfd.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import type { UacceSyscalls } from "../../src/uacce/queue_fd.ts";
import { crc32 } from "./_fake_wd_dummy.ts";

/** One open of the device: one queue. */
export class FakeUacceQueue {
  readonly efd = EventFd.create({ label: "fake UACCE queue fd" });
  readonly maps: (MappedMemory | undefined)[] = [];
  started = false;
  put = false;
  closed = false;
  #signalled = false;

  readonly dev: FakeUacceDevice;

  constructor(dev: FakeUacceDevice) {
    this.dev = dev;
  }

  get mmio(): MappedMemory {
    return this.maps[0]!;
  }

  get dus(): MappedMemory {
    return this.maps[1]!;
  }

  /** Consumes every request up to the doorbell and writes its completion. Returns how many. */
  step(): number {
    if (!this.started || this.put || this.dev.removed) return 0;
    const c = this.mmio, q = this.dus;
    const doorbell = c.read32(L.UACCE_DUMMY_V1_REG_DOORBELL);
    let head = c.read32(L.UACCE_DUMMY_V1_REG_SQ_HEAD);
    let tail = c.read32(L.UACCE_DUMMY_V1_REG_CQ_TAIL);
    let n = 0;
    while (head !== doorbell && ((tail - c.read32(L.UACCE_DUMMY_V1_REG_CQ_HEAD)) >>> 0) < L.UACCE_DUMMY_V1_CQ_ENTRIES) {
      const d = L.UACCE_DUMMY_V1_SQ_OFFSET + (head & (L.UACCE_DUMMY_V1_SQ_ENTRIES - 1)) * L.UACCE_DUMMY_V1_REQ_SIZE;
      const op = q.read16(d + L.UACCE_DUMMY_V1_REQ_OFF_OPCODE);
      const flags = q.read16(d + L.UACCE_DUMMY_V1_REQ_OFF_FLAGS);
      const id = q.read32(d + L.UACCE_DUMMY_V1_REQ_OFF_ID);
      const src = Number(q.read64(d + L.UACCE_DUMMY_V1_REQ_OFF_SRC));
      const dst = Number(q.read64(d + L.UACCE_DUMMY_V1_REQ_OFF_DST));
      const len = q.read32(d + L.UACCE_DUMMY_V1_REQ_OFF_LEN);
      const rsvd = q.read32(d + L.UACCE_DUMMY_V1_REQ_OFF_RSVD);
      const inArena = (a: number) => a >= L.UACCE_DUMMY_V1_ARENA_OFFSET && a + len <= L.UACCE_DUMMY_V1_ARENA_OFFSET + L.UACCE_DUMMY_V1_ARENA_SIZE;
      const has = (bit: number) => (this.dev.algos & bit) !== 0;
      let status = L.UACCE_DUMMY_V1_ST_OK, result = 0;
      // The protocol's order of checks: opcode, fields, length, arena bounds, overlap.
      if (op === L.UACCE_DUMMY_V1_OP_NOP) {
        if (flags !== 0 || rsvd !== 0 || src !== 0 || dst !== 0 || len !== 0) status = L.UACCE_DUMMY_V1_ST_BAD_FIELD;
      } else if (!(op === L.UACCE_DUMMY_V1_OP_COPY && has(L.UACCE_DUMMY_V1_ALGO_COPY)) && !(op === L.UACCE_DUMMY_V1_OP_CRC32 && has(L.UACCE_DUMMY_V1_ALGO_CRC32))) {
        status = L.UACCE_DUMMY_V1_ST_BAD_OPCODE;
      } else if (flags !== 0 || rsvd !== 0 || (op === L.UACCE_DUMMY_V1_OP_CRC32 && dst !== 0)) status = L.UACCE_DUMMY_V1_ST_BAD_FIELD;
      else if (len === 0 || len > L.UACCE_DUMMY_V1_MAX_LEN) status = L.UACCE_DUMMY_V1_ST_BAD_LEN;
      else if (!inArena(src) || (op === L.UACCE_DUMMY_V1_OP_COPY && !inArena(dst))) status = L.UACCE_DUMMY_V1_ST_BAD_ADDR;
      else if (op === L.UACCE_DUMMY_V1_OP_COPY && src < dst + len && dst < src + len) status = L.UACCE_DUMMY_V1_ST_OVERLAP;
      else if (op === L.UACCE_DUMMY_V1_OP_COPY) {
        q.copyIn(dst, q.copyOut(src, len));
        result = len;
      } else result = crc32(q.copyOut(src, len));
      const e = L.UACCE_DUMMY_V1_CQ_OFFSET + (tail & (L.UACCE_DUMMY_V1_CQ_ENTRIES - 1)) * L.UACCE_DUMMY_V1_CPL_SIZE;
      q.write32(e + L.UACCE_DUMMY_V1_CPL_OFF_ID, id);
      q.write16(e + L.UACCE_DUMMY_V1_CPL_OFF_STATUS, status);
      q.write16(e + L.UACCE_DUMMY_V1_CPL_OFF_OPCODE, op);
      q.write32(e + L.UACCE_DUMMY_V1_CPL_OFF_RESULT, result);
      q.write32(e + L.UACCE_DUMMY_V1_CPL_OFF_SQ_INDEX, head);
      head = (head + 1) >>> 0;
      tail = (tail + 1) >>> 0;
      c.write32(L.UACCE_DUMMY_V1_REG_SQ_HEAD, head);
      c.write32(L.UACCE_DUMMY_V1_REG_CQ_TAIL, tail);
      n++;
    }
    if (this.dev.signals) this.sync();
    return n;
  }

  /** The fd's readiness follows `is_q_updated`: readable while CQ_TAIL ≠ the user's CQ_HEAD. */
  sync(): void {
    if (this.closed || this.put || this.dev.removed || this.maps[0] === undefined || this.mmio.closed) return;
    const updated = this.mmio.read32(L.UACCE_DUMMY_V1_REG_CQ_TAIL) !== this.mmio.read32(L.UACCE_DUMMY_V1_REG_CQ_HEAD);
    if (updated && !this.#signalled) this.efd.signal();
    if (!updated && this.#signalled) this.efd.take();
    this.#signalled = updated;
  }
}

/** One UACCE device: its queues, the calls made to it, and what it does. */
export class FakeUacceDevice {
  readonly log: string[] = [];
  readonly queues = new Map<number, FakeUacceQueue>();
  removed = false;
  /** Whether step() updates the fd's readiness (false: only an explicit sync() does). */
  signals = true;
  opens = 0;

  readonly devName: string;
  readonly algos: number;
  readonly maxQueues: number;

  constructor(devName: string, algos: number = L.UACCE_DUMMY_V1_ALGO_COPY | L.UACCE_DUMMY_V1_ALGO_CRC32, maxQueues: number = L.UACCE_DUMMY_V1_DEFAULT_QUEUES) {
    this.devName = devName;
    this.algos = algos;
    this.maxQueues = maxQueues;
  }

  /** Queues in use: open, or still mapped (an instance returns at the last unmap). */
  get inUse(): number {
    return [...this.queues.values()].filter((q) => !q.closed || q.maps.some((m) => m !== undefined && !m.closed)).length;
  }

  /** The one queue opened last. */
  get last(): FakeUacceQueue {
    return [...this.queues.values()].at(-1)!;
  }

  /** Steps every started queue. */
  step(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.step();
    return n;
  }
}

const err = (name: string, syscall: string, op?: string, path?: string) => new SyscallError(errnoValue(name), { syscall, op, path });

/** The system calls of UACCE queues on fake devices, by `/dev` path. */
export function fakeSyscalls(devices: readonly FakeUacceDevice[], devRoot = "/dev"): UacceSyscalls {
  const byPath = new Map(devices.map((d) => [`${devRoot}/${d.devName}`, d]));
  const byFd = new Map<number, FakeUacceQueue>();
  const queue = (fd: number) => byFd.get(fd) ?? (() => { throw err("EBADF", "ioctl"); })();
  return {
    open(path) {
      const d = byPath.get(path);
      if (d === undefined || d.removed) throw err("ENOENT", "open", undefined, path);
      if (d.inUse >= d.maxQueues) throw err("EBUSY", "open", undefined, path);
      const q = new FakeUacceQueue(d);
      const fd = q.efd.fd;
      d.queues.set(fd, q);
      byFd.set(fd, q);
      d.opens++;
      d.log.push("open");
      return fd;
    },
    ioctl(fd, request, op, path) {
      const q = queue(fd);
      const d = q.dev;
      d.log.push(`ioctl ${op}`);
      if (d.removed || q.put) throw err("ENXIO", "ioctl", op, path);
      if (request === UACCE_CMD_START_Q) {
        if (q.started) throw err("EINVAL", "ioctl", op, path);
        q.started = true;
        return 0;
      }
      if (request === UACCE_CMD_PUT_Q) {
        q.put = true;
        return 0;
      }
      throw err("EINVAL", "ioctl", op, path);
    },
    ioctlErrno(fd, request) {
      try {
        this.ioctl(fd, request, request === UACCE_CMD_START_Q ? "UACCE_CMD_START_Q" : request === UACCE_CMD_PUT_Q ? "UACCE_CMD_PUT_Q" : String(request), "");
        return 0;
      } catch (e) {
        if (e instanceof SyscallError) return e.errno;
        throw e;
      }
    },
    map(fd, offset, size, label, path) {
      const q = queue(fd);
      const qfrt = offset / 4096;
      q.dev.log.push(`mmap ${qfrt}`);
      // Linux 6.1: a region is mapped once per fd, even after its munmap.
      if (q.maps[qfrt] !== undefined) throw err("EEXIST", "mmap", label, path);
      const want = qfrt === 0 ? L.UACCE_DUMMY_V1_MMIO_SIZE : L.UACCE_DUMMY_V1_DUS_SIZE;
      if (size !== want) throw err("EINVAL", "mmap", label, path);
      if (q.dev.removed) throw err("ENXIO", "mmap", label, path);
      const m = MappedMemory.anonymous(size, { label });
      if (qfrt === 0) {
        // What the driver's get_queue writes: the identification registers.
        const regs: [number, number][] = [
          [L.UACCE_DUMMY_V1_REG_MAGIC, L.UACCE_DUMMY_V1_MAGIC],
          [L.UACCE_DUMMY_V1_REG_VERSION, L.UACCE_DUMMY_V1_VERSION],
          [L.UACCE_DUMMY_V1_REG_SQ_ENTRIES, L.UACCE_DUMMY_V1_SQ_ENTRIES],
          [L.UACCE_DUMMY_V1_REG_CQ_ENTRIES, L.UACCE_DUMMY_V1_CQ_ENTRIES],
          [L.UACCE_DUMMY_V1_REG_MAX_LEN, L.UACCE_DUMMY_V1_MAX_LEN],
          [L.UACCE_DUMMY_V1_REG_SQ_OFFSET, L.UACCE_DUMMY_V1_SQ_OFFSET],
          [L.UACCE_DUMMY_V1_REG_CQ_OFFSET, L.UACCE_DUMMY_V1_CQ_OFFSET],
          [L.UACCE_DUMMY_V1_REG_ALGOS, q.dev.algos],
          [L.UACCE_DUMMY_V1_REG_ARENA_OFFSET, L.UACCE_DUMMY_V1_ARENA_OFFSET],
          [L.UACCE_DUMMY_V1_REG_ARENA_SIZE, L.UACCE_DUMMY_V1_ARENA_SIZE],
          [L.UACCE_DUMMY_V1_REG_DUS_SIZE, L.UACCE_DUMMY_V1_DUS_SIZE],
        ];
        for (const [at, v] of regs) m.write32(at, v);
      }
      const close = m.close.bind(m);
      m.close = () => {
        if (!m.closed) q.dev.log.push(`munmap ${qfrt}`);
        close();
      };
      q.maps[qfrt] = m;
      return m;
    },
    close(fd) {
      const q = queue(fd);
      q.dev.log.push("close");
      q.closed = true;
      byFd.delete(fd);
      q.efd.close();
    },
    exists(path) {
      const name = path.split("/").pop()!;
      return devices.some((d) => d.devName === name && !d.removed);
    },
  };
}

// The uacce_dummy_v1 protocol on the real kernel, through raw system calls only (open,
// ioctl, mmap, poll): the UACCE framework (uacce.ko, built by the rig from Debian's
// linux-source) and the dummy driver (scripts/rig/kmod/uacce_dummy.c), as
// scripts/rig/kmod/PROTOCOL_UACCE.md describes them.
// Runs as root inside the kernel rig; fails (never skips) outside it.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import * as L from "../../src/drivers/uacce_dummy_v1_layout.ts";
import {
  _IO,
  Fd,
  MAP_PRIVATE,
  MAP_SHARED,
  MappedMemory,
  mmap,
  O_CLOEXEC,
  O_RDWR,
  pageSize,
  POLLIN,
  pollNow,
  PROT_READ,
  PROT_WRITE,
  reactor,
  SyscallError,
} from "../../src/sys/mod.ts";
import { kernelProblems, run, start } from "./kmod_harness.ts";
import {
  freshUacceAround,
  reloadUacce,
  requireUacce,
  UACCE_CLASS,
  uacceAttr,
  uacceCounter,
  uacceDeviceName,
  uacceDummyDevices,
  unloadUacce,
} from "./uacce_harness.ts";

const START_Q = _IO("W", 0);
const PUT_Q = _IO("W", 1);
const ARENA = L.UACCE_DUMMY_V1_ARENA_OFFSET;
const REG = (off: number): number => off / 4;

/** CRC-32 of IEEE 802.3 (zlib's crc32), computed here, bit by bit. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Deterministic bytes (xorshift32), so a failure can be reproduced. */
function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function errCode(f: () => unknown): string {
  try {
    f();
    return "no error";
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}

interface Request {
  readonly opcode: number;
  readonly id: number;
  readonly src?: number;
  readonly dst?: number;
  readonly len?: number;
  readonly flags?: number;
  readonly rsvd?: number;
}

interface Completion {
  readonly id: number;
  readonly status: number;
  readonly opcode: number;
  readonly result: number;
  readonly sqIndex: number;
}

/** One open, started, mapped queue, driven by hand. */
class Queue {
  readonly fd: Fd;
  readonly mmio: MappedMemory;
  readonly dus: MappedMemory;
  readonly regs: Uint32Array;
  readonly name: string;
  tail = 0;
  head = 0;

  constructor(name: string) {
    this.name = name;
    this.fd = Fd.open(`/dev/${name}`, O_RDWR | O_CLOEXEC);
    this.fd.ioctl(START_Q, undefined, "UACCE_CMD_START_Q");
    const page = pageSize();
    this.mmio = MappedMemory.mapFile(this.fd.fd, L.UACCE_DUMMY_V1_QFRT_MMIO * page, L.UACCE_DUMMY_V1_MMIO_SIZE, { label: "MMIO" });
    this.dus = MappedMemory.mapFile(this.fd.fd, L.UACCE_DUMMY_V1_QFRT_DUS * page, L.UACCE_DUMMY_V1_DUS_SIZE, { label: "DUS" });
    this.regs = this.mmio.view(Uint32Array, 0, L.UACCE_DUMMY_V1_MMIO_SIZE / 4);
  }

  reg(off: number): number {
    return Atomics.load(this.regs, REG(off));
  }

  /** Writes the descriptor into the next slot (does not ring). */
  put(r: Request): void {
    const at = L.UACCE_DUMMY_V1_SQ_OFFSET + (this.tail & (L.UACCE_DUMMY_V1_SQ_ENTRIES - 1)) * L.UACCE_DUMMY_V1_REQ_SIZE;
    this.dus.write16(at + L.UACCE_DUMMY_V1_REQ_OFF_OPCODE, r.opcode);
    this.dus.write16(at + L.UACCE_DUMMY_V1_REQ_OFF_FLAGS, r.flags ?? 0);
    this.dus.write32(at + L.UACCE_DUMMY_V1_REQ_OFF_ID, r.id);
    this.dus.write64(at + L.UACCE_DUMMY_V1_REQ_OFF_SRC, r.src ?? 0);
    this.dus.write64(at + L.UACCE_DUMMY_V1_REQ_OFF_DST, r.dst ?? 0);
    this.dus.write32(at + L.UACCE_DUMMY_V1_REQ_OFF_LEN, r.len ?? 0);
    this.dus.write32(at + L.UACCE_DUMMY_V1_REQ_OFF_RSVD, r.rsvd ?? 0);
    this.tail = (this.tail + 1) >>> 0;
  }

  ring(value = this.tail): void {
    Atomics.store(this.regs, REG(L.UACCE_DUMMY_V1_REG_DOORBELL), value);
  }

  submit(...rs: Request[]): void {
    for (const r of rs) this.put(r);
    this.ring();
  }

  /** Waits (poll readiness through the reactor) for completion `head`; does not consume it. */
  async peek(timeout = 60_000): Promise<Completion> {
    while (this.reg(L.UACCE_DUMMY_V1_REG_CQ_TAIL) === this.head) {
      await reactor().readable(this.fd.fd, { timeout, label: `${this.name} completions` });
    }
    const at = L.UACCE_DUMMY_V1_CQ_OFFSET + (this.head & (L.UACCE_DUMMY_V1_CQ_ENTRIES - 1)) * L.UACCE_DUMMY_V1_CPL_SIZE;
    return {
      id: this.dus.read32(at + L.UACCE_DUMMY_V1_CPL_OFF_ID),
      status: this.dus.read16(at + L.UACCE_DUMMY_V1_CPL_OFF_STATUS),
      opcode: this.dus.read16(at + L.UACCE_DUMMY_V1_CPL_OFF_OPCODE),
      result: this.dus.read32(at + L.UACCE_DUMMY_V1_CPL_OFF_RESULT),
      sqIndex: this.dus.read32(at + L.UACCE_DUMMY_V1_CPL_OFF_SQ_INDEX),
    };
  }

  consume(): void {
    this.head = (this.head + 1) >>> 0;
    Atomics.store(this.regs, REG(L.UACCE_DUMMY_V1_REG_CQ_HEAD), this.head);
  }

  async next(timeout?: number): Promise<Completion> {
    const c = await this.peek(timeout);
    this.consume();
    return c;
  }

  async run(r: Request): Promise<Completion> {
    this.submit(r);
    return this.next();
  }

  /** The release order: PUT_Q, munmap every region, close. */
  release(): void {
    this.fd.ioctl(PUT_Q, undefined, "UACCE_CMD_PUT_Q");
    this.mmio.close();
    this.dus.close();
    this.fd.close();
  }
}

function available(name: string): number {
  return Number(uacceAttr(name, "available_instances"));
}

describe("protocol: uacce_dummy_v1 through the UACCE framework", () => {
  freshUacceAround();

  test("sysfs: three devices with the api, flags 0, their algorithms, two instances and the region sizes", () => {
    requireUacce();
    const devs = uacceDummyDevices();
    expect(devs.map((d) => [d.index, d.algorithms])).toEqual([
      [0, ["copy", "crc32"]],
      [1, ["copy"]],
      [2, ["crc32"]],
    ]);
    for (const d of devs) {
      expect(d.name).toMatch(/^uacce_dummy-[0-9]+$/);
      expect(uacceAttr(d.name, "api")).toBe(L.UACCE_DUMMY_V1_API);
      expect(uacceAttr(d.name, "flags")).toBe(String(L.UACCE_DUMMY_V1_FLAGS));
      expect(available(d.name)).toBe(L.UACCE_DUMMY_V1_DEFAULT_QUEUES);
      expect(Number(uacceAttr(d.name, "region_mmio_size"))).toBe(L.UACCE_DUMMY_V1_MMIO_SIZE);
      expect(Number(uacceAttr(d.name, "region_dus_size"))).toBe(L.UACCE_DUMMY_V1_DUS_SIZE);
      expect(existsSync(`/dev/${d.name}`)).toBe(true);
      for (const c of ["opens", "releases", "requests", "errors", "refused"]) expect(uacceCounter(d.name, c)).toBe(0);
    }
  });

  test("the module parameters set the number of devices and of queues; bad values refuse to load", () => {
    requireUacce();
    try {
      reloadUacce({ devices: 1, queues: 5 });
      const devs = uacceDummyDevices();
      expect(devs.map((d) => d.index)).toEqual([0]);
      expect(available(devs[0]!.name)).toBe(5);
      expect(() => reloadUacce({ queues: 0 })).toThrow(/insmod .*queues=0 failed/);
      expect(existsSync(UACCE_CLASS) ? uacceDummyDevices() : []).toEqual([]);
    } finally {
      reloadUacce();
    }
  }, 60_000);

  test("a started queue shows its registers: magic, version, geometry, algorithms, READY", () => {
    requireUacce();
    const q = new Queue(uacceDeviceName(0));
    try {
      expect(q.reg(L.UACCE_DUMMY_V1_REG_MAGIC)).toBe(L.UACCE_DUMMY_V1_MAGIC);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_VERSION)).toBe(L.UACCE_DUMMY_V1_VERSION);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_SQ_ENTRIES)).toBe(L.UACCE_DUMMY_V1_SQ_ENTRIES);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_CQ_ENTRIES)).toBe(L.UACCE_DUMMY_V1_CQ_ENTRIES);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_MAX_LEN)).toBe(L.UACCE_DUMMY_V1_MAX_LEN);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_SQ_OFFSET)).toBe(L.UACCE_DUMMY_V1_SQ_OFFSET);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_CQ_OFFSET)).toBe(L.UACCE_DUMMY_V1_CQ_OFFSET);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ALGOS)).toBe(L.UACCE_DUMMY_V1_ALGO_COPY | L.UACCE_DUMMY_V1_ALGO_CRC32);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ARENA_OFFSET)).toBe(L.UACCE_DUMMY_V1_ARENA_OFFSET);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ARENA_SIZE)).toBe(L.UACCE_DUMMY_V1_ARENA_SIZE);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_DUS_SIZE)).toBe(L.UACCE_DUMMY_V1_DUS_SIZE);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(L.UACCE_DUMMY_V1_STATUS_READY);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ERROR)).toBe(L.UACCE_DUMMY_V1_ERR_NONE);
      expect([q.reg(L.UACCE_DUMMY_V1_REG_SQ_HEAD), q.reg(L.UACCE_DUMMY_V1_REG_CQ_TAIL)]).toEqual([0, 0]);
      expect(q.dus.read32(ARENA)).toBe(0);
    } finally {
      q.release();
    }
    for (const i of [1, 2]) {
      const other = new Queue(uacceDeviceName(i));
      const bits = i === 1 ? L.UACCE_DUMMY_V1_ALGO_COPY : L.UACCE_DUMMY_V1_ALGO_CRC32;
      expect(other.reg(L.UACCE_DUMMY_V1_REG_ALGOS)).toBe(bits);
      other.release();
    }
  });

  test("a copy request copies inside the arena; poll says readable until CQ_HEAD is stored", async () => {
    requireUacce();
    const name = uacceDeviceName(0);
    const q = new Queue(name);
    try {
      const data = pattern(5000, 1);
      q.dus.bytes(ARENA, data.length).set(data);
      expect(pollNow(q.fd.fd, POLLIN)).toBe(0);
      q.submit({ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 0x1234, src: ARENA, dst: ARENA + 0x10000, len: data.length });
      const c = await q.peek();
      expect(c).toEqual({ id: 0x1234, status: L.UACCE_DUMMY_V1_ST_OK, opcode: L.UACCE_DUMMY_V1_OP_COPY, result: data.length, sqIndex: 0 });
      expect(pollNow(q.fd.fd, POLLIN)).toBe(POLLIN);
      q.consume();
      expect(pollNow(q.fd.fd, POLLIN)).toBe(0);
      expect(q.dus.bytes(ARENA + 0x10000, data.length)).toEqual(data);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_SQ_HEAD)).toBe(1);
      expect(q.mmio.read64(L.UACCE_DUMMY_V1_REG_COMPLETED)).toBe(1n);
      expect(uacceCounter(name, "requests")).toBe(1);
    } finally {
      q.release();
    }
  }, 120_000);

  test("CRC-32 requests return zlib's CRC of the arena bytes (checked against one computed here)", async () => {
    requireUacce();
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    for (const index of [0, 2]) {
      const q = new Queue(uacceDeviceName(index));
      try {
        const ascii = new TextEncoder().encode("123456789");
        q.dus.bytes(ARENA, ascii.length).set(ascii);
        const first = await q.run({ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 1, src: ARENA, len: ascii.length });
        expect(first).toEqual({ id: 1, status: L.UACCE_DUMMY_V1_ST_OK, opcode: L.UACCE_DUMMY_V1_OP_CRC32, result: 0xcbf43926, sqIndex: 0 });
        // The whole arena, and an unaligned slice at its very end.
        const big = pattern(L.UACCE_DUMMY_V1_ARENA_SIZE, 7 + index);
        q.dus.bytes(ARENA, big.length).set(big);
        const whole = await q.run({ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 2, src: ARENA, len: L.UACCE_DUMMY_V1_MAX_LEN });
        expect([whole.status, whole.result]).toEqual([L.UACCE_DUMMY_V1_ST_OK, crc32(big)]);
        const end = L.UACCE_DUMMY_V1_DUS_SIZE;
        const tailSlice = await q.run({ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 3, src: end - 77, len: 77 });
        expect([tailSlice.status, tailSlice.result]).toEqual([L.UACCE_DUMMY_V1_ST_OK, crc32(big.subarray(big.length - 77))]);
      } finally {
        q.release();
      }
    }
  }, 120_000);

  test("500 mixed requests in batches over the ring's wrap complete in order with checked results", async () => {
    requireUacce();
    const q = new Queue(uacceDeviceName(0));
    try {
      const src = pattern(0x8000, 99);
      q.dus.bytes(ARENA, src.length).set(src);
      const expected: Array<[number, number]> = [];
      let id = 0;
      while (id < 500) {
        const batch: Request[] = [];
        for (let k = 0; k < 40 && id < 500; k++, id++) {
          const off = (id * 131) % 0x4000;
          const len = 1 + ((id * 977) % 0x1000);
          if (id % 3 === 0) {
            batch.push({ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id, src: ARENA + off, len });
            expected.push([id, crc32(src.subarray(off, off + len))]);
          } else if (id % 3 === 1) {
            batch.push({ opcode: L.UACCE_DUMMY_V1_OP_COPY, id, src: ARENA + off, dst: ARENA + 0x10000 + k * 0x1000, len }); // own slot in the batch
            expected.push([id, len]);
          } else {
            batch.push({ opcode: L.UACCE_DUMMY_V1_OP_NOP, id });
            expected.push([id, 0]);
          }
        }
        q.submit(...batch);
        for (const r of batch) {
          const c = await q.next();
          expect([c.id, c.status, c.result]).toEqual([r.id, L.UACCE_DUMMY_V1_ST_OK, expected[r.id]![1]]);
          expect(c.sqIndex).toBe(r.id);
          if (r.opcode === L.UACCE_DUMMY_V1_OP_COPY) {
            const off = r.src! - ARENA;
            expect(q.dus.bytes(r.dst!, r.len!)).toEqual(src.subarray(off, off + r.len!));
          }
        }
      }
      expect(q.reg(L.UACCE_DUMMY_V1_REG_CQ_TAIL)).toBe(500);
      expect(q.mmio.read64(L.UACCE_DUMMY_V1_REG_COMPLETED)).toBe(500n);
      expect(q.mmio.read64(L.UACCE_DUMMY_V1_REG_FAILED)).toBe(0n);
    } finally {
      q.release();
    }
  }, 180_000);

  test("bad requests get error completions and leave the arena untouched", async () => {
    requireUacce();
    const name = uacceDeviceName(0);
    const errorsBefore = uacceCounter(name, "errors");
    const q = new Queue(name);
    try {
      const data = pattern(256, 5);
      q.dus.bytes(ARENA, 256).set(data);
      const E = L.UACCE_DUMMY_V1_DUS_SIZE;
      const cases: Array<[Request, number]> = [
        [{ opcode: 99, id: 1, src: ARENA, dst: ARENA + 4096, len: 16 }, L.UACCE_DUMMY_V1_ST_BAD_OPCODE],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 2, src: ARENA, dst: ARENA + 4096, len: 16, flags: 1 }, L.UACCE_DUMMY_V1_ST_BAD_FIELD],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 3, src: ARENA, dst: ARENA + 4096, len: 16, rsvd: 1 }, L.UACCE_DUMMY_V1_ST_BAD_FIELD],
        [{ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 4, src: ARENA, dst: ARENA + 4096, len: 16 }, L.UACCE_DUMMY_V1_ST_BAD_FIELD],
        [{ opcode: L.UACCE_DUMMY_V1_OP_NOP, id: 5, len: 1 }, L.UACCE_DUMMY_V1_ST_BAD_FIELD],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 6, src: ARENA, dst: ARENA + 4096, len: 0 }, L.UACCE_DUMMY_V1_ST_BAD_LEN],
        [{ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 7, src: ARENA, len: L.UACCE_DUMMY_V1_MAX_LEN + 1 }, L.UACCE_DUMMY_V1_ST_BAD_LEN],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 8, src: 0, dst: ARENA + 4096, len: 16 }, L.UACCE_DUMMY_V1_ST_BAD_ADDR],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 9, src: ARENA, dst: L.UACCE_DUMMY_V1_CQ_OFFSET, len: 16 }, L.UACCE_DUMMY_V1_ST_BAD_ADDR],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 10, src: ARENA, dst: E - 8, len: 16 }, L.UACCE_DUMMY_V1_ST_BAD_ADDR],
        [{ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 11, src: E, len: 1 }, L.UACCE_DUMMY_V1_ST_BAD_ADDR],
        [{ opcode: L.UACCE_DUMMY_V1_OP_CRC32, id: 12, src: 2 ** 53, len: 1 }, L.UACCE_DUMMY_V1_ST_BAD_ADDR],
        [{ opcode: L.UACCE_DUMMY_V1_OP_COPY, id: 13, src: ARENA, dst: ARENA + 100, len: 200 }, L.UACCE_DUMMY_V1_ST_OVERLAP],
      ];
      for (const [r] of cases) q.put(r);
      q.ring();
      for (const [r, status] of cases) {
        const c = await q.next();
        expect({ id: c.id, status: c.status, opcode: c.opcode, result: c.result }).toEqual({ id: r.id, status, opcode: r.opcode, result: 0 });
      }
      expect(q.dus.bytes(ARENA, 256)).toEqual(data);
      expect(q.dus.bytes(ARENA + 256, 4096).every((b) => b === 0)).toBe(true);
      expect(q.mmio.read64(L.UACCE_DUMMY_V1_REG_FAILED)).toBe(BigInt(cases.length));
      expect(q.mmio.read64(L.UACCE_DUMMY_V1_REG_COMPLETED)).toBe(0n);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(L.UACCE_DUMMY_V1_STATUS_READY); // request errors are not queue errors
      expect(uacceCounter(name, "errors")).toBe(errorsBefore + cases.length);
    } finally {
      q.release();
    }
    // A device without the algorithm refuses its opcode.
    for (const [index, opcode] of [[1, L.UACCE_DUMMY_V1_OP_CRC32], [2, L.UACCE_DUMMY_V1_OP_COPY]] as const) {
      const other = new Queue(uacceDeviceName(index));
      try {
        const c = await other.run({ opcode, id: 77, src: ARENA, dst: opcode === L.UACCE_DUMMY_V1_OP_COPY ? ARENA + 4096 : 0, len: 16 });
        expect([c.id, c.status]).toEqual([77, L.UACCE_DUMMY_V1_ST_BAD_OPCODE]);
      } finally {
        other.release();
      }
    }
  }, 120_000);

  test("a doorbell out of range gets one BAD_INDEX completion and a sticky queue error; a sane doorbell goes on", async () => {
    requireUacce();
    const q = new Queue(uacceDeviceName(0));
    try {
      q.ring(L.UACCE_DUMMY_V1_SQ_ENTRIES + 44);
      const c = await q.next();
      expect(c).toEqual({ id: L.UACCE_DUMMY_V1_ID_NONE, status: L.UACCE_DUMMY_V1_ST_BAD_INDEX, opcode: 0, result: L.UACCE_DUMMY_V1_SQ_ENTRIES + 44, sqIndex: 0 });
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ERROR)).toBe(L.UACCE_DUMMY_V1_ERR_DOORBELL);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(L.UACCE_DUMMY_V1_STATUS_READY | L.UACCE_DUMMY_V1_STATUS_ERROR);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_SQ_HEAD)).toBe(0);
      const ok = await q.run({ opcode: L.UACCE_DUMMY_V1_OP_NOP, id: 9 });
      expect([ok.id, ok.status, ok.sqIndex]).toEqual([9, L.UACCE_DUMMY_V1_ST_OK, 0]);
      expect(q.reg(L.UACCE_DUMMY_V1_REG_CQ_TAIL)).toBe(2); // the bad value was reported once
      expect(q.reg(L.UACCE_DUMMY_V1_REG_ERROR)).toBe(L.UACCE_DUMMY_V1_ERR_DOORBELL);
    } finally {
      q.release();
    }
  }, 120_000);

  test("mmap: each region once, shared, of its exact size; offsets past the regions are refused", () => {
    requireUacce();
    const name = uacceDeviceName(1);
    using fd = Fd.open(`/dev/${name}`, O_RDWR | O_CLOEXEC);
    const page = pageSize();
    const rw = PROT_READ | PROT_WRITE;
    expect(errCode(() => mmap(null, 2 * page, rw, MAP_SHARED, fd.fd, 0))).toBe("EINVAL");
    expect(errCode(() => mmap(null, page, rw, MAP_SHARED, fd.fd, page))).toBe("EINVAL");
    expect(errCode(() => mmap(null, page, rw, MAP_PRIVATE, fd.fd, 0))).toBe("EINVAL");
    expect(errCode(() => mmap(null, page, rw, MAP_SHARED, fd.fd, 2 * page))).toBe("EINVAL");
    // Before START_Q the regions can be mapped; the registers are already there.
    const mmio = MappedMemory.mapFile(fd.fd, 0, L.UACCE_DUMMY_V1_MMIO_SIZE);
    const dus = MappedMemory.mapFile(fd.fd, page, L.UACCE_DUMMY_V1_DUS_SIZE);
    try {
      expect(mmio.read32(L.UACCE_DUMMY_V1_REG_MAGIC)).toBe(L.UACCE_DUMMY_V1_MAGIC);
      expect(mmio.read32(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(0);
      expect(errCode(() => mmap(null, page, rw, MAP_SHARED, fd.fd, 0))).toBe("EEXIST");
      expect(errCode(() => mmap(null, L.UACCE_DUMMY_V1_DUS_SIZE, rw, MAP_SHARED, fd.fd, page))).toBe("EEXIST");
      fd.ioctl(START_Q, undefined, "UACCE_CMD_START_Q");
      expect(mmio.read32(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(L.UACCE_DUMMY_V1_STATUS_READY);
    } finally {
      fd.ioctl(PUT_Q, undefined, "UACCE_CMD_PUT_Q");
      mmio.close();
      dus.close();
    }
  });

  test("START_Q twice is EINVAL; PUT_Q stops the queue and START_Q starts it again", async () => {
    requireUacce();
    const q = new Queue(uacceDeviceName(0));
    try {
      expect(errCode(() => q.fd.ioctl(START_Q, undefined, "UACCE_CMD_START_Q"))).toBe("EINVAL");
      q.fd.ioctl(PUT_Q, undefined, "UACCE_CMD_PUT_Q");
      expect(q.reg(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(0);
      q.fd.ioctl(START_Q, undefined, "UACCE_CMD_START_Q");
      expect(q.reg(L.UACCE_DUMMY_V1_REG_STATUS)).toBe(L.UACCE_DUMMY_V1_STATUS_READY);
      const c = await q.run({ opcode: L.UACCE_DUMMY_V1_OP_NOP, id: 3 });
      expect([c.id, c.status]).toEqual([3, L.UACCE_DUMMY_V1_ST_OK]);
    } finally {
      q.release();
    }
  }, 60_000);

  test("available_instances: down on open, EBUSY past the last, back only when the file is released", () => {
    requireUacce();
    const name = uacceDeviceName(2);
    const opens = uacceCounter(name, "opens");
    const releases = uacceCounter(name, "releases");
    const refused = uacceCounter(name, "refused");
    expect(available(name)).toBe(2);
    const a = new Queue(name);
    expect(available(name)).toBe(1);
    const b = new Queue(name);
    expect(available(name)).toBe(0);
    expect(errCode(() => Fd.open(`/dev/${name}`, O_RDWR | O_CLOEXEC))).toBe("EBUSY");
    expect(uacceCounter(name, "refused")).toBe(refused + 1);
    // PUT_Q and close do not give the instance back while a region is still mapped.
    b.fd.ioctl(PUT_Q, undefined, "UACCE_CMD_PUT_Q");
    b.fd.close();
    b.mmio.close();
    expect(available(name)).toBe(0);
    b.dus.close();
    expect(available(name)).toBe(1);
    a.release();
    expect(available(name)).toBe(2);
    expect(uacceCounter(name, "opens")).toBe(opens + 2);
    expect(uacceCounter(name, "releases")).toBe(releases + 2);
    // A process that dies gives its queues back too.
    const r = run(process.execPath, ["-e", `require("node:fs").openSync("/dev/${name}", "r+"); process.exit(0)`]);
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(available(name)).toBe(2);
  });

  test("rmmod with a queue open: the entry goes, ioctl says ENXIO, poll nothing, the mapping raises SIGBUS", async () => {
    requireUacce();
    const name = uacceDeviceName(0);
    const holder = fileURLToPath(new URL("./uacce_holder.ts", import.meta.url));
    const child = start(process.execPath, [holder, name]);
    try {
      const ready = await child.line(/^ready /, 90_000);
      expect(ready).toBe(`ready status=${L.UACCE_DUMMY_V1_ST_OK} poll=${POLLIN}`);
      unloadUacce();
      const r = await child.exited(90_000);
      const lines = r.stdout.trim().split("\n");
      expect(lines.slice(1)).toEqual(["startq=ENXIO", "putq=ENXIO", "poll=0", "devnode=false", "touching"]);
      expect(r.signal).toBe("SIGBUS");
    } finally {
      child.kill("SIGKILL");
      reloadUacce();
    }
    expect(existsSync(`${UACCE_CLASS}/${uacceDeviceName(0)}`)).toBe(true);
  }, 240_000);

  test("the kernel logged no warning, oops or bug", () => {
    requireUacce();
    expect(kernelProblems()).toEqual([]);
  });
});

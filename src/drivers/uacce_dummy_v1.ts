/**
 * The user-space driver of `uacce_dummy_v1`, the queue protocol of the project's dummy
 * UACCE accelerator (layout in `uacce_dummy_v1_layout.ts`, prose in
 * `scripts/rig/kmod/PROTOCOL_UACCE.md`).
 *
 * Two regions: the MMIO page (registers and the doorbell) and the DUS region (the request
 * ring, the completion ring, then a buffer arena). Requests carry DUS offsets inside the
 * arena, which `Queue.alloc` hands out (the driver names the arena in `bufferArena`).
 * Completions are awaited by the queue on the device fd's readiness: no interrupt to arm.
 * Indexes are free-running u32 counters; a slot is `index & (entries - 1)`.
 *
 * @module
 */
import type { MappedMemory } from "../sys/mman.ts";
import type { BufferArena, DriverContext, RingParts, UserDriver } from "./driver.ts";
import { type RingLayout, ringParts } from "./_ring.ts";
import * as L from "./uacce_dummy_v1_layout.ts";

/** A request. Addresses are DUS offsets inside the arena (`iova` of `Queue.alloc`'s buffers). */
export interface UacceDummyRequest {
  /** `"copy"`, `"crc32"`, `"nop"`, or a raw opcode number (to try what the device refuses). */
  readonly op: "copy" | "crc32" | "nop" | number;
  /** The caller's cookie, echoed in the completion (u32). */
  readonly id: number;
  /** Source: a DUS offset inside the arena. */
  readonly src?: bigint | number;
  /** Destination (copy only): a DUS offset inside the arena. */
  readonly dst?: bigint | number;
  /** Length in bytes. */
  readonly len?: number;
  /** Raw `flags` field; 0 in v1 (anything else gets an error completion). */
  readonly flags?: number;
}

/** A completion. */
export interface UacceDummyCompletion {
  /** The request's id, or 0xffffffff for a doorbell error. */
  readonly id: number;
  /** `UACCE_DUMMY_V1_ST_*`; 0 is success. */
  readonly status: number;
  /** The status as a word: `"ok"`, `"bad-opcode"`, `"bad-field"`, `"bad-len"`, `"bad-addr"`, `"bad-index"`, `"overlap"`. */
  readonly statusName: string;
  /** The opcode the device read. */
  readonly opcode: number;
  /** Copy: bytes copied; crc32: the CRC-32; otherwise 0 (see the protocol). */
  readonly result: number;
  /** Free-running request index the completion answers. */
  readonly sqIndex: number;
}

/** The driver's per-queue state. */
export interface UacceDummyHandle {
  readonly mmio: MappedMemory;
  readonly dus: MappedMemory;
  /** The MMIO page as u32 registers (typed-array element access; never DataView). */
  readonly regs: Uint32Array;
  readonly sq: Uint32Array;
  readonly cq: Uint32Array;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly arena: BufferArena;
  sqTail: number;
  sqHead: number;
  cqHead: number;
}

const OPS: Record<string, number> = { copy: L.UACCE_DUMMY_V1_OP_COPY, crc32: L.UACCE_DUMMY_V1_OP_CRC32, nop: L.UACCE_DUMMY_V1_OP_NOP };
const ALGO_BITS: Record<string, number> = { copy: L.UACCE_DUMMY_V1_ALGO_COPY, crc32: L.UACCE_DUMMY_V1_ALGO_CRC32 };
const STATUS_NAMES = ["ok", "bad-opcode", "bad-field", "bad-len", "bad-addr", "bad-index", "overlap"];
const REQ_WORDS = L.UACCE_DUMMY_V1_REQ_SIZE / 4;
const CPL_WORDS = L.UACCE_DUMMY_V1_CPL_SIZE / 4;
const R_DOORBELL = L.UACCE_DUMMY_V1_REG_DOORBELL / 4;
const R_CQ_HEAD = L.UACCE_DUMMY_V1_REG_CQ_HEAD / 4;
const R_SQ_HEAD = L.UACCE_DUMMY_V1_REG_SQ_HEAD / 4;
const R_CQ_TAIL = L.UACCE_DUMMY_V1_REG_CQ_TAIL / 4;
const TWO32 = 2 ** 32;
/** Where the lent ring finds the registers, and the sizes of its entries. */
const RING_LAYOUT: RingLayout = { doorbell: R_DOORBELL, sqHeadReg: R_SQ_HEAD, cqTailReg: R_CQ_TAIL, cqHeadReg: R_CQ_HEAD, descriptorWords: REQ_WORDS, completionWords: CPL_WORDS };

function powerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Opens the queue: maps both regions and checks the device speaks this protocol and offers the algorithm. */
function open(ctx: DriverContext): UacceDummyHandle {
  const name = `Cannot open ${ctx.device} as uacce_dummy_v1`;
  if (ctx.sva === true) throw new Error(`${name}: the protocol addresses the DUS arena and has no SVA mode`);
  if (ctx.regionCount < 2) throw new Error(`${name}: it has ${ctx.regionCount} regions, the protocol needs 2`);
  const mmio = ctx.mapRegion(L.UACCE_DUMMY_V1_QFRT_MMIO);
  const dus = ctx.mapRegion(L.UACCE_DUMMY_V1_QFRT_DUS);
  const magic = mmio.read32(L.UACCE_DUMMY_V1_REG_MAGIC);
  const version = mmio.read32(L.UACCE_DUMMY_V1_REG_VERSION);
  if (magic !== L.UACCE_DUMMY_V1_MAGIC || version !== L.UACCE_DUMMY_V1_VERSION) {
    throw new Error(`${name}: magic 0x${magic.toString(16)} version ${version}, expected 0x${L.UACCE_DUMMY_V1_MAGIC.toString(16)} version ${L.UACCE_DUMMY_V1_VERSION}`);
  }
  const algos = mmio.read32(L.UACCE_DUMMY_V1_REG_ALGOS);
  const want = ALGO_BITS[ctx.alg];
  if (want === undefined || (algos & want) === 0) {
    throw new Error(`${name} for ${JSON.stringify(ctx.alg)}: the device's ALGOS register is 0x${algos.toString(16)} (copy 0x1, crc32 0x2)`);
  }
  const sqEntries = mmio.read32(L.UACCE_DUMMY_V1_REG_SQ_ENTRIES);
  const cqEntries = mmio.read32(L.UACCE_DUMMY_V1_REG_CQ_ENTRIES);
  const sqOffset = mmio.read32(L.UACCE_DUMMY_V1_REG_SQ_OFFSET);
  const cqOffset = mmio.read32(L.UACCE_DUMMY_V1_REG_CQ_OFFSET);
  const arena = { region: L.UACCE_DUMMY_V1_QFRT_DUS, offset: mmio.read32(L.UACCE_DUMMY_V1_REG_ARENA_OFFSET), size: mmio.read32(L.UACCE_DUMMY_V1_REG_ARENA_SIZE) };
  const sqBytes = sqEntries * L.UACCE_DUMMY_V1_REQ_SIZE;
  const cqBytes = cqEntries * L.UACCE_DUMMY_V1_CPL_SIZE;
  const apart = (a: number, an: number, b: number, bn: number) => a + an <= b || b + bn <= a;
  if (
    !powerOfTwo(sqEntries) || !powerOfTwo(cqEntries) || sqOffset % 8 !== 0 || cqOffset % 8 !== 0 ||
    sqOffset + sqBytes > dus.size || cqOffset + cqBytes > dus.size || arena.offset + arena.size > dus.size ||
    !apart(sqOffset, sqBytes, cqOffset, cqBytes) || !apart(sqOffset, sqBytes, arena.offset, arena.size) || !apart(cqOffset, cqBytes, arena.offset, arena.size)
  ) {
    throw new Error(
      `${name}: the ring and arena geometry does not fit the ${dus.size}-byte DUS region (sq ${sqEntries}@0x${sqOffset.toString(16)}, cq ${cqEntries}@0x${cqOffset.toString(16)}, arena 0x${arena.size.toString(16)}@0x${arena.offset.toString(16)})`,
    );
  }
  const regs = mmio.view(Uint32Array, 0, L.UACCE_DUMMY_V1_MMIO_SIZE / 4);
  return {
    mmio,
    dus,
    regs,
    sq: dus.view(Uint32Array, sqOffset, sqBytes / 4),
    cq: dus.view(Uint32Array, cqOffset, cqBytes / 4),
    sqEntries,
    cqEntries,
    arena,
    // Every index starts at 0 when the queue is opened (the device zeroes both regions).
    sqTail: Atomics.load(regs, R_DOORBELL),
    sqHead: Atomics.load(regs, R_SQ_HEAD),
    cqHead: Atomics.load(regs, R_CQ_HEAD),
  };
}

function uint(what: string, v: bigint | number | undefined, limit: number): number {
  if (v === undefined) return 0;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(n) || n < 0 || n >= limit) {
    throw new RangeError(`Cannot queue a request with ${what} ${JSON.stringify(String(v))}: it must be a non-negative integer below ${limit === TWO32 ? "2^32" : limit === 0x10000 ? "2^16" : "2^53"}`);
  }
  return n;
}

function opcodeOf(op: UacceDummyRequest["op"]): number {
  if (typeof op === "number") return uint("opcode", op, 0x10000);
  const n = OPS[op];
  if (n === undefined) throw new RangeError(`Cannot queue operation ${JSON.stringify(op)}: use "copy", "crc32" or "nop"`);
  return n;
}

/**
 * Checks every field of a request and writes its descriptor at `words[w]`. Every check
 * comes before the first store, so a refused request writes nothing.
 */
function put(words: Uint32Array, w: number, r: UacceDummyRequest): void {
  if (r === null || typeof r !== "object") throw new TypeError("Cannot queue a request: it must be an object");
  const opcode = opcodeOf(r.op);
  const flags = uint("flags", r.flags, 0x10000);
  const id = uint("id", r.id, TWO32);
  const len = uint("len", r.len, TWO32);
  const src = uint("src", r.src, Number.MAX_SAFE_INTEGER);
  const dst = uint("dst", r.dst, Number.MAX_SAFE_INTEGER);
  words[w] = opcode | (flags << 16);
  words[w + 1] = id;
  words[w + 2] = src >>> 0;
  words[w + 3] = Math.floor(src / TWO32);
  words[w + 4] = dst >>> 0;
  words[w + 5] = Math.floor(dst / TWO32);
  words[w + 6] = len;
  words[w + 7] = 0;
}

/**
 * How many of `want` requests the rings take now: no more in flight than the completion
 * ring holds. Barrier: SQ_HEAD is an acquire load; the device read the slots below it
 * before it stored it, so rewriting them comes after.
 */
function room(h: UacceDummyHandle, want: number): number {
  let sqFree = h.sqEntries - ((h.sqTail - h.sqHead) >>> 0);
  if (sqFree < want) {
    h.sqHead = Atomics.load(h.regs, R_SQ_HEAD);
    sqFree = h.sqEntries - ((h.sqTail - h.sqHead) >>> 0);
  }
  const cqFree = h.cqEntries - ((h.sqTail - h.cqHead) >>> 0);
  return Math.max(0, Math.min(want, sqFree, cqFree));
}

/** Publishes the requests written below `tail`: one doorbell for the batch. */
function ring(h: UacceDummyHandle, tail: number): void {
  h.sqTail = tail;
  // Barrier: Atomics.store is sequentially consistent (a release store at least): every
  // descriptor store above is visible to the device before the new tail it reads.
  Atomics.store(h.regs, R_DOORBELL, tail);
}

function submit(h: UacceDummyHandle, requests: readonly UacceDummyRequest[]): number {
  const n = room(h, requests.length);
  if (n === 0) return 0;
  let tail = h.sqTail;
  const mask = h.sqEntries - 1;
  // The slots written here are past the tail the device knows: a request that fails a
  // check throws with nothing published.
  for (let i = 0; i < n; i++) {
    put(h.sq, (tail & mask) * REQ_WORDS, requests[i] as UacceDummyRequest);
    tail = (tail + 1) >>> 0;
  }
  ring(h, tail);
  return n;
}

/** Checks a request and writes its descriptor (8 words) at `words[at]`; writes nothing when a check fails. */
function encode(request: UacceDummyRequest, words: Uint32Array, at: number): void {
  if (!(words instanceof Uint32Array)) throw new TypeError("Cannot encode a request: words must be a Uint32Array");
  if (!Number.isInteger(at) || at < 0 || at + REQ_WORDS > words.length) {
    throw new RangeError(`Cannot encode a request at word ${at}: ${REQ_WORDS} words from there must fit in the ${words.length}-word array`);
  }
  put(words, at, request);
}

/** Copies `count` encoded descriptors into the ring as they are (the device checks them), then rings once. */
function submitEncoded(h: UacceDummyHandle, words: Uint32Array, first: number, count: number): number {
  const n = room(h, count);
  if (n === 0) return 0;
  let tail = h.sqTail;
  const mask = h.sqEntries - 1;
  for (let i = 0; i < n; i++) {
    const from = (first + i) * REQ_WORDS;
    h.sq.set(words.subarray(from, from + REQ_WORDS), (tail & mask) * REQ_WORDS);
    tail = (tail + 1) >>> 0;
  }
  ring(h, tail);
  return n;
}

function poll(h: UacceDummyHandle, max: number): UacceDummyCompletion[] {
  // Barrier: an acquire load of the tail; the entries below it are read after it.
  const tail = Atomics.load(h.regs, R_CQ_TAIL);
  const ready = (tail - h.cqHead) >>> 0;
  if (ready === 0) return [];
  if (ready > h.cqEntries) {
    throw new Error(`uacce_dummy_v1 queue is corrupt: completion tail ${tail} is ${ready} ahead of head ${h.cqHead} (ring of ${h.cqEntries})`);
  }
  const n = Math.min(ready, max);
  const out: UacceDummyCompletion[] = [];
  let head = h.cqHead;
  const mask = h.cqEntries - 1;
  for (let i = 0; i < n; i++) {
    const w = (head & mask) * CPL_WORDS;
    const statusOp = h.cq[w + 1] as number;
    const status = statusOp & 0xffff;
    out.push({
      id: h.cq[w] as number,
      status,
      statusName: STATUS_NAMES[status] ?? `status-${status}`,
      opcode: statusOp >>> 16,
      result: h.cq[w + 2] as number,
      sqIndex: h.cq[w + 3] as number,
    });
    head = (head + 1) >>> 0;
  }
  h.cqHead = head;
  // Barrier: a release store; the entries above were read before the device can see
  // their slots free. It also ends the fd's readiness once CQ_HEAD reaches CQ_TAIL.
  Atomics.store(h.regs, R_CQ_HEAD, head);
  return out;
}

/** The rings lent in place (the lent ring makes the moves of `submit` and `poll` itself, with the same barriers). */
function lend(h: UacceDummyHandle): RingParts {
  return ringParts(h, RING_LAYOUT);
}

/**
 * The `uacce_dummy_v1` driver object, registered by default.
 *
 * @example
 * ```ts
 * import { requestQueue, type UacceDummyCompletion, type UacceDummyRequest } from "warpdrive";
 * await using q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "crc32" });
 * const buf = q.alloc(4096);
 * buf.bytes().set(new TextEncoder().encode("123456789"));
 * const c = await q.run({ op: "crc32", src: buf.iova, len: 9 }, { timeout: 1000 }); // result 0xcbf43926
 * ```
 */
export const uacceDummyV1Driver: UserDriver<UacceDummyHandle, UacceDummyRequest, UacceDummyCompletion> = {
  deviceApi: L.UACCE_DUMMY_V1_API,
  description: "the dummy UACCE accelerator's ring protocol (copy, crc32, nop in a DUS arena)",
  descriptorWords: REQ_WORDS,
  open,
  submit,
  encode,
  submitEncoded,
  poll,
  bufferArena: (h) => h.arena,
  lend,
  close(_h: UacceDummyHandle): void {
    // Nothing of its own: the queue gives the device back (PUT_Q, unmap, close) after this.
  },
};

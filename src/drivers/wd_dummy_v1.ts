/**
 * The user-space driver of `wd_dummy_v1`, the ring protocol of the project's dummy
 * WarpDrive accelerator (layout in `wd_dummy_v1_layout.ts`, prose in
 * `scripts/rig/kmod/PROTOCOL.md`).
 *
 * Two regions: a control page (doorbell and status registers) and the queue memory (a
 * request ring, then a completion ring). Indexes are free-running u32 counters; a slot is
 * `index & (entries - 1)`.
 *
 * @module
 */
import { type Doorbell32, doorbell32 } from "../sys/barrier.ts";
import type { MappedMemory } from "../sys/mman.ts";
import type { DriverContext, RingParts, UserDriver } from "./driver.ts";
import { type RingLayout, ringParts } from "./_ring.ts";
import * as L from "./wd_dummy_v1_layout.ts";
import { type CompletionRing, decode, type DummyCompletion, giveHead, poll, pollEncoded } from "./wd_dummy_v1_cq.ts";

export type { DummyCompletion };

/** A request. IOVAs are addresses mapped for the queue (`DmaBuffer.iova`). */
export interface DummyRequest {
  /** `"copy"`, `"csum"`, `"nop"`, or a raw opcode number (to try what the device refuses). */
  readonly op: "copy" | "csum" | "nop" | number;
  /** The caller's cookie, echoed in the completion (u32). */
  readonly id: number;
  /** Source IOVA. */
  readonly src?: bigint | number;
  /** Destination IOVA (copy only). */
  readonly dst?: bigint | number;
  /** Length in bytes. */
  readonly len?: number;
  /** Raw `flags` field; 0 in v1 (anything else gets an error completion). */
  readonly flags?: number;
}

/** The driver's per-queue state. */
export interface DummyHandle extends CompletionRing {
  readonly ctrl: MappedMemory;
  readonly queue: MappedMemory;
  /** The control page as u32 registers (typed-array element access; never DataView). */
  readonly regs: Uint32Array;
  /** The request ring as u32 words. */
  readonly sq: Uint32Array;
  /** The completion ring as u32 words. */
  readonly cq: Uint32Array;
  readonly sqMask: number;
  readonly cqMask: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  /** The queue's own opcode (copy or csum). */
  readonly algoOp: number;
  /** Rings the doorbell, on the backend `src/sys/barrier.ts` chose when the queue opened. */
  readonly ring: Doorbell32;
  /** Whether `ring` is the `Atomics.store` backend, which the hot paths inline. */
  readonly ringInline: boolean;
  /** The last value stored in IRQ_ARM (a new one arms the completion interrupt). */
  irqArm: number;
  sqTail: number;
  /** The last SQ_HEAD read; the register is read again only when this leaves too little room. */
  sqHead: number;
  cqHead: number;
}

const OPS: Record<string, number> = { copy: L.WD_DUMMY_V1_OP_COPY, csum: L.WD_DUMMY_V1_OP_CSUM, nop: L.WD_DUMMY_V1_OP_NOP };
const REQ_WORDS = L.WD_DUMMY_V1_REQ_SIZE / 4;
const R_DOORBELL = L.WD_DUMMY_V1_REG_DOORBELL / 4;
const R_CQ_HEAD = L.WD_DUMMY_V1_REG_CQ_HEAD / 4;
const R_SQ_HEAD = L.WD_DUMMY_V1_REG_SQ_HEAD / 4;
const R_IRQ_ARM = L.WD_DUMMY_V1_REG_IRQ_ARM / 4;
const TWO32 = 2 ** 32;

function u64(what: string, v: bigint | number | undefined): number {
  if (v === undefined) return 0;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Cannot queue a request with ${what} ${JSON.stringify(String(v))}: it must be a non-negative integer below 2^53`);
  }
  return n;
}

function u32(what: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v >= TWO32) {
    throw new RangeError(`Cannot queue a request with ${what} ${JSON.stringify(v)}: it must be a 32-bit unsigned integer`);
  }
  return v;
}

function opcodeOf(op: DummyRequest["op"]): number {
  if (typeof op === "number") {
    if (!Number.isInteger(op) || op < 0 || op > 0xffff) throw new RangeError(`Cannot queue opcode ${op}: it must be a 16-bit unsigned integer`);
    return op;
  }
  const n = OPS[op];
  if (n === undefined) throw new RangeError(`Cannot queue operation ${JSON.stringify(op)}: use "copy", "csum" or "nop"`);
  return n;
}

function powerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Opens the queue: maps both regions and checks the device says what this driver speaks. */
function open(ctx: DriverContext): DummyHandle {
  if (ctx.regionCount < L.WD_DUMMY_V1_NUM_REGIONS) {
    throw new Error(`Cannot open ${ctx.device} as wd_dummy_v1: it has ${ctx.regionCount} regions, the protocol needs ${L.WD_DUMMY_V1_NUM_REGIONS}`);
  }
  const ctrl = ctx.mapRegion(L.WD_DUMMY_V1_CTRL_REGION);
  const queue = ctx.mapRegion(L.WD_DUMMY_V1_QUEUE_REGION);
  const magic = ctrl.read32(L.WD_DUMMY_V1_REG_MAGIC);
  const version = ctrl.read32(L.WD_DUMMY_V1_REG_VERSION);
  if (magic !== L.WD_DUMMY_V1_MAGIC || version !== L.WD_DUMMY_V1_VERSION) {
    throw new Error(
      `Cannot open ${ctx.device} as wd_dummy_v1: magic 0x${magic.toString(16)} version ${version}, expected 0x${L.WD_DUMMY_V1_MAGIC.toString(16)} version ${L.WD_DUMMY_V1_VERSION}`,
    );
  }
  const sqEntries = ctrl.read32(L.WD_DUMMY_V1_REG_SQ_ENTRIES);
  const cqEntries = ctrl.read32(L.WD_DUMMY_V1_REG_CQ_ENTRIES);
  const sqOffset = ctrl.read32(L.WD_DUMMY_V1_REG_SQ_OFFSET);
  const cqOffset = ctrl.read32(L.WD_DUMMY_V1_REG_CQ_OFFSET);
  const sqBytes = sqEntries * L.WD_DUMMY_V1_REQ_SIZE;
  const cqBytes = cqEntries * L.WD_DUMMY_V1_CPL_SIZE;
  if (
    !powerOfTwo(sqEntries) || !powerOfTwo(cqEntries) || sqOffset % 8 !== 0 || cqOffset % 8 !== 0 ||
    sqOffset + sqBytes > queue.size || cqOffset + cqBytes > queue.size ||
    (sqOffset < cqOffset + cqBytes && cqOffset < sqOffset + sqBytes)
  ) {
    throw new Error(
      `Cannot open ${ctx.device} as wd_dummy_v1: ring geometry does not fit the ${queue.size}-byte queue region (sq ${sqEntries}@0x${sqOffset.toString(16)}, cq ${cqEntries}@0x${cqOffset.toString(16)})`,
    );
  }
  const regs = ctrl.view(Uint32Array, 0, L.WD_DUMMY_V1_CTRL_SIZE / 4);
  const ring = doorbell32(ctrl, L.WD_DUMMY_V1_REG_DOORBELL);
  const cqHead = Atomics.load(regs, R_CQ_HEAD);
  return {
    ctrl,
    queue,
    regs,
    sq: queue.view(Uint32Array, sqOffset, sqBytes / 4),
    cq: queue.view(Uint32Array, cqOffset, cqBytes / 4),
    sqMask: sqEntries - 1,
    cqMask: cqEntries - 1,
    sqEntries,
    cqEntries,
    algoOp: ctrl.read32(L.WD_DUMMY_V1_REG_ALGO_OP),
    ring,
    ringInline: ring.backend === "js",
    // Start where the device is: after a reclaim both are 0; they are what the last
    // user of this mediated device stored.
    irqArm: Atomics.load(regs, R_IRQ_ARM),
    sqTail: Atomics.load(regs, R_DOORBELL),
    sqHead: Atomics.load(regs, R_SQ_HEAD),
    cqHead,
    cqHeadOut: cqHead,
  };
}

/** Flags other than 0: undefined means 0, anything else must fit in 16 bits. */
function flagsOf(flags: number | undefined): number {
  if (flags === undefined) return 0;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) throw new RangeError(`Cannot queue flags ${flags}: they must be a 16-bit unsigned integer`);
  return flags;
}

/**
 * Checks every field of a request and writes its descriptor at `sq[w]`: the path of
 * everything the fast path in `submit` does not take (bigint or high IOVAs, absent fields,
 * flags, raw opcodes, and everything malformed, with a message naming the field). Every
 * check comes before the first store, so a refused request writes nothing.
 */
function putChecked(sq: Uint32Array, w: number, r: DummyRequest): void {
  if (r === null || typeof r !== "object") throw new TypeError("Cannot queue a request: it must be an object");
  const opcode = opcodeOf(r.op);
  const flags = flagsOf(r.flags);
  const id = u32("id", r.id);
  const len = u32("len", r.len);
  const src = u64("src", r.src);
  const dst = u64("dst", r.dst);
  sq[w] = opcode | (flags << 16);
  sq[w + 1] = id;
  sq[w + 2] = src >>> 0;
  sq[w + 3] = Math.floor(src / TWO32);
  sq[w + 4] = dst >>> 0;
  sq[w + 5] = Math.floor(dst / TWO32);
  sq[w + 6] = len;
  sq[w + 7] = 0;
}

/**
 * The fast path of `submit` and `encode`: a named operation, no flags, a u32 length, a u32
 * id and IOVAs that are numbers below 4 GiB (an absent id or `dst` is 0, as in
 * `putChecked`). Each field is read once and stored only after every check; returns false,
 * having written nothing, for anything else (then `putChecked` decides).
 */
function putFast(sq: Uint32Array, w: number, r: DummyRequest): boolean {
  const op = r?.op;
  const opcode = op === "copy" ? L.WD_DUMMY_V1_OP_COPY : op === "csum" ? L.WD_DUMMY_V1_OP_CSUM : op === "nop" ? L.WD_DUMMY_V1_OP_NOP : -1;
  if (opcode < 0) return false;
  const rid = r.id, src = r.src, rdst = r.dst, len = r.len;
  const id = rid === undefined ? 0 : rid, dst = rdst === undefined ? 0 : rdst;
  if (
    r.flags !== undefined || id >>> 0 !== id || len === undefined || len >>> 0 !== len ||
    typeof src !== "number" || src >>> 0 !== src || typeof dst !== "number" || dst >>> 0 !== dst
  ) return false;
  sq[w] = opcode;
  sq[w + 1] = id;
  sq[w + 2] = src;
  sq[w + 3] = 0;
  sq[w + 4] = dst;
  sq[w + 5] = 0;
  sq[w + 6] = len;
  sq[w + 7] = 0;
  return true;
}

/**
 * How many of `want` requests the rings take now. Room is counted against the last SQ_HEAD
 * seen (an older head only under-counts it); the register is read again only when that is
 * not enough. Barrier: an acquire load; the device read the slots below SQ_HEAD before it
 * stored SQ_HEAD, so rewriting them comes after.
 */
function room(h: DummyHandle, want: number): number {
  const tail = h.sqTail;
  let sqFree = h.sqEntries - ((tail - h.sqHead) >>> 0);
  if (sqFree < want) {
    h.sqHead = Atomics.load(h.regs, R_SQ_HEAD);
    sqFree = h.sqEntries - ((tail - h.sqHead) >>> 0);
  }
  // Never have more requests in flight than the completion ring holds, so the device
  // always has a slot for the completion of what it consumes.
  const cqFree = h.cqEntries - ((tail - h.cqHead) >>> 0);
  const n = want < sqFree ? want : sqFree;
  return headFor(h, tail, cqFree < n ? cqFree : n);
}

/**
 * `n`, after giving the completion head back if the device, counting from the head it
 * has, would find no slot for the completions of `n` more requests; otherwise the head
 * goes back at the next look (giveHead).
 */
function headFor(h: DummyHandle, tail: number, n: number): number {
  if (n > 0 && ((tail + n - h.cqHeadOut) >>> 0) > h.cqEntries) giveHead(h);
  return n;
}

function submit(h: DummyHandle, requests: readonly DummyRequest[]): number {
  const n = room(h, requests.length);
  if (n <= 0) return 0;
  let tail = h.sqTail;
  const sq = h.sq;
  const mask = h.sqMask;
  for (let i = 0; i < n; i++) {
    // The slots written here are past the tail the device knows, so a request that fails
    // a check throws with nothing published.
    const r = requests[i] as DummyRequest;
    const w = (tail & mask) * REQ_WORDS;
    if (!putFast(sq, w, r)) putChecked(sq, w, r);
    tail = (tail + 1) >>> 0;
  }
  h.sqTail = tail;
  // Barrier: the descriptor stores above must be visible to the device before it can see
  // the new tail: one barrier and one doorbell for the whole batch, on the backend
  // barrier.ts chose: Atomics.store (sequentially consistent: xchg on x86-64, a
  // store-release on arm64), written here as h.ring would do it so the JIT has no call to
  // make, or wd_doorbell32 (the architecture's write barrier, then the store).
  if (h.ringInline) Atomics.store(h.regs, R_DOORBELL, tail);
  else h.ring(tail);
  return n;
}

/**
 * Checks a request and writes its descriptor (8 words) at `words[at]`, for
 * `submitEncoded`. It writes nothing when a check fails.
 */
function encode(request: DummyRequest, words: Uint32Array, at: number): void {
  if (!(words instanceof Uint32Array)) throw new TypeError("Cannot encode a request: words must be a Uint32Array");
  if (!Number.isInteger(at) || at < 0 || at + REQ_WORDS > words.length) {
    throw new RangeError(`Cannot encode a request at word ${at}: ${REQ_WORDS} words from there must fit in the ${words.length}-word array`);
  }
  if (!putFast(words, at, request)) putChecked(words, at, request);
}

/**
 * Copies `count` encoded descriptors, from descriptor `first` of `words`, into the request
 * ring as they are (the device checks every field and answers a bad one with an error
 * completion), then rings the doorbell once. The caller checked the range.
 */
function submitEncoded(h: DummyHandle, words: Uint32Array, first: number, count: number): number {
  const n = room(h, count);
  if (n <= 0) return 0;
  let tail = h.sqTail;
  const sq = h.sq;
  const mask = h.sqMask;
  let from = first * REQ_WORDS;
  for (let i = 0; i < n; i++) {
    const w = (tail & mask) * REQ_WORDS;
    sq[w] = words[from] as number;
    sq[w + 1] = words[from + 1] as number;
    sq[w + 2] = words[from + 2] as number;
    sq[w + 3] = words[from + 3] as number;
    sq[w + 4] = words[from + 4] as number;
    sq[w + 5] = words[from + 5] as number;
    sq[w + 6] = words[from + 6] as number;
    sq[w + 7] = words[from + 7] as number;
    from += REQ_WORDS;
    tail = (tail + 1) >>> 0;
  }
  h.sqTail = tail;
  // Barrier: as in submit, the descriptor stores above, then one doorbell for the batch.
  if (h.ringInline) Atomics.store(h.regs, R_DOORBELL, tail);
  else h.ring(tail);
  return n;
}

/**
 * Arms the completion interrupt once: a new value in IRQ_ARM (PROTOCOL.md, "Completion
 * interrupt"). Barrier: Atomics.store is sequentially consistent, a full fence on x86-64
 * (xchg) and arm64 (stlr, then the next ldar cannot pass it): the IRQ_ARM store is ordered
 * before the queue's next CQ_TAIL load, which pairs with the device's CQ_TAIL store, full
 * barrier, IRQ_ARM load. Either the queue's re-check sees the completion or the device
 * sees the arming.
 */
function arm(h: DummyHandle): void {
  // The device fires while CQ_HEAD is short of CQ_TAIL: it has to see what was read.
  if (h.cqHeadOut !== h.cqHead) giveHead(h);
  h.irqArm = (h.irqArm + 1) >>> 0;
  Atomics.store(h.regs, R_IRQ_ARM, h.irqArm);
}

/** Where the lent ring finds the registers, and the sizes of its entries. */
const RING_LAYOUT: RingLayout = {
  doorbell: R_DOORBELL,
  sqHeadReg: R_SQ_HEAD,
  cqTailReg: L.WD_DUMMY_V1_REG_CQ_TAIL / 4,
  cqHeadReg: R_CQ_HEAD,
  descriptorWords: REQ_WORDS,
  completionWords: L.WD_DUMMY_V1_CPL_SIZE / 4,
};

/** The rings lent in place (the lent ring makes the moves of `submit` and `pollEncoded` itself, with the same barriers). */
function lend(h: DummyHandle): RingParts {
  if (h.cqHeadOut !== h.cqHead) giveHead(h);
  return ringParts(h, RING_LAYOUT, h.ringInline ? undefined : h.ring);
}

/**
 * The `wd_dummy_v1` driver object, registered by default.
 *
 * @example
 * ```ts
 * import { registeredDeviceApis, requestQueue, wdDummyV1Driver } from "warpdrive";
 * registeredDeviceApis().includes(wdDummyV1Driver.deviceApi); // true: built in
 * const q = await requestQueue({ alg: "copy" }); // picks wd_dummy_v1 types by this driver
 * ```
 */
export const wdDummyV1Driver: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
  deviceApi: L.WD_DUMMY_V1_API,
  description: "the dummy WarpDrive accelerator's ring protocol (copy, csum, nop)",
  descriptorWords: REQ_WORDS,
  open,
  submit,
  encode,
  submitEncoded,
  poll,
  idWord: L.WD_DUMMY_V1_REQ_OFF_ID / 4,
  completionWords: L.WD_DUMMY_V1_CPL_SIZE / 4,
  completionIdWord: L.WD_DUMMY_V1_CPL_OFF_ID / 4,
  pollEncoded,
  decode,
  completionIrq: L.WD_DUMMY_V1_IRQ_CQ,
  arm,
  lend,
  close(_h: DummyHandle): void {
    // Nothing of its own: the queue unmaps the regions after this returns.
  },
};

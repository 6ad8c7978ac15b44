/**
 * The completion side of the `wd_dummy_v1` driver: completions read off the completion
 * ring as objects (`poll`) or as the device wrote them into reused words (`pollEncoded`,
 * which allocates nothing), and the object of one such completion (`decode`).
 *
 * @module
 */
import * as L from "./wd_dummy_v1_layout.ts";

/** A completion of `wd_dummy_v1`. */
export interface DummyCompletion {
  /** The request's id, or 0xffffffff for a doorbell error. */
  readonly id: number;
  /** `WD_DUMMY_V1_ST_*`; 0 is success. */
  readonly status: number;
  /** The status as a word: `"ok"`, `"bad-opcode"`, `"bad-field"`, `"bad-len"`, `"bad-iova"`, `"bad-index"`, `"overlap"`. */
  readonly statusName: string;
  /** The opcode the device read. */
  readonly opcode: number;
  /** Copy: bytes copied; csum: the CRC-32; otherwise 0 (see the protocol). */
  readonly result: number;
  /** Free-running request index the completion answers. */
  readonly sqIndex: number;
}

/** What the completion side reads and moves of a queue's state (part of `DummyHandle`). */
export interface CompletionRing {
  /** The control page as u32 registers. */
  readonly regs: Uint32Array;
  /** The completion ring as u32 words. */
  readonly cq: Uint32Array;
  readonly cqMask: number;
  readonly cqEntries: number;
  /** The next completion to read (free-running). */
  cqHead: number;
  /**
   * The completion head as the device last saw it. Reading completions moves `cqHead`
   * only; `giveHead` stores it, at the next look or arming (see `giveHead`).
   */
  cqHeadOut: number;
}

const STATUS_NAMES = ["ok", "bad-opcode", "bad-field", "bad-len", "bad-iova", "bad-index", "overlap"];
const CPL_WORDS = L.WD_DUMMY_V1_CPL_SIZE / 4;
const R_CQ_HEAD = L.WD_DUMMY_V1_REG_CQ_HEAD / 4;
const R_CQ_TAIL = L.WD_DUMMY_V1_REG_CQ_TAIL / 4;

/**
 * Gives the device the slots of the completions read since it last saw the head. Barrier:
 * a release store (Atomics.store is sequentially consistent); the reads of the entries
 * came before it, so the device overwrites them only after.
 *
 * Made at the next look for completions (before it), before arming the interrupt, and
 * when the ring is lent: not where the completions were read. A store to the device is a
 * full barrier in JavaScript (a locked exchange on x86-64), which holds the CPU until the
 * device's cache line is back; between a completion and the next request's doorbell that
 * wait is on the round trip's path, at the next look (after the doorbell, in a loop that
 * sends and then polls) it is not. The device only sees its completion ring as fuller
 * meanwhile, and only until it would find no slot for what is sent: then the driver's
 * room count gives the head back before the doorbell. `submit` and `submitEncoded` leave
 * it alone otherwise: a store, or a call, there would keep the JIT from inlining them into
 * the caller's loop.
 */
export function giveHead(h: CompletionRing): void {
  Atomics.store(h.regs, R_CQ_HEAD, (h.cqHeadOut = h.cqHead));
}

/** How many completions are ready (checked against the ring size), after an acquire load of the tail. */
function ready(h: CompletionRing): number {
  if (h.cqHeadOut !== h.cqHead) giveHead(h);
  // Barrier: an acquire load of the tail; the completion entries are read after it, so
  // they are at least as new as the tail says.
  const tail = Atomics.load(h.regs, R_CQ_TAIL);
  const n = (tail - h.cqHead) >>> 0;
  if (n > h.cqEntries) {
    throw new Error(`wd_dummy_v1 queue is corrupt: completion tail ${tail} is ${n} ahead of head ${h.cqHead} (ring of ${h.cqEntries})`);
  }
  return n;
}

/**
 * The completion object of the completion (4 words) at `words[at]`.
 *
 * @example
 * ```ts
 * import { decode } from "./wd_dummy_v1_cq.ts";
 * decode(new Uint32Array([7, 3 << 16, 0, 0]), 0); // { id: 7, status: 0, statusName: "ok", opcode: 3, ... }
 * ```
 */
export function decode(words: Uint32Array, at: number): DummyCompletion {
  const statusOp = words[at + 1] as number;
  const status = statusOp & 0xffff;
  return {
    id: words[at] as number,
    status,
    statusName: STATUS_NAMES[status] ?? `status-${status}`,
    opcode: statusOp >>> 16,
    result: words[at + 2] as number,
    sqIndex: words[at + 3] as number,
  };
}

/** Up to `max` ready completions as objects, consumed from the ring. */
export function poll(h: CompletionRing, max: number): DummyCompletion[] {
  const r = ready(h);
  if (r === 0) return [];
  const n = Math.min(r, max);
  // Grown by push: a pre-sized `new Array(n)` filled by index is several times slower in
  // JavaScriptCore (scripts/bench_queue.ts).
  const out: DummyCompletion[] = [];
  let head = h.cqHead;
  const cq = h.cq;
  const mask = h.cqMask;
  for (let i = 0; i < n; i++) {
    out.push(decode(cq, (head & mask) * CPL_WORDS));
    head = (head + 1) >>> 0;
  }
  // Given back later (giveHead), after the reads above.
  h.cqHead = head;
  return out;
}

/** Copies up to `max` completions (4 words each) into `words` from `at`, consumes them, returns how many. */
export function pollEncoded(h: CompletionRing, words: Uint32Array, at: number, max: number): number {
  const r = ready(h);
  const n = r < max ? r : max;
  if (n <= 0) return 0;
  let head = h.cqHead;
  const cq = h.cq;
  const mask = h.cqMask;
  let to = at;
  for (let i = 0; i < n; i++) {
    const w = (head & mask) * CPL_WORDS;
    words[to] = cq[w] as number;
    words[to + 1] = cq[w + 1] as number;
    words[to + 2] = cq[w + 2] as number;
    words[to + 3] = cq[w + 3] as number;
    to += CPL_WORDS;
    head = (head + 1) >>> 0;
  }
  // Given back later (giveHead), after the copies above.
  h.cqHead = head;
  return n;
}


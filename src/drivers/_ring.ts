/**
 * The lent-ring description (`RingParts`) of a driver whose queue state has the common
 * shape: both rings as words, their sizes, the registers, and the free-running indexes.
 * Private to `src/drivers/`.
 *
 * @module
 */
import type { RingParts } from "./driver.ts";

/** The queue state a driver keeps for its rings (part of its handle). */
export interface RingState {
  readonly sq: Uint32Array;
  readonly cq: Uint32Array;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly regs: Uint32Array;
  sqTail: number;
  sqHead: number;
  cqHead: number;
  /** The completion head the device has, for a driver that gives it back later than it reads (wd_dummy_v1). */
  cqHeadOut?: number;
}

/** Where a protocol keeps its ring registers (word indexes) and how large its entries are (words). */
export interface RingLayout {
  readonly doorbell: number;
  readonly sqHeadReg: number;
  readonly cqTailReg: number;
  readonly cqHeadReg: number;
  readonly descriptorWords: number;
  readonly completionWords: number;
}

/** The rings of `h` as lent now; `ring` is the doorbell when a plain store is not the driver's barrier. */
export function ringParts(h: RingState, layout: RingLayout, ring?: (tail: number) => void): RingParts {
  return {
    ...layout,
    sq: h.sq,
    cq: h.cq,
    sqEntries: h.sqEntries,
    cqEntries: h.cqEntries,
    regs: h.regs,
    tail: h.sqTail,
    head: h.cqHead,
    sqHead: h.sqHead,
    ring,
    settle(tail, head, sqHead) {
      h.sqTail = tail;
      h.cqHead = head;
      // The lent ring gave the device its head when the loan ended.
      if (h.cqHeadOut !== undefined) h.cqHeadOut = head;
      h.sqHead = sqHead;
    },
  };
}

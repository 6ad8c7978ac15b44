// The one ordering rule of the send path: the device may read a descriptor as soon as it
// sees a tail that covers it, so every descriptor of a batch must be in the ring before the
// doorbell store that publishes the batch. Atomics.store is watched (the inline doorbell)
// and the doorbell closure is replaced by a spy (the other backends): at each doorbell the
// ring must already hold exactly the descriptors the new tail covers.
import { afterEach, describe, expect, test } from "bun:test";
import { type DummyCompletion, type DummyHandle, type DummyRequest, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import type { UserDriver } from "../../src/drivers/mod.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { FakeDummyDevice } from "./_fake_wd_dummy.ts";

const drv = wdDummyV1Driver as Required<UserDriver<DummyHandle, DummyRequest, DummyCompletion>>;
const DOORBELL = L.WD_DUMMY_V1_REG_DOORBELL / 4;
const WORDS = L.WD_DUMMY_V1_REQ_SIZE / 4;
const realStore = Atomics.store;

afterEach(() => {
  Atomics.store = realStore;
});

/** Ids found in the ring slots [from, to) at the moment of each doorbell. */
type Seen = { tail: number; ids: number[] };

function idsIn(h: DummyHandle, from: number, to: number): number[] {
  const ids: number[] = [];
  for (let t = from; t !== to; t = (t + 1) >>> 0) {
    const w = (t & h.sqMask) * WORDS;
    ids.push(h.sq[w + 1] === undefined ? -1 : (h.sq[w + 1] as number));
  }
  return ids;
}

/** Watches the inline doorbell (Atomics.store on the doorbell register). */
function watchInline(h: DummyHandle): Seen[] {
  const seen: Seen[] = [];
  let last = h.sqTail;
  Atomics.store = ((ta: Uint32Array, index: number, value: number) => {
    if (ta === h.regs && index === DOORBELL) {
      seen.push({ tail: value >>> 0, ids: idsIn(h, last, value >>> 0) });
      last = value >>> 0;
    }
    return realStore(ta, index, value);
  }) as typeof Atomics.store;
  return seen;
}

/** A handle whose doorbell is a closure (the C backend's path), spied on. */
function withSpyRing(h: DummyHandle): { h: DummyHandle; seen: Seen[] } {
  const seen: Seen[] = [];
  let last = h.sqTail;
  const spied: DummyHandle = {
    ...h,
    ringInline: false,
    ring: Object.assign(
      (value: number) => {
        seen.push({ tail: value >>> 0, ids: idsIn(spied, last, value >>> 0) });
        last = value >>> 0;
        realStore(h.regs, DOORBELL, value);
      },
      { backend: "c" as const },
    ),
  };
  return { h: spied, seen };
}

const batch = (from: number, n: number): DummyRequest[] =>
  Array.from({ length: n }, (_, k) => ({ op: "nop", id: 1000 + from + k }) as DummyRequest);
const wide = (from: number, n: number): DummyRequest[] =>
  // IOVAs above 4 GiB take the checked encoder instead of the fast path.
  Array.from({ length: n }, (_, k) => ({ op: "copy", id: 5000 + from + k, src: 1n << 40n, dst: 1n << 41n, len: 8 }) as DummyRequest);

describe("doorbell after descriptors", () => {
  for (const inline of [true, false]) {
    const how = inline ? "inline Atomics.store doorbell" : "doorbell closure";

    test(`submit: every descriptor of a batch is in the ring at its doorbell (${how})`, () => {
      const dev = new FakeDummyDevice();
      try {
        let h = drv.open(dev.context());
        let seen: Seen[];
        if (inline) {
          expect(h.ringInline).toBe(true); // the default backend on x86-64
          seen = watchInline(h);
        } else ({ h, seen } = withSpyRing(h));
        expect(drv.submit(h, batch(0, 5))).toBe(5);
        expect(drv.submit(h, wide(0, 3))).toBe(3);
        expect(drv.submit(h, [...batch(5, 2), ...wide(3, 2)])).toBe(4);
        expect(seen).toEqual([
          { tail: 5, ids: [1000, 1001, 1002, 1003, 1004] },
          { tail: 8, ids: [5000, 5001, 5002] },
          { tail: 12, ids: [1005, 1006, 5003, 5004] },
        ]);
      } finally {
        dev.close();
      }
    });

    test(`submitEncoded: every descriptor of the range is in the ring at its doorbell (${how})`, () => {
      const dev = new FakeDummyDevice();
      try {
        let h = drv.open(dev.context());
        let seen: Seen[];
        if (inline) seen = watchInline(h);
        else ({ h, seen } = withSpyRing(h));
        const words = new Uint32Array(40 * WORDS);
        for (let i = 0; i < 40; i++) drv.encode({ op: "nop", id: 7000 + i }, words, i * WORDS);
        expect(drv.submitEncoded(h, words, 0, 16)).toBe(16);
        expect(drv.submitEncoded(h, words, 16, 24)).toBe(24);
        expect(seen).toEqual([
          { tail: 16, ids: Array.from({ length: 16 }, (_, i) => 7000 + i) },
          { tail: 40, ids: Array.from({ length: 24 }, (_, i) => 7016 + i) },
        ]);
      } finally {
        dev.close();
      }
    });
  }
});

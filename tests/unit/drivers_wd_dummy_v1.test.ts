import { describe, expect, test } from "bun:test";
import { type DummyCompletion, type DummyRequest, type DummyHandle, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import type { UserDriver } from "../../src/drivers/mod.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { crc32, FakeDummyDevice } from "./_fake_wd_dummy.ts";

// The encoded path is optional in the driver interface; this driver has all of it.
const drv = wdDummyV1Driver as Required<UserDriver<DummyHandle, DummyRequest, DummyCompletion>>;

describe("wd_dummy_v1 driver against a stand-in device", () => {
  test("open checks the magic and version and reads the ring geometry", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      expect([h.sqEntries, h.cqEntries, h.algoOp, h.sqTail, h.cqHead]).toEqual([256, 256, L.WD_DUMMY_V1_OP_COPY, 0, 0]);
      dev.ctrl.write32(L.WD_DUMMY_V1_REG_MAGIC, 0x1234);
      expect(() => drv.open(dev.context())).toThrow(/magic 0x1234/);
    } finally {
      dev.close();
    }
  });

  test("refuses a geometry that does not fit the queue region", () => {
    const dev = new FakeDummyDevice();
    try {
      dev.ctrl.write32(L.WD_DUMMY_V1_REG_CQ_OFFSET, 12288 - 16);
      expect(() => drv.open(dev.context())).toThrow(/ring geometry/);
    } finally {
      dev.close();
    }
  });

  test("a submitted descriptor has the protocol's byte layout and the doorbell carries the tail", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      expect(drv.submit(h, [{ op: "copy", id: 0xabcdef01, src: 0x1_0000_2000n, dst: 0x3000, len: 77 }])).toBe(1);
      const q = dev.queue;
      expect(q.read16(L.WD_DUMMY_V1_REQ_OFF_OPCODE)).toBe(L.WD_DUMMY_V1_OP_COPY);
      expect(q.read16(L.WD_DUMMY_V1_REQ_OFF_FLAGS)).toBe(0);
      expect(q.read32(L.WD_DUMMY_V1_REQ_OFF_ID)).toBe(0xabcdef01);
      expect(q.read64(L.WD_DUMMY_V1_REQ_OFF_SRC)).toBe(0x1_0000_2000n);
      expect(q.read64(L.WD_DUMMY_V1_REQ_OFF_DST)).toBe(0x3000n);
      expect(q.read32(L.WD_DUMMY_V1_REQ_OFF_LEN)).toBe(77);
      expect(q.read32(L.WD_DUMMY_V1_REQ_OFF_RSVD)).toBe(0);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL)).toBe(1);
    } finally {
      dev.close();
    }
  });

  test("copies and checksums round-trip through the rings with wrap-around, in order", () => {
    const dev = new FakeDummyDevice();
    const csum = new FakeDummyDevice(L.WD_DUMMY_V1_OP_CSUM);
    try {
      const src = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
      const dst = new Uint8Array(4096);
      dev.dma.set(0x10000, src);
      dev.dma.set(0x20000, dst);
      const h = drv.open(dev.context());
      const got: DummyCompletion[] = [];
      let next = 0;
      while (got.length < 1000) {
        const batch = Array.from({ length: 16 }, (_, k) => ({ op: "copy" as const, id: next + k, src: 0x10000 + ((next + k) % 64), dst: 0x20000, len: 100 }));
        next += drv.submit(h, batch.slice(0, Math.min(16, 1000 - next)));
        dev.step();
        got.push(...drv.poll(h, 1000));
      }
      expect(got.map((c) => c.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(got.every((c) => c.status === 0 && c.statusName === "ok" && c.result === 100)).toBe(true);
      expect(got[999]?.sqIndex).toBe(999);
      expect(h.sqTail).toBe(1000);
      // The last completions read are given back at the next look (or arming).
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).not.toBe(1000);
      expect(drv.poll(h, 1000)).toEqual([]);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(1000);
      expect([...dst.subarray(0, 100)]).toEqual([...src.subarray(999 % 64, 999 % 64 + 100)]);

      const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
      csum.dma.set(0x5000, data);
      const hc = drv.open(csum.context("csum"));
      drv.submit(hc, [{ op: "csum", id: 1, src: 0x5000, len: data.length }]);
      csum.step();
      expect(drv.poll(hc, 8)).toEqual([{ id: 1, status: 0, statusName: "ok", opcode: 2, result: 0x414fa339, sqIndex: 0 }]);
      expect(crc32(data)).toBe(0x414fa339);
    } finally {
      dev.close();
      csum.close();
    }
  });

  test("submit stops at a full ring and never has more in flight than the completion ring holds", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      const nops = Array.from({ length: 300 }, (_, i) => ({ op: "nop" as const, id: i }));
      expect(drv.submit(h, nops)).toBe(256);
      expect(drv.submit(h, nops)).toBe(0);
      dev.step();
      // Consumed but not reaped: still 256 in flight as far as the completion ring goes.
      expect(drv.submit(h, nops)).toBe(0);
      expect(drv.poll(h, 10).length).toBe(10);
      expect(drv.submit(h, nops)).toBe(10);
    } finally {
      dev.close();
    }
  });

  test("poll returns nothing when nothing completed and honours max", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      expect(drv.poll(h, 10)).toEqual([]);
      drv.submit(h, [{ op: "nop", id: 1 }, { op: "nop", id: 2 }, { op: "nop", id: 3 }]);
      dev.step();
      expect(drv.poll(h, 2).map((c) => c.id)).toEqual([1, 2]);
      expect(drv.poll(h, 2).map((c) => c.id)).toEqual([3]);
    } finally {
      dev.close();
    }
  });

  test("a malformed request throws before anything is published", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      expect(() => drv.submit(h, [{ op: "nop", id: 1 }, { op: "copy", id: -1 }])).toThrow(RangeError);
      expect(() => drv.submit(h, [{ op: "zip" as "nop", id: 1 }])).toThrow(/use "copy", "csum" or "nop"/);
      expect(() => drv.submit(h, [{ op: "copy", id: 1, src: -5 }])).toThrow(RangeError);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL)).toBe(0);
      expect(h.sqTail).toBe(0);
    } finally {
      dev.close();
    }
  });

  test("raw opcodes and flags reach the device so its refusals can be tested", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      drv.submit(h, [{ op: 99, id: 1 }, { op: "nop", id: 2, flags: 1 }, { op: "copy", id: 3, src: 0x999000, dst: 0x999000 + 4096, len: 8 }]);
      dev.step();
      expect(drv.poll(h, 8).map((c) => c.statusName)).toEqual(["bad-opcode", "bad-field", "bad-iova"]);
    } finally {
      dev.close();
    }
  });

  test("encode writes what submit writes, on its fast path and on its checked path", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      const reqs: DummyRequest[] = [
        { op: "copy", id: 7, src: 0x1000, dst: 0x2000, len: 64 }, // fast path
        { op: "copy", id: 0xffffffff, src: 0xffffffff, dst: 0, len: 0xffffffff }, // fast path, edges
        { op: "copy", id: 8, src: 0x1_0000_2000n, dst: 2 ** 40, len: 1 }, // bigint and high IOVAs
        { op: "csum", id: 9, src: 0x3000, len: 12 }, // no dst
        { op: "nop", id: 10 }, // nothing but op and id
        { op: 99, id: 11, flags: 0xffff, src: 0, dst: 0, len: 4 }, // raw opcode and flags
        { op: "copy", id: 12, src: 0x1000, dst: 0x2000, len: 64, flags: 0 },
      ];
      expect(drv.submit(h, reqs)).toBe(reqs.length);
      const ring = h.sq.slice(0, reqs.length * 8);
      const words = new Uint32Array(reqs.length * 8 + 8).fill(0xeeeeeeee);
      reqs.forEach((r, i) => drv.encode(r, words, i * 8 + 8));
      expect([...words.subarray(8)]).toEqual([...ring]);
      expect([...words.subarray(0, 8)]).toEqual(Array(8).fill(0xeeeeeeee)); // nothing outside its slot
      expect([...ring.subarray(16, 24)]).toEqual([1, 8, 0x2000, 1, 0, 0x100, 1, 0]);
      expect([...ring.subarray(40, 48)]).toEqual([(99 | (0xffff << 16)) >>> 0, 11, 0, 0, 0, 0, 4, 0]);
    } finally {
      dev.close();
    }
  });

  test("for random valid requests the fast path and the checked path store the same words", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      let seed = 12345;
      // A 32-bit LCG (Math.imul: exact), scaled from its high bits, which are the random ones.
      const rnd = (n: number) => Math.floor(((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n);
      const pick = (): number => [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, rnd(2 ** 32)][rnd(6)] as number;
      let fast = 0;
      for (let k = 0; k < 20; k++) {
        // An absent id or dst (run's requests have no id) is 0 on both paths.
        const reqs: DummyRequest[] = Array.from({ length: 16 }, () => ({
          op: (["copy", "csum", "nop"] as const)[rnd(3)] as "copy",
          id: (rnd(5) === 0 ? undefined : pick()) as number,
          src: rnd(4) === 0 ? BigInt(pick()) : pick(),
          dst: rnd(5) === 0 ? undefined : pick(),
          len: pick(),
        }));
        fast += reqs.filter((r) => typeof r.src === "number").length;
        expect(drv.submit(h, reqs)).toBe(16);
        const words = new Uint32Array(16 * 8);
        // flags: 0 is the same descriptor, and always takes the checked path.
        reqs.forEach((r, i) => drv.encode({ ...r, flags: 0 }, words, i * 8));
        const at = ((h.sqTail - 16) & h.sqMask) * 8;
        expect([...h.sq.subarray(at, at + 16 * 8)]).toEqual([...words]);
        h.cqHead = h.sqTail; // as if reaped
        dev.ctrl.write32(L.WD_DUMMY_V1_REG_SQ_HEAD, h.sqTail);
      }
      expect(fast).toBeGreaterThan(160); // most went by the fast path in submit
    } finally {
      dev.close();
    }
  });

  test("encode refuses a malformed request or a slot outside the array, and writes nothing", () => {
    const words = new Uint32Array(16).fill(5);
    expect(() => drv.encode({ op: "copy", id: -1 }, words, 0)).toThrow(/id "-1"|id -1/);
    expect(() => drv.encode({ op: "copy", id: 1, src: 2 ** 60 }, words, 0)).toThrow(/src/);
    expect(() => drv.encode({ op: "zip" as "nop", id: 1 }, words, 0)).toThrow(/use "copy", "csum" or "nop"/);
    expect(() => drv.encode(null as unknown as DummyRequest, words, 0)).toThrow(/must be an object/);
    expect(() => drv.encode({ op: "nop", id: 1 }, words, 9)).toThrow(/must fit in the 16-word array/);
    expect(() => drv.encode({ op: "nop", id: 1 }, words, 1.5)).toThrow(RangeError);
    expect(() => drv.encode({ op: "nop", id: 1 }, [] as unknown as Uint32Array, 0)).toThrow(/Uint32Array/);
    expect([...words]).toEqual(Array(16).fill(5));
  });

  test("submitEncoded sends a range of descriptors with one doorbell, in order, with wrap-around", () => {
    const dev = new FakeDummyDevice();
    try {
      const src = new Uint8Array(4096).map((_, i) => (i * 13) & 0xff);
      dev.dma.set(0x10000, src);
      dev.dma.set(0x20000, new Uint8Array(4096));
      const h = drv.open(dev.context());
      const words = new Uint32Array(1000 * 8);
      for (let i = 0; i < 1000; i++) drv.encode({ op: "copy", id: i, src: 0x10000 + (i % 64), dst: 0x20000, len: 100 }, words, i * 8);
      const got: DummyCompletion[] = [];
      let next = 0, doorbells = 0;
      while (got.length < 1000) {
        const before = dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL);
        const sent = drv.submitEncoded(h, words, next, Math.min(16, 1000 - next));
        if (sent > 0) {
          doorbells++;
          expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL)).toBe((before + sent) >>> 0);
        }
        next += sent;
        dev.step();
        got.push(...drv.poll(h, 1000));
      }
      expect(doorbells).toBe(Math.ceil(1000 / 16));
      expect(got.map((c) => c.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(got.every((c) => c.statusName === "ok" && c.result === 100)).toBe(true);
      // The ring fills as submit's does.
      const nops = new Uint32Array(300 * 8);
      for (let i = 0; i < 300; i++) drv.encode({ op: "nop", id: i }, nops, i * 8);
      expect(drv.submitEncoded(h, nops, 0, 300)).toBe(256);
      expect(drv.submitEncoded(h, nops, 256, 44)).toBe(0);
    } finally {
      dev.close();
    }
  });

  test("encoded descriptors go to the device as they are: it answers a bad field with an error completion", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      const words = new Uint32Array(16);
      drv.encode({ op: "nop", id: 1 }, words, 0);
      drv.encode({ op: "nop", id: 2 }, words, 8);
      words[8 + 7] = 1; // the reserved word
      words[0] = 77; // no such opcode
      expect(drv.submitEncoded(h, words, 0, 2)).toBe(2);
      dev.step();
      expect(drv.poll(h, 8).map((c) => [c.id, c.statusName])).toEqual([[1, "bad-opcode"], [2, "bad-field"]]);
    } finally {
      dev.close();
    }
  });

  test("pollEncoded copies completions as the device wrote them, with wrap-around, honours max, frees their slots; decode gives poll's objects", () => {
    const dev = new FakeDummyDevice();
    try {
      const h = drv.open(dev.context());
      const words = new Uint32Array(8 + 300 * 4);
      expect(drv.pollEncoded(h, words, 0, 10)).toBe(0);
      let next = 0;
      // Four rounds of 100 go round the 256-entry completion ring.
      for (let round = 0; round < 4; round++) {
        const batch = Array.from({ length: 100 }, (_, i) => ({ op: "nop" as const, id: round * 100 + i }));
        if (round % 2 === 0) drv.submit(h, batch);
        else {
          const d = new Uint32Array(100 * 8);
          batch.forEach((r, i) => drv.encode!(r, d, i * 8));
          expect(drv.submitEncoded!(h, d, 0, 100)).toBe(100);
        }
        // What was read goes back at the next look, not with the doorbell.
        expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(round === 0 ? 0 : next - 40);
        dev.step();
        expect(drv.pollEncoded(h, words, 8, 60)).toBe(60); // from word 8: words 0..7 untouched
        expect(drv.pollEncoded(h, words, 8 + 60 * 4, 1000)).toBe(40);
        for (let i = 0; i < 100; i++) {
          const at = 8 + i * 4;
          const c = drv.decode(words, at);
          expect(c).toEqual({ id: next, status: 0, statusName: "ok", opcode: L.WD_DUMMY_V1_OP_NOP, result: 0, sqIndex: next });
          next++;
        }
        expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(next - 40); // the first 60 were given back by the second look
      }
      expect(drv.lend!(h).head).toBe(next);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(next); // the rest before the ring is lent
      drv.submit(h, [{ op: "nop", id: 1 }]);
      dev.step();
      expect(drv.pollEncoded(h, words, 8, 1)).toBe(1);
      drv.submit(h, [{ op: "nop", id: 2 }]);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(next); // not with the doorbell
      drv.arm!(h);
      expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_CQ_HEAD)).toBe(next + 1); // or before the interrupt is armed
      expect([...words.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(drv.decode(new Uint32Array([9, 77, 5, 1]), 0)).toMatchObject({ id: 9, status: 77, statusName: "status-77", opcode: 0, result: 5 });
      expect(drv.decode(words, 8).id).toBe(words[8 + drv.completionIdWord]!);
      const d = new Uint32Array(8);
      drv.encode({ op: "nop", id: 0xabcdef }, d, 0);
      expect(d[drv.idWord]).toBe(0xabcdef);
    } finally {
      dev.close();
    }
  });
});

// The real Queue and the real wd_dummy_v1 driver against the host-native emulator
// (scripts/emu/wd_emu.c), a device that runs in another process at the same time as the
// queue: copies, checksums and nops checked byte for byte, the device's error completions,
// waits that sleep on the completion interrupt, a full ring, and the teardown.
import { describe, expect, test } from "bun:test";
import { Emulator, EMU } from "../../scripts/emu/emulator.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { QueueFullError, QueueReleasedError, RUN_ID_BASE } from "../../src/queue/types.ts";
import { crc32 } from "./_fake_wd_dummy.ts";

/** Request-specific bytes, so a stale or partial copy cannot pass. */
function pattern(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("the Queue on the emulator", () => {
  test("concurrent copies of many sizes arrive byte for byte; nops complete; ids and ring indexes follow run's order", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    const sizes = [1, 3, 64, 255, 256, 4096, 4097, 65536];
    const buf = q.alloc(2 * sizes.reduce((a, b) => a + b, 0) + 4096);
    const runs: Promise<{ id: number; status: number; result: number; sqIndex: number }>[] = [];
    const checks: (() => void)[] = [];
    let at = 0;
    for (const [i, len] of sizes.entries()) {
      const src = at, dst = at + len;
      const data = pattern(i, len);
      buf.bytes(src, len).set(data);
      runs.push(q.run({ op: "copy", src: buf.iova + BigInt(src), dst: buf.iova + BigInt(dst), len }, { timeout: 5000 }));
      runs.push(q.run({ op: "nop" }, { timeout: 5000 }));
      checks.push(() => expect(buf.bytes(dst, len)).toEqual(data));
      at += 2 * len;
    }
    const done = await Promise.all(runs);
    expect(done.map((c) => c.status)).toEqual(done.map(() => L.WD_DUMMY_V1_ST_OK));
    expect(done.filter((_, i) => i % 2 === 0).map((c) => c.result)).toEqual(sizes);
    expect(done.map((c) => c.id)).toEqual(done.map((_, i) => RUN_ID_BASE + i));
    expect(done.map((c) => c.sqIndex)).toEqual(done.map((_, i) => i));
    for (const check of checks) check();
  });

  test("a csum queue returns zlib's CRC-32 of each buffer; the check value of 123456789 is 0xcbf43926", async () => {
    await using emu = await Emulator.start({ alg: "csum" });
    await using q = emu.queue();
    const buf = q.alloc(1 << 16);
    buf.bytes(0, 9).set(new TextEncoder().encode("123456789"));
    expect((await q.run({ op: "csum", src: buf.iova, len: 9 }, { timeout: 5000 })).result).toBe(0xcbf43926);
    const lens = [1, 100, 4096, 30000];
    const got = await Promise.all(lens.map((len, i) => {
      const off = 4096 * (i + 1);
      buf.bytes(off, len).set(pattern(100 + i, len));
      return q.run({ op: "csum", src: buf.iova + BigInt(off), len }, { timeout: 5000 });
    }));
    expect(got.map((c) => c.result)).toEqual(lens.map((len, i) => crc32(pattern(100 + i, len))));
  });

  test("the device's checks answer with the module's error completions, in its order, and the queue goes on", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    const buf = q.alloc(16384);
    const freed = q.alloc(4096);
    const freedIova = freed.iova;
    freed.close();
    const a = buf.iova;
    const cases: [string, Parameters<typeof q.run>[0], number][] = [
      ["the other algorithm's opcode", { op: "csum", src: a, len: 64 }, L.WD_DUMMY_V1_ST_BAD_OPCODE],
      ["an unknown opcode", { op: 0xbeef, src: a, dst: a + 8192n, len: 64 }, L.WD_DUMMY_V1_ST_BAD_OPCODE],
      ["flags set", { op: "copy", flags: 1, src: a, dst: a + 8192n, len: 64 }, L.WD_DUMMY_V1_ST_BAD_FIELD],
      ["a nop with a length", { op: "nop", len: 8 }, L.WD_DUMMY_V1_ST_BAD_FIELD],
      ["a zero length", { op: "copy", src: a, dst: a + 8192n, len: 0 }, L.WD_DUMMY_V1_ST_BAD_LEN],
      ["a length above MAX_LEN", { op: "copy", src: a, dst: a + 8192n, len: L.WD_DUMMY_V1_MAX_LEN + 1 }, L.WD_DUMMY_V1_ST_BAD_LEN],
      ["a source below the arena", { op: "copy", src: 0x1000, dst: a, len: 64 }, L.WD_DUMMY_V1_ST_BAD_IOVA],
      ["a source running past the buffer", { op: "copy", src: a + 16384n - 16n, dst: a, len: 64 }, L.WD_DUMMY_V1_ST_BAD_IOVA],
      ["a freed buffer as destination", { op: "copy", src: a, dst: freedIova, len: 64 }, L.WD_DUMMY_V1_ST_BAD_IOVA],
      ["overlapping source and destination", { op: "copy", src: a, dst: a + 8n, len: 64 }, L.WD_DUMMY_V1_ST_OVERLAP],
      ["a valid copy after all that", { op: "copy", src: a, dst: a + 8192n, len: 64 }, L.WD_DUMMY_V1_ST_OK],
    ];
    const before = emu.stats().iovaFaults;
    const got = await Promise.all(cases.map(([, r]) => q.run(r, { timeout: 5000 })));
    expect(got.map((c, i) => [cases[i]![0], c.status])).toEqual(cases.map(([name, , st]) => [name, st]));
    expect(got.map((c) => c.result)).toEqual(cases.map(([, , st]) => (st === L.WD_DUMMY_V1_ST_OK ? 64 : 0)));
    expect(emu.stats().iovaFaults - before).toBe(3);
  });

  test("with spin 0 the waits arm the completion interrupt and sleep on it; the device signals the eventfd", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ spin: 0 });
    expect(q.interrupts).toBe(true);
    for (let i = 0; i < 200; i++) {
      const c = await q.run({ op: "nop" }, { timeout: 5000 });
      expect(c.status).toBe(L.WD_DUMMY_V1_ST_OK);
    }
    // The runs above may all find their completion at the re-check after arming and never
    // sleep (the emulator answers within microseconds). A wait that starts with nothing on
    // the ring does sleep on the armed interrupt; the request sent while it sleeps wakes it
    // through the eventfd.
    const irqs = emu.stats().irqs;
    const waiting = q.wait({ timeout: 5000 });
    await new Promise((r) => setTimeout(r, 20));
    q.send({ op: "nop", id: 7 });
    expect((await waiting).id).toBe(7);
    expect(emu.stats().irqs).toBeGreaterThan(irqs);
  });

  test("without the interrupt the queue polls with timers and still completes everything", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ interrupts: false, spin: 0 });
    expect(q.interrupts).toBe(false);
    const done = await Promise.all(Array.from({ length: 50 }, () => q.run({ op: "nop" }, { timeout: 5000 })));
    expect(done.every((c) => c.status === L.WD_DUMMY_V1_ST_OK)).toBe(true);
    expect(emu.stats().irqs).toBe(0);
  });

  test("a full ring: 256 sent fill it, one more is refused; runs past the ring wait in order and all complete", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ backlog: 2000 });
    // The device answers at once, so the ring is full only while nobody reaps: fill it
    // with sent requests, then check the next one is refused before reaping.
    expect(q.sendBatch(Array.from({ length: L.WD_DUMMY_V1_SQ_ENTRIES }, (_, i) => ({ op: "nop" as const, id: i })))).toBe(256);
    expect(() => q.send({ op: "nop", id: 999 })).toThrow(QueueFullError);
    const runs = Array.from({ length: 1500 }, () => q.run({ op: "nop" }, { timeout: 10_000 }));
    const sent: number[] = [];
    while (sent.length < 256) for (const c of q.poll()) sent.push(c.id);
    expect(sent).toEqual(Array.from({ length: 256 }, (_, i) => i));
    const done = await Promise.all(runs);
    expect(done.map((c) => c.id - RUN_ID_BASE)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    expect(done.map((c) => c.sqIndex)).toEqual(Array.from({ length: 1500 }, (_, i) => 256 + i));
  });

  test("release rejects what is pending, stops and closes the device, frees the DMA, and the emulator ends cleanly", async () => {
    const emu = await Emulator.start({ spinUs: 0 });
    const q = emu.queue();
    const buf = q.alloc(1 << 20);
    // Big copies keep the device busy while the queue is released under them.
    const runs = Array.from({ length: 64 }, (_, i) => q.run({ op: "copy", src: buf.iova + BigInt((i % 2) * 4096), dst: buf.iova + (1n << 19n), len: 4096 }));
    const outcomes = Promise.allSettled(runs);
    await q.release();
    for (const o of await outcomes) {
      if (o.status === "rejected") expect(o.reason).toBeInstanceOf(QueueReleasedError);
    }
    expect(buf.closed).toBe(true);
    expect(() => q.alloc(4096)).toThrow(QueueReleasedError);
    await emu.close();
    expect(await emu.exited).toBe(0);
  });

  test("a second queue on one emulator is refused: one device file, one queue", async () => {
    await using emu = await Emulator.start();
    await using _q = emu.queue();
    expect(() => emu.queue()).toThrow(/one queue per emulator/);
  });

  test("an emulator whose port was used without a queue, and never closed, still closes cleanly and exits 0", async () => {
    const emu = await Emulator.start();
    const port = emu.port();
    const regs = port.mapRegion(L.WD_DUMMY_V1_CTRL_REGION).view(Uint32Array);
    expect(regs[L.WD_DUMMY_V1_REG_MAGIC / 4]).toBe(L.WD_DUMMY_V1_MAGIC);
    port.allocDma!(4096);
    await emu.close(); // the device is still open: close sends the close command itself
    expect(await emu.exited).toBe(0);
  });

  test("the emulator refuses a bad algorithm or arena size before it starts", async () => {
    await expect(Emulator.start({ alg: "zip" as "copy" })).rejects.toThrow(RangeError);
    await expect(Emulator.start({ arenaSize: 1000 })).rejects.toThrow(/multiple of 4096/);
    await expect(Emulator.start({ arenaSize: (EMU.HOST_PAGE_MAP_MAX + 1) * EMU.IOVA_PAGE })).rejects.toThrow(RangeError);
  });
});

describe("the emulator's registers, as the module's", () => {
  const waitFor = (cond: () => boolean): void => {
    const deadline = performance.now() + 5000;
    while (!cond()) if (performance.now() > deadline) throw new Error("the emulator did not answer within 5 s");
  };

  test("a doorbell out of range gets one BAD_INDEX completion and a sticky ERR_DOORBELL; reset clears everything", async () => {
    await using emu = await Emulator.start();
    const port = emu.port();
    try {
      const ctrl = port.mapRegion(L.WD_DUMMY_V1_CTRL_REGION);
      const queue = port.mapRegion(L.WD_DUMMY_V1_QUEUE_REGION);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_MAGIC)).toBe(L.WD_DUMMY_V1_MAGIC);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_STATUS)).toBe(L.WD_DUMMY_V1_STATUS_READY);
      ctrl.write32(L.WD_DUMMY_V1_REG_DOORBELL, L.WD_DUMMY_V1_SQ_ENTRIES + 7);
      waitFor(() => ctrl.read32(L.WD_DUMMY_V1_REG_CQ_TAIL) === 1);
      const c = L.WD_DUMMY_V1_CQ_OFFSET;
      expect(queue.read32(c + L.WD_DUMMY_V1_CPL_OFF_ID)).toBe(L.WD_DUMMY_V1_ID_NONE);
      expect(queue.read16(c + L.WD_DUMMY_V1_CPL_OFF_STATUS)).toBe(L.WD_DUMMY_V1_ST_BAD_INDEX);
      expect(queue.read32(c + L.WD_DUMMY_V1_CPL_OFF_RESULT)).toBe(L.WD_DUMMY_V1_SQ_ENTRIES + 7);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_SQ_HEAD)).toBe(0);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_ERROR)).toBe(L.WD_DUMMY_V1_ERR_DOORBELL);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_STATUS) & L.WD_DUMMY_V1_STATUS_ERROR).toBe(L.WD_DUMMY_V1_STATUS_ERROR);
      expect(ctrl.read64(L.WD_DUMMY_V1_REG_FAILED)).toBe(1n);
      port.reset();
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_CQ_TAIL)).toBe(0);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_ERROR)).toBe(0);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_STATUS)).toBe(L.WD_DUMMY_V1_STATUS_READY);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_MAGIC)).toBe(L.WD_DUMMY_V1_MAGIC);
    } finally {
      port.close();
    }
  });

  test("a CQ_HEAD ahead of CQ_TAIL stalls the queue with ERR_CQ_HEAD until it is sane again", async () => {
    await using emu = await Emulator.start();
    const port = emu.port();
    try {
      const ctrl = port.mapRegion(L.WD_DUMMY_V1_CTRL_REGION);
      const queue = port.mapRegion(L.WD_DUMMY_V1_QUEUE_REGION);
      ctrl.write32(L.WD_DUMMY_V1_REG_CQ_HEAD, 1000);
      queue.write16(L.WD_DUMMY_V1_SQ_OFFSET + L.WD_DUMMY_V1_REQ_OFF_OPCODE, L.WD_DUMMY_V1_OP_NOP);
      queue.write32(L.WD_DUMMY_V1_SQ_OFFSET + L.WD_DUMMY_V1_REQ_OFF_ID, 42);
      ctrl.write32(L.WD_DUMMY_V1_REG_DOORBELL, 1);
      waitFor(() => ctrl.read32(L.WD_DUMMY_V1_REG_ERROR) !== 0);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_ERROR)).toBe(L.WD_DUMMY_V1_ERR_CQ_HEAD);
      expect(ctrl.read32(L.WD_DUMMY_V1_REG_CQ_TAIL)).toBe(0);
      ctrl.write32(L.WD_DUMMY_V1_REG_CQ_HEAD, 0);
      waitFor(() => ctrl.read32(L.WD_DUMMY_V1_REG_CQ_TAIL) === 1);
      expect(queue.read32(L.WD_DUMMY_V1_CQ_OFFSET + L.WD_DUMMY_V1_CPL_OFF_ID)).toBe(42);
      expect(queue.read16(L.WD_DUMMY_V1_CQ_OFFSET + L.WD_DUMMY_V1_CPL_OFF_STATUS)).toBe(L.WD_DUMMY_V1_ST_OK);
    } finally {
      port.close();
    }
  });
});

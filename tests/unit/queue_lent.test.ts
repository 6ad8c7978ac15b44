// The queue's rings lent for use in place (Queue.lendRing, LentRing) against the host-native
// emulator, a device that runs in another process: requests written into ring slots (by
// put and by hand), completions read where the device wrote them, the bounds of every move,
// the loan's exclusivity, readable()'s and readableSync()'s sleeps on the interrupt, and the
// loan's end.
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import process from "node:process";
import { Emulator } from "../../scripts/emu/emulator.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { type DummyRequest, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import { LentRing } from "../../src/queue/lent.ts";
import { Queue } from "../../src/queue/queue.ts";
import { QueueReleasedError } from "../../src/queue/types.ts";
import { TimeoutError } from "../../src/sys/error.ts";

const CPL_ID = L.WD_DUMMY_V1_CPL_OFF_ID / 4, CPL_STATUS = L.WD_DUMMY_V1_CPL_OFF_STATUS / 4, CPL_RESULT = L.WD_DUMMY_V1_CPL_OFF_RESULT / 4;

/** Writes a copy descriptor by hand in wd_dummy_v1's layout at word `w`. */
function writeCopy(sq: Uint32Array, w: number, id: number, src: number, dst: number, len: number): void {
  sq.set([L.WD_DUMMY_V1_OP_COPY, id, src, 0, dst, 0, len, 0], w);
}

/** Waits for and takes every completion of `want` requests: [id, status, result] each, in order. */
async function takeAll(ring: LentRing, want: number): Promise<number[][]> {
  const out: number[][] = [];
  while (out.length < want) {
    const n = await ring.readable({ timeout: 5000 });
    for (let i = 0; i < n; i++) {
      const c = ring.completion(i);
      out.push([ring.cq[c + CPL_ID]!, ring.cq[c + CPL_STATUS]! & 0xffff, ring.cq[c + CPL_RESULT]!]);
    }
    ring.consume(n);
  }
  return out;
}

/**
 * Stops the emulator, publishes a nop with `id`, and has another process let the emulator
 * go 50 ms later: a wait that starts now must sleep until the device answers.
 */
function publishWhileStopped(emu: Emulator, ring: LentRing<DummyRequest>, id: number): void {
  process.kill(emu.pid, "SIGSTOP");
  spawn("sh", ["-c", `sleep 0.05; kill -CONT ${emu.pid}`], { stdio: "ignore" });
  ring.reserve(1);
  ring.put(0, { op: "nop", id });
  ring.publish(1);
}

describe("a lent ring on the emulator", () => {
  test("copies written in place (put and by hand) arrive byte for byte, with their ids and results, over several wraps of both rings", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    using ring = q.lendRing();
    const entries = ring.sq.length / ring.descriptorWords;
    const len = 256, depth = 16, rounds = Math.ceil((3 * entries) / depth);
    const buf = q.alloc(2 * len * depth);
    const base = Number(buf.iova);
    const bytes = buf.bytes();
    let id = 0;
    for (let r = 0; r < rounds; r++) {
      const got = ring.reserve(depth);
      expect(got).toBe(depth);
      const expected: Uint8Array[] = [];
      for (let s = 0; s < depth; s++) {
        const data = crypto.getRandomValues(new Uint8Array(len));
        bytes.set(data, s * 2 * len);
        bytes.fill(0, s * 2 * len + len, (s + 1) * 2 * len);
        expected.push(data);
        const src = base + s * 2 * len, dst = src + len;
        if (s % 2 === 0) ring.put(s, { op: "copy", id: id + s, src, dst, len });
        else writeCopy(ring.sq, ring.slot(s), id + s, src, dst, len);
      }
      ring.publish(depth);
      const done = await takeAll(ring, depth);
      expect(done).toEqual(expected.map((_, s) => [id + s, L.WD_DUMMY_V1_ST_OK, len]));
      for (let s = 0; s < depth; s++) expect(bytes.subarray(s * 2 * len + len, (s + 1) * 2 * len)).toEqual(expected[s]!);
      id += depth;
    }
    expect(id).toBeGreaterThan(2 * entries); // the free-running indexes wrapped both rings
  });

  test("each move is bounded by what the ring gave: unreserved slots, unpublished counts, unready completions", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    using ring = q.lendRing();
    const entries = ring.sq.length / ring.descriptorWords;
    expect(() => ring.slot(0)).toThrow(RangeError); // nothing reserved yet
    expect(ring.reserve(3)).toBe(3);
    expect(ring.slot(2)).toBe(2 * ring.descriptorWords);
    expect(() => ring.slot(3)).toThrow(/write request slot 3 .*: 3 reserved; call reserve\(\) first/);
    expect(() => ring.slot(-1)).toThrow(RangeError);
    expect(() => ring.publish(4)).toThrow(/publish 4 requests .*: 3 slots reserved/);
    expect(() => ring.publish(1.5)).toThrow(RangeError);
    expect(() => ring.reserve(-1)).toThrow(/non-negative integer/);
    for (let s = 0; s < 3; s++) ring.put(s, { op: "nop", id: 100 + s });
    ring.publish(1); // the other two stay reserved, renumbered from 0
    expect(() => ring.slot(2)).toThrow(RangeError);
    expect(ring.slot(1)).toBe(2 * ring.descriptorWords);
    ring.publish(2);
    expect(() => ring.publish(1)).toThrow(/0 slots reserved/);
    expect(await takeAll(ring, 3)).toEqual([[100, 0, 0], [101, 0, 0], [102, 0, 0]]);
    expect(() => ring.completion(0)).toThrow(/read completion 0 .*: 0 ready/);
    expect(() => ring.consume(1)).toThrow(/consume 1 completions .*: 0 ready/);
    // A refused request writes nothing into its slot.
    expect(ring.reserve(1)).toBe(1);
    const w = ring.slot(0);
    ring.sq.fill(0xeeeeeeee, w, w + ring.descriptorWords);
    expect(() => ring.put(0, { op: "copy", id: 1, src: 0, dst: 0, len: -1 })).toThrow(/len/);
    expect([...ring.sq.subarray(w, w + ring.descriptorWords)]).toEqual(Array(ring.descriptorWords).fill(0xeeeeeeee));
    // Room: no more requests out than the completion ring holds, until completions are consumed.
    expect(ring.reserve(10 * entries)).toBe(entries);
    for (let s = 0; s < entries; s++) ring.put(s, { op: "nop", id: s });
    ring.publish(entries);
    expect(ring.reserve(1)).toBe(0);
    const first = await ring.readable({ timeout: 5000 });
    ring.consume(1);
    expect(ring.reserve(entries)).toBe(1);
    expect(first).toBeGreaterThanOrEqual(1);
    expect((await takeAll(ring, entries - 1)).map((c) => c[0])).toEqual(Array.from({ length: entries - 1 }, (_, i) => i + 1));
  });

  test("while lent, the queue's own data path refuses to run; given back, what was not consumed is the queue's", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    const ring = q.lendRing();
    expect(ring.lent).toBe(true);
    const words = q.encode([{ op: "nop", id: 1 }]); // encode and alloc stay open
    q.alloc(4096);
    const refused: [string, () => unknown][] = [
      ["send", () => q.send({ op: "nop", id: 1 })],
      ["sendBatch", () => q.sendBatch([{ op: "nop", id: 1 }])],
      ["sendEncoded", () => q.sendEncoded(words)],
      ["poll", () => q.poll()],
      ["pollEncoded", () => q.pollEncoded(new Uint32Array(64))],
      ["lendRing", () => q.lendRing()],
    ];
    for (const [name, call] of refused) expect(call, name).toThrow(/the ring of .* is lent \(lendRing\(\)\); give it back first/);
    await expect(q.wait({ timeout: 10 })).rejects.toThrow(/is lent/);
    await expect(q.run({ op: "nop" })).rejects.toThrow(/is lent/);
    await expect(q.completions()[Symbol.asyncIterator]().next()).rejects.toThrow(/is lent/);
    ring.reserve(2);
    ring.put(0, { op: "nop", id: 7 });
    ring.put(1, { op: "nop", id: 8 });
    ring.publish(2);
    await ring.readable({ timeout: 5000 });
    ring.giveBack();
    ring.giveBack(); // idempotent
    expect(ring.lent).toBe(false);
    expect(() => ring.reserve(1)).toThrow(/was given back; lend it again with lendRing\(\)/);
    expect(() => ring.slot(0)).toThrow(/was given back/);
    expect(() => ring.completion(0)).toThrow(/was given back/);
    await expect(ring.readable()).rejects.toThrow(/was given back/);
    // The completions not consumed are the queue's now, and its data path works again.
    const got = [(await q.wait({ timeout: 5000 })).id, (await q.wait({ timeout: 5000 })).id];
    expect(got).toEqual([7, 8]);
    expect((await q.run({ op: "nop" }, { timeout: 5000 })).status).toBe(0);
    using again = q.lendRing();
    expect(again.reserve(1)).toBe(1);
  });

  test("the ring is lent only when nothing else is on it: runs in flight, waits, completions reaped and kept", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue();
    const run = q.run({ op: "nop" }, { timeout: 5000 });
    expect(() => q.lendRing()).toThrow(/run requests, waits or completions reaped and not taken are on it/);
    await run;
    const wait = q.wait({ timeout: 5000 });
    expect(() => q.lendRing()).toThrow(/are on it/);
    q.send({ op: "nop", id: 1 });
    expect((await wait).id).toBe(1);
    // Two completions on the ring; a wait reaps both and takes one: the other is kept.
    q.sendBatch([{ op: "nop", id: 2 }, { op: "nop", id: 3 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect((await q.wait({ timeout: 5000 })).id).toBe(2);
    expect(() => q.lendRing()).toThrow(/are on it/);
    expect(q.poll().map((c) => c.id)).toEqual([3]);
    using ring = q.lendRing();
    expect(ring.ready()).toBe(0);
  });

  test("readable() sleeps on the completion interrupt, times out, aborts, and ends with the loan", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ spin: 0 });
    expect(q.interrupts).toBe(true);
    const ring = q.lendRing();
    const irqs = emu.stats().irqs;
    await expect(ring.readable({ timeout: 30 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(ring.readable({ timeout: 0 })).rejects.toThrow(/timed out after 0 ms/);
    const ac = new AbortController();
    const aborted = ring.readable({ signal: ac.signal });
    ac.abort(new Error("enough"));
    await expect(aborted).rejects.toThrow("enough");
    await expect(ring.readable({ timeout: -1 })).rejects.toThrow(RangeError);
    // A completion that comes while it sleeps wakes it through the interrupt.
    const woken = ring.readable({ timeout: 5000 });
    await expect(ring.readable()).rejects.toThrow(/already pending/);
    await new Promise((r) => setTimeout(r, 20));
    ring.reserve(1);
    ring.put(0, { op: "nop", id: 9 });
    ring.publish(1);
    expect(await woken).toBe(1);
    expect(emu.stats().irqs).toBeGreaterThan(irqs);
    expect(ring.cq[ring.completion(0) + CPL_ID]).toBe(9);
    ring.consume(1);
    // Given back while it sleeps: it rejects.
    const cut = ring.readable();
    ring.giveBack();
    await expect(cut).rejects.toThrow(/was given back/);
  });

  test("without the interrupt, readable() polls with timers and still sees a completion that comes later", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ spin: 0, interrupts: false });
    expect(q.interrupts).toBe(false);
    using ring = q.lendRing();
    const irqs = emu.stats().irqs;
    const woken = ring.readable({ timeout: 5000 });
    await new Promise((r) => setTimeout(r, 30));
    ring.reserve(1);
    ring.put(0, { op: "nop", id: 5 });
    ring.publish(1);
    expect(await woken).toBe(1);
    expect(ring.cq[ring.completion(0) + CPL_ID]).toBe(5);
    expect(emu.stats().irqs).toBe(irqs); // nothing armed the interrupt
    await expect(ring.readable({ timeout: 20 })).resolves.toBe(1); // not consumed: still ready
  });

  test("readableSync() blocks the thread in poll(2) on the completion interrupt until the device signals, times out, and refuses beside a pending readable()", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ spin: 0 });
    const ring = q.lendRing();
    let t0 = performance.now();
    expect(() => ring.readableSync({ timeout: 30 })).toThrow(TimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(() => ring.readableSync({ timeout: 0 })).toThrow(/timed out after 0 ms/);
    expect(() => ring.readableSync({ timeout: -1 })).toThrow(RangeError);
    // The device stopped, a request published, the device let go 50 ms later by another
    // process: the thread sleeps in poll() until the interrupt.
    const irqs = emu.stats().irqs;
    publishWhileStopped(emu, ring, 7);
    t0 = performance.now();
    expect(ring.readableSync({ timeout: 5000 })).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30);
    expect(emu.stats().irqs).toBeGreaterThan(irqs);
    expect(ring.cq[ring.completion(0) + CPL_ID]).toBe(7);
    ring.consume(1);
    const pending = ring.readable({ timeout: 50 });
    expect(() => ring.readableSync({ timeout: 10 })).toThrow(/already pending/);
    await expect(pending).rejects.toBeInstanceOf(TimeoutError);
    ring.giveBack();
    expect(() => ring.readableSync({ timeout: 10 })).toThrow(/was given back/);
  });

  test("without the interrupt, readableSync() sleeps the thread in timed steps and still sees a completion that comes later", async () => {
    await using emu = await Emulator.start();
    await using q = emu.queue({ spin: 0, interrupts: false });
    using ring = q.lendRing();
    const irqs = emu.stats().irqs;
    publishWhileStopped(emu, ring, 8);
    const t0 = performance.now();
    expect(ring.readableSync({ timeout: 5000 })).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30);
    expect(ring.cq[ring.completion(0) + CPL_ID]).toBe(8);
    expect(emu.stats().irqs).toBe(irqs); // nothing armed the interrupt
  });

  test("releasing the queue ends the loan: a sleeping readable() and every later move throw QueueReleasedError", async () => {
    await using emu = await Emulator.start();
    const q = emu.queue();
    const ring = q.lendRing();
    const sleeping = ring.readable();
    await q.release();
    await expect(sleeping).rejects.toBeInstanceOf(QueueReleasedError);
    expect(ring.lent).toBe(false);
    for (const move of [() => ring.reserve(1), () => ring.ready(), () => ring.publish(0), () => ring.consume(0), () => ring.slot(0), () => ring.completion(0)]) {
      expect(move).toThrow(QueueReleasedError);
    }
    expect(() => q.lendRing()).toThrow(QueueReleasedError);
  });

  test("a driver that lends no rings, and one without encode for put, say so", async () => {
    await using emu = await Emulator.start();
    const { lend: _lend, ...noLend } = wdDummyV1Driver;
    await using q = new Queue({ device: "emu", type: "t", alg: "copy", deviceApi: "wd_dummy_v1", mdev: "m", created: false }, { driver: noLend, port: emu.port() });
    expect(() => q.lendRing()).toThrow(/the wd_dummy_v1 driver lends none \(lend\); use sendEncoded\(\) and pollEncoded\(\)/);
    await using emu2 = await Emulator.start();
    const { encode: _encode, ...noEncode } = wdDummyV1Driver;
    await using q2 = new Queue({ device: "emu", type: "t", alg: "copy", deviceApi: "wd_dummy_v1", mdev: "m", created: false }, { driver: noEncode, port: emu2.port() });
    using ring = q2.lendRing();
    ring.reserve(1);
    expect(() => ring.put(0, { op: "nop", id: 1 })).toThrow(/has no encode; write the slot's words instead/);
  });

  test("over hand-made parts: a driver's own doorbell is rung instead of the store, a completion tail too far ahead is refused, the indexes settle back", () => {
    const regs = new Uint32Array(16), rung: number[][] = [], settled: number[][] = [];
    const ring = new LentRing({
      parts: {
        sq: new Uint32Array(4 * 8), cq: new Uint32Array(4 * 4), sqEntries: 4, cqEntries: 4, descriptorWords: 8, completionWords: 4,
        regs, doorbell: 0, sqHeadReg: 1, cqTailReg: 2, cqHeadReg: 3, tail: 0xfffffffe, head: 0xfffffffe, sqHead: 0xfffffffe,
        ring: (tail) => rung.push([tail, regs[3]!]), // with the completion head the device sees when it rings
        settle: (...at) => settled.push(at),
      },
      driver: wdDummyV1Driver, handle: undefined, irq: undefined, spinMs: 0, check: undefined, label: "hand-made", onGiveBack: () => {},
    });
    regs[3] = 0xfffffffe; // the completion head where the device has it
    regs[1] = 5; // a request head outside the ring
    expect(() => ring.reserve(9)).toThrow("The ring of hand-made is corrupt: request head 5 is not within the 4 slots below tail 4294967294");
    regs[1] = 0xfffffffe; // where the device is
    expect(ring.reserve(9)).toBe(4);
    expect([ring.slot(0), ring.slot(1), ring.slot(2)]).toEqual([6 * 8 % 32, 7 * 8 % 32, 0]); // the indexes wrap past 2^32
    ring.publish(3);
    expect(rung).toEqual([[1, 0xfffffffe]]);
    expect(regs[0]).toBe(0); // the driver's doorbell, not the store
    regs[2] = 0; // the device completed two (0xfffffffe, 0xffffffff)
    expect(ring.ready()).toBe(2);
    ring.consume(2);
    expect(regs[3]).toBe(0xfffffffe); // given back with the next doorbell, not before it
    expect(ring.reserve(1)).toBe(1);
    ring.publish(1);
    expect(rung).toEqual([[1, 0xfffffffe], [2, 0xfffffffe]]);
    expect(regs[3]).toBe(0); // right after it
    regs[2] = 1;
    expect(ring.ready()).toBe(1);
    ring.consume(1);
    expect(ring.ready()).toBe(0);
    expect(regs[3]).toBe(1); // or before the next look
    regs[2] = 9; // eight ahead of head 1 in a ring of four
    expect(() => ring.ready()).toThrow("The ring of hand-made is corrupt: completion tail 9 is 8 ahead of head 1 (ring of 4)");
    regs[2] = 2;
    expect(ring.ready()).toBe(1);
    ring.consume(1);
    ring.giveBack();
    expect(regs[3]).toBe(2); // or when the ring is given back
    expect(settled).toEqual([[2, 2, 0xfffffffe]]);
  });
});

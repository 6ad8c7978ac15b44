#!/usr/bin/env bun
/**
 * The queue's own CPU cost per request, without a concurrent device: the loops of
 * `npm run bench:queue` (`scripts/bench/_queue_ts.ts`; poll mode: request objects,
 * `sendBatch`, `poll`; encoded: `sendEncoded` and `pollEncoded`; lent: `lendRing`; irq mode: `run` from
 * DEPTH workers) over an in-process stand-in device that answers every request up to
 * the doorbell whenever the queue reads the completion ring. No second process and no
 * spinning, so the figure moves with the queue's code, not with the machine's load; it
 * includes the stand-in's own work (the same before and after a change). Numbers, not a
 * test.
 *
 *   bun scripts/bench/queue_cost.ts [--mode poll,encoded,lent,irq] [--depth 8,32] [--n 1000000] [--repeat 5]
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type DummyCompletion, type DummyRequest, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import type { UserDriver } from "../../src/drivers/driver.ts";
import { Queue } from "../../src/queue/queue.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import { median } from "./_common.ts";
import { loopEncoded, loopLent, loopObjects, runWorkers, type Slots } from "./_queue_ts.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "poll,irq" },
    depth: { type: "string", default: "8,32" },
    n: { type: "string", default: "1000000" },
    repeat: { type: "string", default: "5" },
  },
});
const N = Number(values.n), REPEAT = Number(values.repeat);

const ctrl = MappedMemory.anonymous(L.WD_DUMMY_V1_CTRL_SIZE, { label: "cost control page" });
const queueMem = MappedMemory.anonymous(L.WD_DUMMY_V1_QUEUE_SIZE, { label: "cost queue region" });
const regs = ctrl.view(Uint32Array, 0, L.WD_DUMMY_V1_CTRL_SIZE / 4);
const sq = queueMem.view(Uint32Array, L.WD_DUMMY_V1_SQ_OFFSET, (L.WD_DUMMY_V1_SQ_ENTRIES * L.WD_DUMMY_V1_REQ_SIZE) / 4);
const cq = queueMem.view(Uint32Array, L.WD_DUMMY_V1_CQ_OFFSET, (L.WD_DUMMY_V1_CQ_ENTRIES * L.WD_DUMMY_V1_CPL_SIZE) / 4);
const R = (off: number): number => off / 4;
regs[R(L.WD_DUMMY_V1_REG_MAGIC)] = L.WD_DUMMY_V1_MAGIC;
regs[R(L.WD_DUMMY_V1_REG_VERSION)] = L.WD_DUMMY_V1_VERSION;
regs[R(L.WD_DUMMY_V1_REG_SQ_ENTRIES)] = L.WD_DUMMY_V1_SQ_ENTRIES;
regs[R(L.WD_DUMMY_V1_REG_CQ_ENTRIES)] = L.WD_DUMMY_V1_CQ_ENTRIES;
regs[R(L.WD_DUMMY_V1_REG_MAX_LEN)] = L.WD_DUMMY_V1_MAX_LEN;
regs[R(L.WD_DUMMY_V1_REG_SQ_OFFSET)] = L.WD_DUMMY_V1_SQ_OFFSET;
regs[R(L.WD_DUMMY_V1_REG_CQ_OFFSET)] = L.WD_DUMMY_V1_CQ_OFFSET;
regs[R(L.WD_DUMMY_V1_REG_ALGO_OP)] = L.WD_DUMMY_V1_OP_COPY;
regs[R(L.WD_DUMMY_V1_REG_STATUS)] = L.WD_DUMMY_V1_STATUS_READY;

/** The stand-in device: every request up to the doorbell gets an ok completion (its length as the result). */
function serve(): void {
  const doorbell = regs[R(L.WD_DUMMY_V1_REG_DOORBELL)]!;
  let head = regs[R(L.WD_DUMMY_V1_REG_SQ_HEAD)]!;
  let tail = regs[R(L.WD_DUMMY_V1_REG_CQ_TAIL)]!;
  const cqHead = regs[R(L.WD_DUMMY_V1_REG_CQ_HEAD)]!;
  while (head !== doorbell && ((tail - cqHead) >>> 0) < L.WD_DUMMY_V1_CQ_ENTRIES) {
    const d = (head & (L.WD_DUMMY_V1_SQ_ENTRIES - 1)) * 8;
    const c = (tail & (L.WD_DUMMY_V1_CQ_ENTRIES - 1)) * 4;
    cq[c] = sq[d + 1]!;
    cq[c + 1] = (sq[d]! & 0xffff) << 16;
    cq[c + 2] = sq[d + 6]!;
    cq[c + 3] = head;
    head = (head + 1) >>> 0;
    tail = (tail + 1) >>> 0;
  }
  regs[R(L.WD_DUMMY_V1_REG_SQ_HEAD)] = head;
  Atomics.store(regs, R(L.WD_DUMMY_V1_REG_CQ_TAIL), tail);
}

// The device answers when the queue looks at the completion ring.
const driver: UserDriver<unknown, DummyRequest, DummyCompletion> = Object.create(wdDummyV1Driver as UserDriver<unknown, DummyRequest, DummyCompletion>);
const basePoll = wdDummyV1Driver.poll, basePollEncoded = wdDummyV1Driver.pollEncoded!;
driver.poll = (h, max) => (serve(), basePoll(h as never, max));
driver.pollEncoded = (h, w, at, max) => (serve(), basePollEncoded(h as never, w, at, max));
// A lent ring reads the registers itself: the device answers when its doorbell rings.
const baseLend = wdDummyV1Driver.lend!;
driver.lend = (h) => ({ ...baseLend(h as never), ring: (tail: number) => (Atomics.store(regs, R(L.WD_DUMMY_V1_REG_DOORBELL), tail), serve()) });
const port = {
  regionCount: 2,
  mapRegion: (i: number) => (i === 0 ? ctrl : queueMem),
  reset() {},
  closeDevice() {},
  close() {},
};
const q = new Queue<DummyRequest, DummyCompletion>(
  { device: "cost", type: "wd_dummy-copy", alg: "copy", deviceApi: "wd_dummy_v1", mdev: "cost", created: false },
  { driver, port, tuning: { interrupts: false, spin: 0 } },
);
const BASE = 0x40000000, SIZE = 256;
/** The benchmark's slots over the stand-in, which copies nothing (checks stay off). */
const slots: Slots = {
  q,
  base: BASE,
  stride: 2 * SIZE,
  fill() {
    throw new Error("queue_cost runs with checks off");
  },
  same: () => true,
};
/** Throws when a request failed (the stand-in answers every one with success). */
function allOk([failed]: [number, number]): void {
  if (failed > 0) throw new Error(`${failed} requests failed`);
}

/** The benchmark's loop of a mode, checks off: `poll`, `encoded` and `lent` are its poll loops, `irq` its `run` workers. */
function loopOf(mode: string, depth: number): (n: number) => Promise<void> | void {
  if (mode === "poll") return (n) => allOk(loopObjects(slots, { depth, size: SIZE, checks: false, mode: "poll", api: "objects" }, n, performance.now()));
  if (mode === "encoded") return (n) => allOk(loopEncoded(slots, { depth, size: SIZE, checks: false, mode: "poll", api: "encoded" }, n, performance.now()));
  if (mode === "lent") return (n) => allOk(loopLent(slots, { depth, size: SIZE, checks: false, mode: "poll", api: "lent" }, n, performance.now()));
  if (mode === "irq") return async (n) => allOk(await runWorkers(slots, { depth, size: SIZE, checks: false, mode: "irq", api: "run" }, n));
  throw new RangeError(`--mode ${JSON.stringify(mode)}: it is poll, encoded, lent or irq`);
}

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

for (const mode of values.mode.split(",")) {
  for (const depth of values.depth.split(",").map(Number)) {
    const body = loopOf(mode, depth);
    await body(Math.ceil(N / 4)); // JIT warm-up
    const ns: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      const c0 = cpuNs();
      await body(N);
      ns.push((cpuNs() - c0) / N);
    }
    // The minimum is the figure least moved by other load on the machine.
    process.stdout.write(`${mode} depth ${depth}: ${median(ns).toFixed(1)} ns CPU/request (median of ${REPEAT}, min ${Math.min(...ns).toFixed(1)}; runs ${ns.map((x) => x.toFixed(1)).join(" ")})\n`);
  }
}
await q.release();
ctrl.close();
queueMem.close();

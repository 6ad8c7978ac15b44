#!/usr/bin/env bun
/**
 * The queue's own CPU cost per request, without a concurrent device: the loops of
 * `npm run bench:queue` (poll mode: request objects, `sendBatch`, `poll`; encoded: the same
 * with `sendEncoded` and `pollEncoded`; irq mode: `run` from DEPTH workers) over an in-process stand-in device that answers every request up to
 * the doorbell whenever the queue reads the completion ring. No second process and no
 * spinning, so the figure moves with the queue's code, not with the machine's load; it
 * includes the stand-in's own work (the same before and after a change). Numbers, not a
 * test.
 *
 *   bun scripts/bench/queue_cost.ts [--mode poll,encoded,irq] [--depth 8,32] [--n 1000000] [--repeat 5]
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type DummyCompletion, type DummyRequest, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import type { UserDriver } from "../../src/drivers/driver.ts";
import { Queue } from "../../src/queue/queue.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import { median } from "./_common.ts";

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

/** The poll-mode loop of the benchmark (checks off). */
function pollCase(depth: number, n: number): void {
  const stride = 2 * SIZE;
  const free: number[] = [];
  for (let i = 0; i < depth; i++) free.push(depth - 1 - i);
  const slotOf = new Uint32Array(256);
  const reqs: { op: "copy"; id: number; src: number; dst: number; len: number }[] = [];
  let submitted = 0, done = 0, failed = 0;
  while (done < n) {
    if (submitted < n && free.length > 0) {
      reqs.length = 0;
      while (submitted < n && free.length > 0) {
        const s = free.pop()!;
        slotOf[submitted & 255] = s;
        reqs.push({ op: "copy", id: submitted, src: BASE + s * stride, dst: BASE + s * stride + SIZE, len: SIZE });
        submitted++;
      }
      if (q.sendBatch(reqs) !== reqs.length) throw new Error("the ring refused requests it has room for");
    }
    const got = q.poll();
    for (const c of got) {
      const s = slotOf[c.id & 255]!;
      if (c.status !== 0 || c.id >= submitted) failed++;
      free.push(s);
      done++;
    }
  }
  if (failed > 0) throw new Error(`${failed} requests failed`);
}

/** The poll-mode loop of the benchmark on the encoded API (checks off): descriptors and completions as words. */
function encodedCase(depth: number, n: number): void {
  const stride = 2 * SIZE, dw = q.descriptorWords!, cw = q.completionWords!;
  const desc = q.encode(Array.from({ length: depth }, (_, s) => ({ op: "copy" as const, id: s, src: BASE + s * stride, dst: BASE + s * stride + SIZE, len: SIZE })));
  const batch = new Uint32Array(depth * dw), cpl = new Uint32Array(depth * cw);
  const free = new Int32Array(depth);
  let nFree = depth, submitted = 0, done = 0, failed = 0;
  for (let i = 0; i < depth; i++) free[i] = depth - 1 - i;
  while (done < n) {
    if (submitted < n && nFree > 0) {
      let k = 0;
      while (submitted < n && nFree > 0) {
        const s = free[--nFree]!;
        for (let w = 0, from = s * dw, to = k * dw; w < dw; w++) batch[to + w] = desc[from + w]!;
        k++;
        submitted++;
      }
      if (q.sendEncoded(batch, 0, k) !== k) throw new Error("the ring refused requests it has room for");
    }
    const got = q.pollEncoded(cpl, depth);
    for (let i = 0, at = 0; i < got; i++, at += cw) {
      const s = cpl[at + L.WD_DUMMY_V1_CPL_OFF_ID / 4]!;
      if ((cpl[at + L.WD_DUMMY_V1_CPL_OFF_STATUS / 4]! & 0xffff) !== 0 || s >= depth) failed++;
      free[nFree++] = s;
      done++;
    }
  }
  if (failed > 0) throw new Error(`${failed} requests failed`);
}

/** The irq-mode loop of the benchmark (checks off): `run` from `depth` workers. */
async function irqCase(depth: number, n: number): Promise<void> {
  let next = 0, failed = 0;
  const worker = async (s: number): Promise<void> => {
    const src = BASE + s * 2 * SIZE, dst = src + SIZE;
    while (next < n) {
      next++;
      const c = await q.run({ op: "copy", src, dst, len: SIZE });
      if (c.status !== 0) failed++;
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, s) => worker(s)));
  if (failed > 0) throw new Error(`${failed} requests failed`);
}

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

for (const mode of values.mode.split(",")) {
  for (const depth of values.depth.split(",").map(Number)) {
    const body = mode === "poll" ? (n: number) => pollCase(depth, n) : mode === "encoded" ? (n: number) => encodedCase(depth, n) : (n: number) => irqCase(depth, n);
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

/**
 * The TypeScript side of the native queue benchmark (`scripts/bench_queue.ts`) and of the
 * one-case runner (`scripts/bench/queue_one.ts`): the real `Queue` and `wd_dummy_v1`
 * driver over the host emulator, and the C client on its own emulator. The rig part
 * (`scripts/bench/queue_rig.ts`) drives its kernel queue with the same poll loops.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import process from "node:process";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import type { DummyCompletion, DummyRequest } from "../../src/drivers/wd_dummy_v1.ts";
import type { DevicePort } from "../../src/queue/port.ts";
import type { LentRing } from "../../src/queue/lent.ts";
import type { Queue } from "../../src/queue/queue.ts";
import { Emulator } from "../emu/emulator.ts";

/** How a case waits: the ring polled in a loop, or sleeping on the completion interrupt (`run` with `spin: 0`). */
export type Mode = "poll" | "irq";
/**
 * Which of the queue's APIs a case uses: request and completion objects (`sendBatch`,
 * `poll`); descriptors and completions as words (`sendEncoded`, `pollEncoded`), the
 * queue's zero-allocation path; `lent`, the rings lent in place (`lendRing`: descriptors
 * written into reserved slots, completions read where the device wrote them); `run`, a
 * promise per request. For latency only,
 * `encoded+promise`: the encoded path followed by a bare promise resolved and awaited,
 * the least any promise-returning call on this ring can cost (the engine's floor for `run`).
 * For rps only, `floor`: no library at all, the C client's loop in JavaScript (descriptors
 * written into the ring, completions read in place), the engine's floor for the round trip.
 */
export type Api = "objects" | "encoded" | "lent" | "run" | "encoded+promise" | "floor";
/** The words of a `wd_dummy_v1` completion that hold the id and (low half) the status. */
const CPL_ID = L.WD_DUMMY_V1_CPL_OFF_ID / 4, CPL_STATUS = L.WD_DUMMY_V1_CPL_OFF_STATUS / 4;
/** A pause instruction per empty look, as the C client's loop has (Bun and Deno have it; Node 20 has not). */
const pause: () => void = (Atomics as unknown as { pause?: () => void }).pause ?? (() => {});

/** One rps case. */
export interface RpsCase {
  readonly depth: number;
  readonly size: number;
  readonly checks: boolean;
  readonly mode: Mode;
  /** poll mode: "objects", "encoded", "lent" or "floor"; irq mode: "run" or "lent" (readableSync). */
  readonly api: Api;
}
/** One latency case (depth 1, checks off). */
export interface LatencyCase {
  readonly size: number;
  readonly mode: Mode;
  readonly api: Api;
}
/** How often a run's client was signalled and really slept, per request. */
export interface SleepCounts {
  /** Interrupts the emulator signalled per request. */
  irqs?: number;
  /** Voluntary context switches of the client process per request: how often it really blocked. */
  sleeps?: number;
}
/** Requests per second and CPU per request of one run. */
export interface RpsResult extends SleepCounts {
  rps: number;
  cpuNs: number;
}
/** Latency percentiles of one run, µs. */
export interface LatencyResult extends SleepCounts {
  p50: number;
  p99: number;
}

/** Bytes of random source data the checked cases copy from. */
export const POOL = 1 << 16;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000; // ns
}

/** The queue the benchmark drives: the emulator's, or the rig's through `requestQueue`. */
export type Q = Queue<DummyRequest, DummyCompletion>;

/** The slots of an rps run: slot `s` copies `size` bytes from `base + s * stride` to `+ size`. */
export interface Slots {
  readonly q: Q;
  readonly base: number;
  readonly stride: number;
  /** Refills slot `s`'s source for request `i` (checks on). */
  fill(s: number, i: number): void;
  /** Whether slot `s`'s copy came back equal (checks on). */
  same(s: number): boolean;
}

/** DMA memory as the benchmark uses it: a queue's `alloc`, or the emulator port's `allocDma`. */
interface Dma {
  readonly iova: bigint;
  bytes(): Uint8Array;
}

/** Slots in one DMA buffer from `alloc`, and a pool of random bytes after them. */
function buffersOf(alloc: (size: number) => Dma, depth: number, size: number): Omit<Slots, "q"> {
  const stride = 2 * size;
  const slots = depth * stride;
  const buf = alloc(slots + POOL);
  const bytes = buf.bytes();
  const mem = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Each slot's source and destination as views made once: Buffer.compare of two views is
  // the runtime's memcmp (in Bun several times faster than buf.compare with offsets).
  const srcView: Buffer[] = [], dstView: Buffer[] = [];
  for (let s = 0; s < depth; s++) {
    srcView.push(mem.subarray(s * stride, s * stride + size));
    dstView.push(mem.subarray(s * stride + size, s * stride + 2 * size));
  }
  crypto.getRandomValues(bytes.subarray(slots, slots + POOL));
  return {
    // IOVAs as numbers: the driver's fast path.
    base: Number(buf.iova),
    stride,
    fill(s, i) {
      const from = slots + ((i * 4099) % (POOL - size));
      mem.copyWithin(s * stride, from, from + size);
    },
    same: (s) => Buffer.compare(dstView[s]!, srcView[s]!) === 0,
  };
}

/** The slots of an rps run on `q`'s DMA memory. */
export function slotsOf(q: Q, depth: number, size: number): Slots {
  return { q, ...buffersOf((n) => q.alloc(n), depth, size) };
}

function noCompletion(t0: number, done: number, n: number): void {
  if (performance.now() - t0 > 120_000) throw new Error(`no completion (done ${done} of ${n})`);
}

/** Poll mode on request and completion objects (`t0`: when the run began). Returns [failed, bad]. */
export function loopObjects(x: Slots, k: RpsCase, n: number, t0: number): [number, number] {
  const { q, base, stride } = x, { depth, size, checks } = k;
  const free: number[] = [];
  for (let i = 0; i < depth; i++) free.push(depth - 1 - i);
  const slotOf = new Uint32Array(256);
  const reqs: { op: "copy"; id: number; src: number; dst: number; len: number }[] = [];
  let submitted = 0, done = 0, failed = 0, bad = 0;
  while (done < n) {
    if (submitted < n && free.length > 0) {
      reqs.length = 0;
      while (submitted < n && free.length > 0) {
        const s = free.pop()!;
        if (checks) x.fill(s, submitted);
        slotOf[submitted & 255] = s;
        reqs.push({ op: "copy", id: submitted, src: base + s * stride, dst: base + s * stride + size, len: size });
        submitted++;
      }
      if (q.sendBatch(reqs) !== reqs.length) throw new Error("the ring refused requests it has room for");
    }
    let got = q.poll();
    for (let spins = 1; got.length === 0; spins++) {
      if ((spins & 0xffff) === 0) noCompletion(t0, done, n);
      pause();
      got = q.poll();
    }
    for (const c of got) {
      const s = slotOf[c.id & 255]!;
      if (c.status !== 0 || c.id >= submitted) failed++;
      else if (checks && !x.same(s)) bad++;
      free.push(s);
      done++;
    }
  }
  return [failed, bad];
}

/** Poll mode on the encoded path: each slot's descriptor encoded once (its id is its slot), copied into the batch it goes in. */
export function loopEncoded(x: Slots, k: RpsCase, n: number, t0: number): [number, number] {
  const { q, base, stride } = x, { depth, size, checks } = k;
  const dw = q.descriptorWords!, cw = q.completionWords!;
  const desc = q.encode(Array.from({ length: depth }, (_, s) => ({ op: "copy" as const, id: s, src: base + s * stride, dst: base + s * stride + size, len: size })));
  const batch = new Uint32Array(depth * dw), cpl = new Uint32Array(depth * cw);
  const free = new Int32Array(depth);
  let nFree = depth, submitted = 0, done = 0, failed = 0, bad = 0;
  for (let i = 0; i < depth; i++) free[i] = depth - 1 - i;
  while (done < n) {
    if (submitted < n && nFree > 0) {
      let m = 0;
      while (submitted < n && nFree > 0) {
        const s = free[--nFree]!;
        if (checks) x.fill(s, submitted);
        for (let w = 0, from = s * dw, to = m * dw; w < dw; w++) batch[to + w] = desc[from + w]!;
        m++;
        submitted++;
      }
      if (q.sendEncoded(batch, 0, m) !== m) throw new Error("the ring refused requests it has room for");
    }
    let got = q.pollEncoded(cpl, depth);
    for (let spins = 1; got === 0; spins++) {
      if ((spins & 0xffff) === 0) noCompletion(t0, done, n);
      pause();
      got = q.pollEncoded(cpl, depth);
    }
    for (let i = 0, at = 0; i < got; i++, at += cw) {
      const s = cpl[at + CPL_ID]!;
      if ((cpl[at + CPL_STATUS]! & 0xffff) !== 0 || s >= depth) failed++;
      else if (checks && !x.same(s)) bad++;
      free[nFree++] = s;
      done++;
    }
  }
  return [failed, bad];
}

/**
 * Poll mode on the rings lent in place: the floor's loop through `LentRing` (each slot's
 * descriptor written where the ring reserved it, completions read in place). Returns [failed, bad].
 */
export function loopLent(x: Slots, k: RpsCase, n: number, t0: number): [number, number] {
  const ring = x.q.lendRing();
  try {
    return lentRun(ring, x, k, n, t0);
  } finally {
    ring.giveBack();
  }
}

/** loopLent's loop, in a function of its own: a `using` or `try` around it would keep the JIT from its best code. */
function lentRun(ring: LentRing, x: Slots, k: RpsCase, n: number, t0: number): [number, number] {
  const { base, stride } = x, { depth, size, checks } = k;
  const { sq, cq } = ring;
  // irq mode: nothing ready, the thread sleeps in poll(2) on the interrupt (spin 0), as C does.
  const sync = k.mode === "irq";
  const free = new Int32Array(depth);
  let nFree = depth, submitted = 0, done = 0, failed = 0, bad = 0;
  for (let i = 0; i < depth; i++) free[i] = depth - 1 - i;
  while (done < n) {
    if (submitted < n && nFree > 0) {
      const m = ring.reserve(Math.min(nFree, n - submitted));
      for (let i = 0; i < m; i++) {
        const s = free[--nFree]!;
        if (checks) x.fill(s, submitted);
        const w = ring.slot(i);
        sq[w] = L.WD_DUMMY_V1_OP_COPY;
        sq[w + 1] = s;
        sq[w + 2] = base + s * stride;
        sq[w + 3] = 0;
        sq[w + 4] = base + s * stride + size;
        sq[w + 5] = 0;
        sq[w + 6] = size;
        sq[w + 7] = 0;
        submitted++;
      }
      ring.publish(m);
    }
    let got = ring.ready();
    if (got === 0 && sync) got = ring.readableSync({ timeout: 120_000 });
    for (let spins = 1; got === 0; spins++) {
      if ((spins & 0xffff) === 0) noCompletion(t0, done, n);
      pause();
      got = ring.ready();
    }
    for (let i = 0; i < got; i++) {
      const c = ring.completion(i), s = cq[c + CPL_ID]!;
      if ((cq[c + CPL_STATUS]! & 0xffff) !== 0 || s >= depth) failed++;
      else if (checks && !x.same(s)) bad++;
      free[nFree++] = s;
      done++;
    }
    ring.consume(got);
  }
  return [failed, bad];
}

/** The emulator's rings as a client without the library sees them (`api` "floor"). */
interface RawRing {
  readonly regs: Uint32Array;
  readonly sq: Uint32Array;
  readonly cq: Uint32Array;
  readonly sqMask: number;
  readonly cqMask: number;
}

function rawRing(port: DevicePort): RawRing {
  const regs = port.mapRegion(L.WD_DUMMY_V1_CTRL_REGION).view(Uint32Array, 0, L.WD_DUMMY_V1_CTRL_SIZE / 4);
  const queue = port.mapRegion(L.WD_DUMMY_V1_QUEUE_REGION);
  const reg = (off: number): number => regs[off / 4]!;
  const sqN = reg(L.WD_DUMMY_V1_REG_SQ_ENTRIES), cqN = reg(L.WD_DUMMY_V1_REG_CQ_ENTRIES);
  return {
    regs,
    sq: queue.view(Uint32Array, reg(L.WD_DUMMY_V1_REG_SQ_OFFSET), (sqN * L.WD_DUMMY_V1_REQ_SIZE) / 4),
    cq: queue.view(Uint32Array, reg(L.WD_DUMMY_V1_REG_CQ_OFFSET), (cqN * L.WD_DUMMY_V1_CPL_SIZE) / 4),
    sqMask: sqN - 1,
    cqMask: cqN - 1,
  };
}

const R_DOORBELL = L.WD_DUMMY_V1_REG_DOORBELL / 4, R_CQ_TAIL = L.WD_DUMMY_V1_REG_CQ_TAIL / 4, R_CQ_HEAD = L.WD_DUMMY_V1_REG_CQ_HEAD / 4;

/**
 * The engine's floor of the round trip: the C client's loop in JavaScript, with no
 * library. Descriptors are written straight into the ring, one doorbell per pass, and
 * completions are read where the device wrote them. Returns [failed, bad].
 */
function loopFloor(r: RawRing, x: Omit<Slots, "q">, k: RpsCase, n: number, t0: number): [number, number] {
  const { regs, sq, cq, sqMask, cqMask } = r, { base, stride } = x, { depth, size, checks } = k;
  let tail = Atomics.load(regs, R_DOORBELL), head = Atomics.load(regs, R_CQ_HEAD);
  const free = new Int32Array(depth);
  let nFree = depth, submitted = 0, done = 0, failed = 0, bad = 0;
  for (let i = 0; i < depth; i++) free[i] = depth - 1 - i;
  while (done < n) {
    if (submitted < n && nFree > 0) {
      while (submitted < n && nFree > 0) {
        const s = free[--nFree]!;
        if (checks) x.fill(s, submitted);
        const w = (tail & sqMask) * 8;
        sq[w] = L.WD_DUMMY_V1_OP_COPY;
        sq[w + 1] = s;
        sq[w + 2] = base + s * stride;
        sq[w + 3] = 0;
        sq[w + 4] = base + s * stride + size;
        sq[w + 5] = 0;
        sq[w + 6] = size;
        sq[w + 7] = 0;
        tail = (tail + 1) >>> 0;
        submitted++;
      }
      Atomics.store(regs, R_DOORBELL, tail);
    }
    let t = Atomics.load(regs, R_CQ_TAIL);
    for (let spins = 1; t === head; spins++) {
      if ((spins & 0xffff) === 0) noCompletion(t0, done, n);
      pause();
      t = Atomics.load(regs, R_CQ_TAIL);
    }
    for (; head !== t; head = (head + 1) >>> 0) {
      const c = (head & cqMask) * 4, s = cq[c + CPL_ID]!;
      if ((cq[c + CPL_STATUS]! & 0xffff) !== 0 || s >= depth) failed++;
      else if (checks && !x.same(s)) bad++;
      free[nFree++] = s;
      done++;
    }
    Atomics.store(regs, R_CQ_HEAD, head);
  }
  return [failed, bad];
}

/** Times `n` requests of `loop` (given when it starts): requests per second and the process's CPU per request; throws when any failed or came back wrong. */
export async function timed(n: number, loop: (t0: number) => [number, number] | Promise<[number, number]>): Promise<RpsResult> {
  const c0 = cpuNow(), s0 = process.resourceUsage().voluntaryContextSwitches;
  const t0 = performance.now();
  const [failed, bad] = await loop(t0);
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - c0, sleeps = process.resourceUsage().voluntaryContextSwitches - s0;
  if (failed > 0 || bad > 0) throw new Error(`${failed} requests failed, ${bad} came back wrong`);
  return { rps: n / secs, cpuNs: cpu / n, sleeps: sleeps / n };
}

/** The emulator, pinned to `emuCpu` when given. */
function emulator(emuCpu: number | undefined): Promise<Emulator> {
  return Emulator.start(emuCpu === undefined ? {} : { cpu: emuCpu });
}

/** The floor's side of an rps case: the emulator's port without a queue. */
async function floorRps(k: RpsCase, n: number, emuCpu: number | undefined): Promise<RpsResult> {
  await using emu = await emulator(emuCpu);
  const port = emu.port();
  const ring = rawRing(port);
  const x = buffersOf((size) => port.allocDma!(size), k.depth, k.size);
  return await timed(n, (t0) => loopFloor(ring, x, k, n, t0));
}

/** `run` from `depth` workers, one slot each. Returns [failed, bad]. */
export async function runWorkers(x: Slots, k: RpsCase, n: number): Promise<[number, number]> {
  const { q, base, stride } = x, { depth, size, checks } = k;
  let next = 0, failed = 0, bad = 0;
  const worker = async (s: number): Promise<void> => {
    const src = base + s * stride, dst = src + size;
    while (next < n) {
      const i = next++;
      if (checks) x.fill(s, i);
      const c = await q.run({ op: "copy", src, dst, len: size });
      if (c.status !== 0) failed++;
      else if (checks && !x.same(s)) bad++;
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, s) => worker(s)));
  return [failed, bad];
}

/** The TypeScript side of an rps case; `emuCpu` pins the emulator. */
export async function tsRps(k: RpsCase, n: number, emuCpu?: number): Promise<RpsResult> {
  if (k.api === "floor") return floorRps(k, n, emuCpu);
  await using emu = await emulator(emuCpu);
  await using q = emu.queue(k.mode === "irq" ? { spin: 0 } : {});
  const x = slotsOf(q, k.depth, k.size);
  const irqs0 = emu.stats().irqs;
  const r = await timed(n, (t0) => polled(x, k, n, t0));
  return { ...r, irqs: (emu.stats().irqs - irqs0) / n };
}

/** The loop of an rps case by its api (`run` from workers; floor has its own runner). */
export function polled(x: Slots, k: RpsCase, n: number, t0: number): [number, number] | Promise<[number, number]> {
  switch (k.api) {
    case "run":
      return runWorkers(x, k, n);
    case "encoded":
      return loopEncoded(x, k, n, t0);
    case "lent":
      return loopLent(x, k, n, t0);
    case "objects":
      return loopObjects(x, k, n, t0);
    default:
      throw new Error(`no queue loop for api ${k.api}`);
  }
}

/**
 * The TypeScript side of a latency case: one request at a time, from handing it over to
 * having its completion. `run`: the promise settled (poll mode with the queue's default
 * spin, irq mode with `spin: 0`); `encoded`: `sendEncoded`, then `pollEncoded` until it
 * returns it; `encoded+promise`: the same, then a promise resolved and awaited; `lent`:
 * the descriptor written into a reserved slot and published, then `ready()` until it is there.
 */
export async function tsLatency(k: LatencyCase, n: number, emuCpu?: number): Promise<LatencyResult> {
  await using emu = await emulator(emuCpu);
  await using q = emu.queue(k.mode === "irq" ? { spin: 0 } : {});
  const buf = q.alloc(2 * k.size);
  const src = Number(buf.iova), dst = src + k.size;
  const lat = new Float64Array(n);
  const irqs0 = emu.stats().irqs, s0 = process.resourceUsage().voluntaryContextSwitches;
  if (k.api === "run") {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const c = await q.run({ op: "copy", src, dst, len: k.size });
      lat[i] = (performance.now() - t0) * 1000;
      if (c.status !== 0) throw new Error(`request ${i} failed: ${c.statusName}`);
    }
  } else if (k.api === "lent") {
    using ring = q.lendRing();
    const { sq, cq } = ring;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      if (ring.reserve(1) !== 1) throw new Error("the ring refused a request it has room for");
      const w = ring.slot(0);
      sq[w] = L.WD_DUMMY_V1_OP_COPY;
      sq[w + 1] = 1;
      sq[w + 2] = src;
      sq[w + 3] = 0;
      sq[w + 4] = dst;
      sq[w + 5] = 0;
      sq[w + 6] = k.size;
      sq[w + 7] = 0;
      ring.publish(1);
      if (k.mode === "irq") ring.readableSync({ timeout: 120_000 });
      else {
        for (let spins = 1; ring.ready() === 0; spins++) {
          if ((spins & 0xffff) === 0) noCompletion(t0, i, n);
          pause();
        }
      }
      lat[i] = (performance.now() - t0) * 1000;
      const status = cq[ring.completion(0) + CPL_STATUS]! & 0xffff;
      ring.consume(1);
      if (status !== 0) throw new Error(`request ${i} failed: status ${status}`);
    }
  } else {
    const desc = q.encode([{ op: "copy", id: 1, src, dst, len: k.size }]);
    const cpl = new Uint32Array(q.completionWords!);
    const promise = k.api === "encoded+promise";
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      if (q.sendEncoded(desc, 0, 1) !== 1) throw new Error("the ring refused a request it has room for");
      for (let spins = 1; q.pollEncoded(cpl, 1) === 0; spins++) {
        if ((spins & 0xffff) === 0) noCompletion(t0, i, n);
        pause();
      }
      if (promise) await new Promise<void>((resolve) => resolve());
      lat[i] = (performance.now() - t0) * 1000;
      if ((cpl[CPL_STATUS]! & 0xffff) !== 0) throw new Error(`request ${i} failed: status ${cpl[CPL_STATUS]! & 0xffff}`);
    }
  }
  lat.sort();
  const sleeps = process.resourceUsage().voluntaryContextSwitches - s0;
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), irqs: (emu.stats().irqs - irqs0) / n, sleeps: sleeps / n };
}

function cClient(cBin: string, emuBin: string, args: string[], emuCpu: number | undefined): Record<string, number> {
  const all = ["-e", emuBin, ...args, ...(emuCpu === undefined ? [] : ["-c", String(emuCpu)])];
  const r = spawnSync(cBin, all, { encoding: "utf8", timeout: 300_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0) throw new Error(`emu_client ${all.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line) as Record<string, number>;
}

/** The C client's side of an rps case (`cBin`, `emuBin`: from `buildEmu`; the api does not apply). */
export function cRps(cBin: string, emuBin: string, k: RpsCase, n: number, emuCpu?: number): RpsResult {
  const o = cClient(cBin, emuBin, ["-k", "rps", "-m", k.mode, "-d", String(k.depth), "-l", String(k.size), "-n", String(n), ...(k.checks ? [] : ["-q"])], emuCpu);
  return { rps: o["rps"]!, cpuNs: o["cpu_ns"]!, irqs: o["irqs"]! / n, sleeps: o["sleeps"]! / n };
}

/** The C client's side of a latency case. */
export function cLatency(cBin: string, emuBin: string, k: LatencyCase, n: number, emuCpu?: number): LatencyResult {
  const o = cClient(cBin, emuBin, ["-k", "latency", "-m", k.mode, "-l", String(k.size), "-n", String(n), "-q"], emuCpu);
  return { p50: o["p50_us"]!, p99: o["p99_us"]!, irqs: o["irqs"]! / n, sleeps: o["sleeps"]! / n };
}

/**
 * Pins this process (all its threads) to CPU `cpu` with taskset(1), so the client keeps
 * one core and the emulator (pinned with `emuCpu`) the other. Returns false, and changes
 * nothing, when the machine has fewer than two CPUs.
 */
export function pinSelf(cpu: number): boolean {
  if (os.availableParallelism() < 2) return false;
  const r = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${process.pid} failed (${r.status ?? r.error?.message}): ${r.stderr}`);
  return true;
}

/**
 * The TypeScript side of the native queue benchmark (`scripts/bench_queue.ts`) and of the
 * one-case runner (`scripts/bench/queue_one.ts`): the real `Queue` and `wd_dummy_v1`
 * driver over the host emulator, and the C client on its own emulator.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { WD_DUMMY_V1_CPL_OFF_ID, WD_DUMMY_V1_CPL_OFF_STATUS } from "../../src/drivers/wd_dummy_v1_layout.ts";
import { Emulator } from "../emu/emulator.ts";

/** How a case waits: the ring API polled, or `run` sleeping on the interrupt. */
export type Mode = "poll" | "irq";
/**
 * Which of the queue's APIs a poll-mode case uses: request and completion objects
 * (`sendBatch`, `poll`), or descriptors and completions as words (`sendEncoded`,
 * `pollEncoded`). `irq` cases use `run`.
 */
export type Api = "objects" | "encoded";
/** The words of a `wd_dummy_v1` completion that hold the id and (low half) the status. */
const CPL_ID = WD_DUMMY_V1_CPL_OFF_ID / 4, CPL_STATUS = WD_DUMMY_V1_CPL_OFF_STATUS / 4;
/** Requests per second and CPU per request of one run. */
export interface RpsResult {
  rps: number;
  cpuNs: number;
}
/** Latency percentiles of one run, µs. */
export interface LatencyResult {
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

/** The TypeScript side of an rps case. */
export async function tsRps(depth: number, size: number, checks: boolean, mode: Mode, n: number, api: Api = "objects"): Promise<RpsResult> {
  await using emu = await Emulator.start();
  await using q = emu.queue(mode === "irq" ? { spin: 0 } : {});
  const stride = 2 * size;
  const slots = depth * stride;
  const buf = q.alloc(slots + POOL);
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
  // IOVAs as numbers: the driver's fast path.
  const base = Number(buf.iova);
  let failed = 0, bad = 0;
  const c0 = cpuNow();
  const t0 = performance.now();
  if (mode === "poll" && api === "encoded") {
    // The ring API without objects: each slot's descriptor encoded once (its id is its
    // slot), copied into the batch it goes in; completions read as the device wrote them.
    const dw = q.descriptorWords!, cw = q.completionWords!;
    const desc = q.encode(Array.from({ length: depth }, (_, s) => ({ op: "copy" as const, id: s, src: base + s * stride, dst: base + s * stride + size, len: size })));
    const batch = new Uint32Array(depth * dw), cpl = new Uint32Array(depth * cw);
    const free = new Int32Array(depth);
    let nFree = depth;
    for (let i = 0; i < depth; i++) free[i] = depth - 1 - i;
    let submitted = 0, done = 0;
    while (done < n) {
      if (submitted < n && nFree > 0) {
        let k = 0;
        while (submitted < n && nFree > 0) {
          const s = free[--nFree]!;
          if (checks) {
            const from = slots + ((submitted * 4099) % (POOL - size));
            mem.copyWithin(s * stride, from, from + size);
          }
          for (let w = 0, from = s * dw, to = k * dw; w < dw; w++) batch[to + w] = desc[from + w]!;
          k++;
          submitted++;
        }
        if (q.sendEncoded(batch, 0, k) !== k) throw new Error("the ring refused requests it has room for");
      }
      let got = q.pollEncoded(cpl, depth);
      for (let spins = 0; got === 0; spins++) {
        if ((spins & 0xffff) === 0xffff && performance.now() - t0 > 120_000) throw new Error(`no completion (done ${done} of ${n})`);
        Atomics.pause();
        got = q.pollEncoded(cpl, depth);
      }
      for (let i = 0, at = 0; i < got; i++, at += cw) {
        const s = cpl[at + CPL_ID]!;
        if ((cpl[at + CPL_STATUS]! & 0xffff) !== 0 || s >= depth) failed++;
        else if (checks && Buffer.compare(dstView[s]!, srcView[s]!) !== 0) bad++;
        free[nFree++] = s;
        done++;
      }
    }
  } else if (mode === "poll") {
    const free: number[] = [];
    for (let i = 0; i < depth; i++) free.push(depth - 1 - i);
    const slotOf = new Uint32Array(256);
    const reqs: { op: "copy"; id: number; src: number; dst: number; len: number }[] = [];
    let submitted = 0, done = 0;
    while (done < n) {
      if (submitted < n && free.length > 0) {
        reqs.length = 0;
        while (submitted < n && free.length > 0) {
          const s = free.pop()!;
          if (checks) {
            const from = slots + ((submitted * 4099) % (POOL - size));
            mem.copyWithin(s * stride, from, from + size);
          }
          slotOf[submitted & 255] = s;
          reqs.push({ op: "copy", id: submitted, src: base + s * stride, dst: base + s * stride + size, len: size });
          submitted++;
        }
        if (q.sendBatch(reqs) !== reqs.length) throw new Error("the ring refused requests it has room for");
      }
      let got = q.poll();
      for (let spins = 0; got.length === 0; spins++) {
        if ((spins & 0xffff) === 0xffff && performance.now() - t0 > 120_000) throw new Error(`no completion (done ${done} of ${n})`);
        got = q.poll();
      }
      for (const c of got) {
        const s = slotOf[c.id & 255]!;
        if (c.status !== 0 || c.id >= submitted) failed++;
        else if (checks && Buffer.compare(dstView[s]!, srcView[s]!) !== 0) bad++;
        free.push(s);
        done++;
      }
    }
  } else {
    let next = 0;
    const worker = async (s: number): Promise<void> => {
      const src = base + s * stride, dst = src + size;
      while (next < n) {
        const i = next++;
        if (checks) {
          const from = slots + ((i * 4099) % (POOL - size));
          mem.copyWithin(s * stride, from, from + size);
        }
        const c = await q.run({ op: "copy", src, dst, len: size });
        if (c.status !== 0) failed++;
        else if (checks && Buffer.compare(dstView[s]!, srcView[s]!) !== 0) bad++;
      }
    };
    await Promise.all(Array.from({ length: depth }, (_, s) => worker(s)));
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - c0;
  if (failed > 0 || bad > 0) throw new Error(`${failed} requests failed, ${bad} came back wrong`);
  return { rps: n / secs, cpuNs: cpu / n };
}

/** The TypeScript side of a latency case: one `run` at a time. */
export async function tsLatency(size: number, mode: Mode, n: number): Promise<LatencyResult> {
  await using emu = await Emulator.start();
  await using q = emu.queue(mode === "irq" ? { spin: 0 } : {});
  const buf = q.alloc(2 * size);
  const src = Number(buf.iova), dst = src + size;
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await q.run({ op: "copy", src, dst, len: size });
    lat[i] = (performance.now() - t0) * 1000;
    if (c.status !== 0) throw new Error(`request ${i} failed: ${c.statusName}`);
  }
  lat.sort();
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

function cClient(cBin: string, emuBin: string, args: string[]): Record<string, number> {
  const r = spawnSync(cBin, ["-e", emuBin, ...args], { encoding: "utf8", timeout: 300_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0) throw new Error(`emu_client ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line) as Record<string, number>;
}

/** The C client's side of an rps case (`cBin`, `emuBin`: from `buildEmu`). */
export function cRps(cBin: string, emuBin: string, depth: number, size: number, checks: boolean, mode: Mode, n: number): RpsResult {
  const o = cClient(cBin, emuBin, ["-k", "rps", "-m", mode, "-d", String(depth), "-l", String(size), "-n", String(n), ...(checks ? [] : ["-q"])]);
  return { rps: o["rps"]!, cpuNs: o["cpu_ns"]! };
}

/** The C client's side of a latency case. */
export function cLatency(cBin: string, emuBin: string, size: number, mode: Mode, n: number): LatencyResult {
  const o = cClient(cBin, emuBin, ["-k", "latency", "-m", mode, "-l", String(size), "-n", String(n), "-q"]);
  return { p50: o["p50_us"]!, p99: o["p99_us"]! };
}

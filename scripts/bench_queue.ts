#!/usr/bin/env bun
/**
 * Queue benchmark: the TypeScript queue against the C client, on the same device, in the
 * same run, rounds interleaved (C first in even rounds, TypeScript first in odd ones),
 * medians. Numbers, not a test.
 *
 *   npm run bench:queue [-- --rig] [--no-native] [--rounds 5] [--scale 1]
 *                          [--rig-requests 50000] [--rig-rounds 9]
 *
 * Native cases (the default): the real `Queue` and `wd_dummy_v1` driver over the host
 * emulator (scripts/emu/wd_emu.c, through scripts/emu/emulator.ts) against the C client
 * scripts/emu/emu_client.c, each run with its own emulator process. Copies of 256 B and
 * 4 KiB:
 * - rps: DEPTH requests (1, 8, 32) kept in flight. Mode "poll": the ring API
 *   (`sendBatch`, then `poll` in a loop) against C reading CQ_TAIL in a loop. Mode "irq":
 *   `run` with `spin: 0` (each wait arms the completion interrupt and sleeps in the
 *   reactor) against C arming IRQ_ARM and sleeping in poll() on the eventfd. Payload
 *   checks on: each source is copied from a pool of random bytes at a request-specific
 *   offset and the copy compared (copyWithin / Buffer.compare against memcpy / memcmp).
 * - cpu_per_request: the client process's CPU time (user + system, all its threads; not
 *   the emulator's) over the rps run, divided by the requests.
 * - latency_p50 / latency_p99: depth 1, checks off, from handing the request over (`run`;
 *   C: writing the descriptor) to having its completion (the promise settled; C: CQ_TAIL
 *   seen), poll mode with the queue's default spin, irq mode with `spin: 0`.
 *
 * With `--rig`, the rig part runs afterwards inside the QEMU kernel rig
 * (scripts/bench/queue_rig.ts: depth 32, 256 B, through the kernel module). Each part
 * writes its cases into `bench-results/queue.json` and keeps the other part's; the
 * samples and the machine go to `bench-results/queue-samples.json`.
 */
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { buildEmu, Emulator } from "./emu/emulator.ts";
import { machine, median, RESULTS, ROOT, writeResults } from "./bench/_common.ts";
import { caseTable, makeCase, mergeCases, type QueueCase } from "./bench/_queue_cases.ts";

const { values } = parseArgs({
  options: {
    rig: { type: "boolean", default: false },
    "no-native": { type: "boolean", default: false },
    rounds: { type: "string" },
    scale: { type: "string" },
    "rig-requests": { type: "string" },
    "rig-rounds": { type: "string" },
  },
});
const ROUNDS = Number(values.rounds ?? 5);
const SCALE = Number(values.scale ?? 1);
const POOL = 1 << 16;
const DEPTHS = [1, 8, 32];
const SIZES = [256, 4096];
const FILE = path.join(RESULTS, "queue.json");

type Mode = "poll" | "irq";
interface RpsResult {
  rps: number;
  cpuNs: number;
}
interface LatencyResult {
  p50: number;
  p99: number;
}

const requestsFor = (depth: number): number => Math.round(SCALE * (depth === 1 ? 20000 : depth === 8 ? 60000 : 120000));
const LATENCY_N = Math.round(SCALE * 10000);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000; // ns
}

/** The TypeScript side of an rps case. */
async function tsRps(depth: number, size: number, checks: boolean, mode: Mode, n: number): Promise<RpsResult> {
  await using emu = await Emulator.start();
  await using q = emu.queue(mode === "irq" ? { spin: 0 } : {});
  const stride = 2 * size;
  const slots = depth * stride;
  const buf = q.alloc(slots + POOL);
  const bytes = buf.bytes();
  const mem = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  crypto.getRandomValues(bytes.subarray(slots, slots + POOL));
  // IOVAs as numbers: the driver's fast path.
  const base = Number(buf.iova);
  let failed = 0, bad = 0;
  const c0 = cpuNow();
  const t0 = performance.now();
  if (mode === "poll") {
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
        else if (checks && mem.compare(mem, s * stride + size, s * stride + 2 * size, s * stride, s * stride + size) !== 0) bad++;
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
        else if (checks && mem.compare(mem, s * stride + size, s * stride + 2 * size, s * stride, s * stride + size) !== 0) bad++;
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
async function tsLatency(size: number, mode: Mode, n: number): Promise<LatencyResult> {
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

function cClient(args: string[]): Record<string, number> {
  const r = spawnSync(cBin, ["-e", emuBin, ...args], { encoding: "utf8", timeout: 300_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0) throw new Error(`emu_client ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return JSON.parse(line) as Record<string, number>;
}

function cRps(depth: number, size: number, checks: boolean, mode: Mode, n: number): RpsResult {
  const o = cClient(["-k", "rps", "-m", mode, "-d", String(depth), "-l", String(size), "-n", String(n), ...(checks ? [] : ["-q"])]);
  return { rps: o["rps"]!, cpuNs: o["cpu_ns"]! };
}

function cLatency(size: number, mode: Mode, n: number): LatencyResult {
  const o = cClient(["-k", "latency", "-m", mode, "-l", String(size), "-n", String(n), "-q"]);
  return { p50: o["p50_us"]!, p99: o["p99_us"]! };
}

let emuBin = "";
let cBin = "";

async function native(): Promise<QueueCase[]> {
  emuBin = buildEmu("wd_emu");
  cBin = buildEmu("emu_client");
  type RpsCase = { depth: number; size: number; checks: boolean; mode: Mode };
  const rpsCases: RpsCase[] = [];
  for (const mode of ["poll", "irq"] as Mode[]) {
    for (const depth of DEPTHS) for (const size of SIZES) for (const checks of [false, true]) rpsCases.push({ depth, size, checks, mode });
  }
  const latCases = SIZES.flatMap((size) => (["poll", "irq"] as Mode[]).map((mode) => ({ size, mode })));
  const rps = new Map<string, { ts: RpsResult[]; c: RpsResult[] }>();
  const lat = new Map<string, { ts: LatencyResult[]; c: LatencyResult[] }>();
  const keyR = (k: RpsCase) => `${k.depth}/${k.size}/${k.checks}/${k.mode}`;
  const keyL = (k: { size: number; mode: Mode }) => `${k.size}/${k.mode}`;

  // Untimed passes first, so no timed one pays for the JIT's compilation.
  for (const k of rpsCases) await tsRps(k.depth, k.size, k.checks, k.mode, Math.ceil(requestsFor(k.depth) / 4));
  for (const k of latCases) await tsLatency(k.size, k.mode, Math.ceil(LATENCY_N / 4));
  for (let r = 0; r < ROUNDS; r++) {
    const cFirst = r % 2 === 0;
    for (const k of rpsCases) {
      const e = rps.get(keyR(k)) ?? { ts: [], c: [] };
      rps.set(keyR(k), e);
      const n = requestsFor(k.depth);
      if (cFirst) e.c.push(cRps(k.depth, k.size, k.checks, k.mode, n));
      e.ts.push(await tsRps(k.depth, k.size, k.checks, k.mode, n));
      if (!cFirst) e.c.push(cRps(k.depth, k.size, k.checks, k.mode, n));
    }
    for (const k of latCases) {
      const e = lat.get(keyL(k)) ?? { ts: [], c: [] };
      lat.set(keyL(k), e);
      if (cFirst) e.c.push(cLatency(k.size, k.mode, LATENCY_N));
      e.ts.push(await tsLatency(k.size, k.mode, LATENCY_N));
      if (!cFirst) e.c.push(cLatency(k.size, k.mode, LATENCY_N));
    }
    process.stderr.write(`bench_queue: native round ${r + 1}/${ROUNDS} done\n`);
  }

  const cases: QueueCase[] = [];
  for (const k of rpsCases) {
    const e = rps.get(keyR(k))!;
    const base = { where: "native" as const, depth: k.depth, size: k.size, checks: k.checks, mode: k.mode };
    cases.push(makeCase({ ...base, measure: "rps" }, median(e.ts.map((x) => x.rps)), median(e.c.map((x) => x.rps))));
    cases.push(makeCase({ ...base, measure: "cpu_per_request" }, median(e.ts.map((x) => x.cpuNs)), median(e.c.map((x) => x.cpuNs))));
  }
  for (const k of latCases) {
    const e = lat.get(keyL(k))!;
    const base = { where: "native" as const, depth: 1, size: k.size, checks: false, mode: k.mode };
    cases.push(makeCase({ ...base, measure: "latency_p50" }, median(e.ts.map((x) => x.p50)), median(e.c.map((x) => x.p50))));
    cases.push(makeCase({ ...base, measure: "latency_p99" }, median(e.ts.map((x) => x.p99)), median(e.c.map((x) => x.p99))));
  }
  writeResults("queue-samples", {
    machine: machine(),
    runtime: `bun ${process.versions["bun"] ?? "?"}`,
    rounds: ROUNDS,
    scale: SCALE,
    rps: Object.fromEntries(rps),
    latency: Object.fromEntries(lat),
  });
  return cases;
}

if (!values["no-native"]) {
  const m = machine();
  console.log(`queue round trip natively (host emulator scripts/emu/wd_emu.c): median of ${ROUNDS} interleaved rounds; bun ${process.versions["bun"] ?? "?"}; ${m["cpu"]} x${m["cpus"]}, load ${(m["load"] as number[]).join(" ")}`);
  const cases = await native();
  fs.mkdirSync(RESULTS, { recursive: true });
  mergeCases(FILE, "native", cases);
  console.log(caseTable(cases));
  console.log(`results: ${FILE}`);
}
if (values.rig) {
  const args = [
    path.join(ROOT, "scripts", "rig.sh"),
    "run",
    "--",
    "bun",
    "scripts/bench/queue_rig.ts",
    ...(values["rig-requests"] === undefined ? [] : ["--requests", values["rig-requests"]]),
    ...(values["rig-rounds"] === undefined ? [] : ["--rounds", values["rig-rounds"]]),
  ];
  const r = spawnSync("bash", args, {
    cwd: ROOT,
    env: { ...process.env, WD_RIG_OUT: RESULTS },
    stdio: "inherit",
  });
  if (r.status !== 0) {
    process.stderr.write(`bench_queue: the rig part failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}

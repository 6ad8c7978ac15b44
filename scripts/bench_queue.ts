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
 *   offset and the copy compared (copyWithin, and Buffer.compare of two views made once
 *   per slot, against memcpy / memcmp).
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
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { buildEmu } from "./emu/emulator.ts";
import { cLatency as cLat, cRps as cR, type LatencyResult, type Mode, type RpsResult, tsLatency, tsRps } from "./bench/_queue_ts.ts";
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
const DEPTHS = [1, 8, 32];
const SIZES = [256, 4096];
const FILE = path.join(RESULTS, "queue.json");

const requestsFor = (depth: number): number => Math.round(SCALE * (depth === 1 ? 20000 : depth === 8 ? 60000 : 120000));
const LATENCY_N = Math.round(SCALE * 10000);

let emuBin = "";
let cBin = "";
const cRps = (depth: number, size: number, checks: boolean, mode: Mode, n: number): RpsResult => cR(cBin, emuBin, depth, size, checks, mode, n);
const cLatency = (size: number, mode: Mode, n: number): LatencyResult => cLat(cBin, emuBin, size, mode, n);

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

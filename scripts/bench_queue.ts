#!/usr/bin/env bun
/**
 * Queue benchmark: the TypeScript queue against the C client, on the same device, in the
 * same run, rounds interleaved (C first in even rounds, TypeScript first in odd ones),
 * medians. Numbers, not a test.
 *
 *   npm run bench:queue [-- --rig] [--no-native] [--rounds 5] [--seconds 0.2] [--no-pin]
 *                          [--rig-requests 50000] [--rig-rounds 9]
 *
 * Native cases (the default): the real `Queue` and `wd_dummy_v1` driver over the host
 * emulator (scripts/emu/wd_emu.c, through scripts/emu/emulator.ts) against the C client
 * scripts/emu/emu_client.c, each run with its own emulator process. The benchmark (and so
 * each client) is pinned to CPU 0 and every emulator to CPU 1, as a device brings its own
 * silicon and takes no core from its client; `--no-pin` leaves both to the scheduler.
 * Copies of 256 B and 4 KiB:
 * - rps: DEPTH requests (1, 8, 32) kept in flight; C's warm-up rate sets the number of
 *   requests so that C's runs last `--seconds`. Mode "poll": the ring polled in a loop (a
 *   pause instruction per empty look on both sides), through request and completion
 *   objects (`sendBatch`, `poll`; api "objects") or through words (`sendEncoded`,
 *   `pollEncoded`; api "encoded") or on the rings lent in place (`lendRing`; api "lent"),
 *   against C reading CQ_TAIL; and api "floor", the C
 *   client's loop in JavaScript with no library (descriptors written into the ring,
 *   completions read in place; reported, not a goal). Mode "irq", `spin: 0`, against C
 *   arming IRQ_ARM and sleeping in poll() on the eventfd: `run` (each wait arms the
 *   completion interrupt and sleeps in the reactor; api "run"), or the lent ring's
 *   `readableSync()` (the thread arms it and sleeps in poll() itself; api "lent"). Payload checks on: each source
 *   is copied from a pool of random bytes at a request-specific offset and the copy
 *   compared (copyWithin, and Buffer.compare of two views made once per slot, against
 *   memcpy / memcmp).
 * - cpu_per_request: the client process's CPU time (user + system, all its threads; not
 *   the emulator's) over the rps run, divided by the requests.
 * - latency_p50 / latency_p99: depth 1, checks off, from handing the request over to
 *   having its completion (C: writing the descriptor to seeing CQ_TAIL move). `run`: the
 *   promise settled, poll mode with the queue's default spin, irq mode with `spin: 0`;
 *   `encoded`: `sendEncoded`, then `pollEncoded` until it has it; `lent`: the descriptor
 *   written into a reserved slot, published, then `ready()` until it is there (irq mode:
 *   `readableSync()`); `encoded+promise`: the
 *   same and a bare promise resolved and awaited, the engine's floor for any call that
 *   returns a promise (reported, not a goal).
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
import { type Api, cLatency, cRps, type LatencyCase, type LatencyResult, type Mode, pinSelf, type RpsCase, type RpsResult, tsLatency, tsRps } from "./bench/_queue_ts.ts";
import { machine, median, RESULTS, ROOT, writeResults } from "./bench/_common.ts";
import { caseTable, makeCase, mergeCases, type QueueCase } from "./bench/_queue_cases.ts";

const { values } = parseArgs({
  options: {
    rig: { type: "boolean", default: false },
    "no-native": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    "rig-requests": { type: "string" },
    "rig-rounds": { type: "string" },
  },
});
const ROUNDS = Number(values.rounds ?? 5);
/** Seconds the C client's run of an rps case takes at least (the case's n is set from C's warm-up rate). */
const SECONDS = Number(values.seconds ?? 0.2);
const DEPTHS = [1, 8, 32];
const SIZES = [256, 4096];
const FILE = path.join(RESULTS, "queue.json");
const LATENCY_N = 20000;

/** The fewest requests of an rps run, by depth (before the rate sets more). */
const leastFor = (depth: number): number => (depth === 1 ? 20000 : depth === 8 ? 60000 : 120000);

let emuBin = "";
let cBin = "";

async function native(emuCpu: number | undefined): Promise<QueueCase[]> {
  emuBin = buildEmu("wd_emu");
  cBin = buildEmu("emu_client");
  const rpsCases: RpsCase[] = [];
  for (const [mode, api] of [["poll", "objects"], ["poll", "encoded"], ["poll", "lent"], ["poll", "floor"], ["irq", "run"], ["irq", "lent"]] as [Mode, Api][]) {
    for (const depth of DEPTHS) for (const size of SIZES) for (const checks of [false, true]) rpsCases.push({ depth, size, checks, mode, api });
  }
  const latApis: [Mode, Api][] = [["poll", "run"], ["irq", "run"], ["irq", "lent"], ["poll", "encoded"], ["poll", "lent"], ["poll", "encoded+promise"]];
  const latCases: LatencyCase[] = SIZES.flatMap((size) => latApis.map(([mode, api]) => ({ size, mode, api })));
  const rps = new Map<string, { n: number; ts: RpsResult[]; c: RpsResult[] }>();
  const lat = new Map<string, { ts: LatencyResult[]; c: LatencyResult[] }>();
  const keyR = (k: RpsCase) => `${k.depth}/${k.size}/${k.checks}/${k.mode}/${k.api}`;
  const keyL = (k: LatencyCase) => `${k.size}/${k.mode}/${k.api}`;

  // Untimed passes first, so no timed one pays for the JIT's compilation; C's warm-up
  // rate sets each case's n, so that C's runs last SECONDS (TypeScript's as long as it needs).
  for (const k of rpsCases) {
    const least = leastFor(k.depth);
    await tsRps(k, Math.ceil(least / 4), emuCpu);
    const warm = cRps(cBin, emuBin, k, least, emuCpu);
    rps.set(keyR(k), { n: Math.max(least, Math.round(warm.rps * SECONDS)), ts: [], c: [] });
  }
  for (const k of latCases) await tsLatency(k, Math.ceil(LATENCY_N / 4), emuCpu);
  for (let r = 0; r < ROUNDS; r++) {
    const cFirst = r % 2 === 0;
    for (const k of rpsCases) {
      const e = rps.get(keyR(k))!;
      if (cFirst) e.c.push(cRps(cBin, emuBin, k, e.n, emuCpu));
      e.ts.push(await tsRps(k, e.n, emuCpu));
      if (!cFirst) e.c.push(cRps(cBin, emuBin, k, e.n, emuCpu));
    }
    for (const k of latCases) {
      const e = lat.get(keyL(k)) ?? { ts: [], c: [] };
      lat.set(keyL(k), e);
      if (cFirst) e.c.push(cLatency(cBin, emuBin, k, LATENCY_N, emuCpu));
      e.ts.push(await tsLatency(k, LATENCY_N, emuCpu));
      if (!cFirst) e.c.push(cLatency(cBin, emuBin, k, LATENCY_N, emuCpu));
    }
    process.stderr.write(`bench_queue: native round ${r + 1}/${ROUNDS} done\n`);
  }

  const cases: QueueCase[] = [];
  for (const k of rpsCases) {
    const e = rps.get(keyR(k))!;
    const base = { where: "native" as const, depth: k.depth, size: k.size, checks: k.checks, mode: k.mode, api: k.api };
    cases.push(makeCase({ ...base, measure: "rps" }, median(e.ts.map((x) => x.rps)), median(e.c.map((x) => x.rps))));
    cases.push(makeCase({ ...base, measure: "cpu_per_request" }, median(e.ts.map((x) => x.cpuNs)), median(e.c.map((x) => x.cpuNs))));
  }
  for (const k of latCases) {
    const e = lat.get(keyL(k))!;
    const base = { where: "native" as const, depth: 1, size: k.size, checks: false, mode: k.mode, api: k.api };
    cases.push(makeCase({ ...base, measure: "latency_p50" }, median(e.ts.map((x) => x.p50)), median(e.c.map((x) => x.p50))));
    cases.push(makeCase({ ...base, measure: "latency_p99" }, median(e.ts.map((x) => x.p99)), median(e.c.map((x) => x.p99))));
  }
  writeResults("queue-samples", {
    machine: machine(),
    runtime: `bun ${process.versions["bun"] ?? "?"}`,
    rounds: ROUNDS,
    seconds: SECONDS,
    pinned: emuCpu === undefined ? false : { client: 0, emulator: emuCpu },
    rps: Object.fromEntries(rps),
    latency: Object.fromEntries(lat),
  });
  return cases;
}

if (!values["no-native"]) {
  const m = machine();
  const emuCpu = !values["no-pin"] && pinSelf(0) ? 1 : undefined;
  const pinned = emuCpu === undefined ? "unpinned" : "client on CPU 0, emulators on CPU 1";
  console.log(`queue round trip natively (host emulator scripts/emu/wd_emu.c): median of ${ROUNDS} interleaved rounds; ${pinned}; bun ${process.versions["bun"] ?? "?"}; ${m["cpu"]} x${m["cpus"]}, load ${(m["load"] as number[]).join(" ")}`);
  const cases = await native(emuCpu);
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

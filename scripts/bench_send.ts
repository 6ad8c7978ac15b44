#!/usr/bin/env bun
/**
 * Send-path benchmark: the `wd_dummy_v1` driver's submit (descriptor stores, barrier,
 * doorbell) on a memfd standing in for the control page and queue region, in Bun, Deno and
 * Node, against `scripts/bench/send.c` doing the same stores and barrier, one request per
 * doorbell and 16 per doorbell. Three JavaScript paths: `submit` of request objects (each
 * checked and encoded on the way), `submitEncoded` of descriptors encoded once
 * beforehand, which is what the C reference does: it copies prepared 32-byte requests, and
 * the ring lent in place (`LentRing`: the same copy into the slots `reserve` gives, then `publish`). Also the doorbell alone through each barrier backend
 * (`Atomics.store` against `wd_doorbell32` through koffi), the numbers behind the choice in
 * `src/sys/barrier.ts`.
 *
 * Rounds interleave every runtime with the C reference, so a noisy machine slows both; the
 * figures are medians over every run of every round. Numbers, not a test.
 *
 *   bun scripts/bench_send.ts [--rounds 5] [--requests 1000000] [--runtimes bun,deno,node] [--json FILE]
 *
 * Goals (issue 11), against each engine's own floor (the same copy and Atomics.store
 * written inline, no driver), every runtime, 1 and 16 per doorbell: encoded within 1.25x,
 * request objects within 1.6x. The ratio to C is kept too. Every case in
 * bench-results/send.json carries `overFloor` (runtime ns / that runtime's floor ns), and
 * `overHandleFloor`: against the floor with the ring's state in a handle and the room
 * check (the least a driver does, whose state lives between calls; the second table).
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { buildBarrierLib, compileC, fmt, machine, median, ROOT, run, runtimes, table, verdict, writeResults } from "./bench/_common.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    requests: { type: "string" },
    runtimes: { type: "string" },
    json: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds ?? 5);
const REQUESTS = Number(values.requests ?? 1_000_000);
/** Goals over the engine's floor, by case. */
const GOAL: Record<string, number> = { driver: 1.6, encoded: 1.25, lent: 1.25 };
const DOORBELLS = ["seqcst", "release", "wd"] as const;
// Each JavaScript case runs in its own process (scripts/bench/send_worker.mjs says why).
const JS_CASES: [string, number, string][] = [
  ["driver", 1, "js"], ["driver", 16, "js"], ["encoded", 1, "js"], ["encoded", 16, "js"], ["lent", 1, "js"], ["lent", 16, "js"],
  ["floor", 1, "js"], ["floor", 16, "js"], ["floor-handle", 1, "js"], ["floor-handle", 16, "js"], ["driver", 1, "c"], ["driver", 16, "c"],
  ["doorbell", 1, "js"], ["doorbell", 1, "c"],
];

const sendC = compileC("scripts/bench/send.c", "send");
const lib = buildBarrierLib();
const { found, missing } = runtimes((values.runtimes ?? "bun,deno,node").split(","));

interface Sample {
  lang: string;
  case: string;
  batch: number;
  backend: string;
  ns: number;
}
const samples: Sample[] = [];
const worker = path.join(ROOT, "scripts", "bench", "send_worker.mjs");

for (let round = 0; round < ROUNDS; round++) {
  for (const db of DOORBELLS) {
    for (const batch of [1, 16]) {
      const out = run(sendC, ["-n", String(REQUESTS * 2), "-r", "3", "-b", String(batch), "-d", db]);
      for (const line of out.trim().split("\n")) {
        const j = JSON.parse(line) as { batch: number; doorbell: string; ns: number };
        samples.push({ lang: "c", case: "driver", batch: j.batch, backend: j.doorbell, ns: j.ns });
      }
    }
  }
  for (const rt of found) {
    for (const [c, batch, backend] of JS_CASES) {
      const out = run(rt.argv[0] as string, [...rt.argv.slice(1), worker, rt.srcDir, rt.ext, String(REQUESTS), "3", c, String(batch), backend, lib]);
      for (const line of out.trim().split("\n")) {
        if (line.startsWith("{")) samples.push(JSON.parse(line) as Sample);
      }
    }
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const med = (lang: string, c: string, batch: number, backend: string): number | undefined => {
  const xs = samples.filter((s) => s.lang === lang && s.case === c && s.batch === batch && s.backend === backend).map((s) => s.ns);
  return xs.length === 0 ? undefined : median(xs);
};

const results: Record<string, unknown>[] = [];
const rows: string[][] = [["case", "batch", "C ns", ...found.flatMap((r) => [`${r.name} ns`, `${r.name}/C`, `${r.name}/floor`])]];
const goalRows = (caseName: string, label: string, resultCase: string) => {
  const goal = GOAL[caseName];
  for (const batch of [1, 16]) {
    const c = med("c", "driver", batch, "seqcst") as number;
    const row = [label + (goal === undefined ? "" : ` (goal ${goal}x floor)`), String(batch), fmt(c, 2)];
    const handleRow = [label, String(batch)];
    for (const rt of found) {
      const js = med(rt.name, caseName, batch, "js");
      const floor = med(rt.name, "floor", batch, "js");
      const ratio = js === undefined ? undefined : js / c;
      const overFloor = js === undefined || floor === undefined ? undefined : js / floor;
      row.push(fmt(js, 2), ratio === undefined ? "n/a" : `${ratio.toFixed(2)}x`, goal === undefined ? fmt(overFloor, 2) : verdict(overFloor, goal));
      const handleFloor = med(rt.name, "floor-handle", batch, "js");
      const overHandleFloor = js === undefined || handleFloor === undefined ? undefined : js / handleFloor;
      results.push({
        case: resultCase, batch, runtime: rt.name, backend: "js", ns: js ?? null, cNs: c, ratio: ratio ?? null,
        floorNs: floor ?? null, overFloor: overFloor ?? null, goal: goal ?? null, met: goal === undefined || overFloor === undefined ? null : overFloor <= goal,
        handleFloorNs: handleFloor ?? null, overHandleFloor: overHandleFloor ?? null,
        metOverHandleFloor: goal === undefined || overHandleFloor === undefined ? null : overHandleFloor <= goal,
      });
      handleRow.push(fmt(js, 2), fmt(handleFloor, 2), goal === undefined ? fmt(overHandleFloor, 2) : verdict(overHandleFloor, goal));
    }
    rows.push(row);
    handleRows.push(handleRow);
  }
};
const handleRows: string[][] = [["case", "batch", ...found.flatMap((r) => [`${r.name} ns`, `${r.name} handle floor ns`, `${r.name}/handle floor`])]];
goalRows("driver", "submit (request objects), Atomics.store doorbell", "submit");
goalRows("encoded", "submitEncoded (encoded once), Atomics.store", "submit-encoded");
goalRows("lent", "lent ring: the same copy into reserved slots, publish", "lent");
goalRows("floor", "engine floor: same copy + Atomics.store inline", "floor");
goalRows("floor-handle", "floor with a handle: ring state in an object + room check", "floor-handle");
for (const batch of [1, 16]) {
  const c = med("c", "driver", batch, "wd") as number;
  const row = [`submit, C doorbell via koffi`, String(batch), fmt(c, 2)];
  for (const rt of found) {
    const x = med(rt.name, "driver", batch, "c");
    const floor = med(rt.name, "floor", batch, "js");
    const overFloor = x === undefined || floor === undefined ? undefined : x / floor;
    row.push(fmt(x, 2), x === undefined ? "n/a" : `${(x / c).toFixed(2)}x`, fmt(overFloor, 2));
    results.push({ case: "submit-c-doorbell", batch, runtime: rt.name, backend: "c", ns: x ?? null, cNs: c, ratio: x === undefined ? null : x / c, floorNs: floor ?? null, overFloor: overFloor ?? null });
  }
  rows.push(row);
}
const dbRow = (backend: string, label: string) => {
  const row = [label, "-", "-"];
  for (const rt of found) {
    const x = med(rt.name, "doorbell", 1, backend);
    row.push(fmt(x, 2), "", "");
    results.push({ case: "doorbell-only", runtime: rt.name, backend, ns: x ?? null, floorNs: null, overFloor: null });
  }
  rows.push(row);
};
dbRow("js", "doorbell alone: Atomics.store");
dbRow("c", "doorbell alone: wd_doorbell32 (koffi)");

const cRows: string[][] = [["C reference doorbell", "batch 1 ns", "batch 16 ns"]];
for (const db of DOORBELLS) {
  const label = { seqcst: "seq_cst store (xchg; what Atomics.store does)", release: "release store (plain mov; wd_client.c)", wd: "wmb + store (c/wd_barrier.c)" }[db];
  cRows.push([label, fmt(med("c", "driver", 1, db), 2), fmt(med("c", "driver", 16, db), 2)]);
  for (const batch of [1, 16]) results.push({ case: "c-reference", doorbell: db, batch, ns: med("c", "driver", batch, db), overFloor: null });
}

console.log(`send path: ns per request, median of ${ROUNDS} rounds x 3 runs, each case in its own process; /C = runtime / C with the same barrier (seq_cst store); /floor = runtime / its engine's floor`);
console.log(table(rows));
console.log("");
console.log("the same against the floor with a handle (the ring's state in an object between calls, and the room check):");
console.log(table(handleRows));
console.log("");
console.log(table(cRows));
for (const [name, why] of Object.entries(missing)) console.log(`${name}: not measured (${why})`);

const file = writeResults("send", {
  benchmark: "send",
  machine: machine(),
  runtimes: Object.fromEntries(found.map((r) => [r.name, r.version])),
  missing,
  rounds: ROUNDS,
  requests: REQUESTS,
  results,
  samples,
}, values.json);
console.log(`\nresults: ${path.relative(ROOT, file)}`);

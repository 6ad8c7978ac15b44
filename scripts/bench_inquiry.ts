#!/usr/bin/env bun
/**
 * Inquiry benchmark: builds sysfs trees of 64, 256, 1024 and 4096 devices × 4 types and
 * times, per tree, `enumerate` + `select` for one algorithm (the queue inquiry) and a full
 * `enumerate` (what `wd list` reads), in Bun (and Deno and Node when asked), against
 * `scripts/bench/inquiry.c`, a C scanner that reads the same attributes by the same rules
 * (open/read/close per attribute, parse, match, rank). The time per type directory shows
 * whether growth is linear. Rounds interleave C and JavaScript so a noisy machine slows
 * both; figures are medians over every run of every round. Numbers, not a test.
 *
 *   bun scripts/bench_inquiry.ts [--sizes 64,256,1024,4096] [--rounds 3] [--runs 3]
 *                                [--runtimes bun,deno,node] [--json FILE]
 *
 * Goal: within 1.2x of C at every size, growth linear in the number of type directories.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { type FixtureDevice, makeSysfs } from "../src/sysfs/fixture.ts";
import { compileC, fmt, machine, median, ROOT, run, runtimes, table, verdict, writeResults } from "./bench/_common.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string" },
    rounds: { type: "string" },
    runs: { type: "string" },
    runtimes: { type: "string" },
    json: { type: "string" },
  },
});
const SIZES = (values.sizes ?? "64,256,1024,4096").split(",").map(Number);
const ROUNDS = Number(values.rounds ?? 3);
const RUNS = Number(values.runs ?? 3);
const GOAL = 1.2;
const ALGS = ["copy", "csum", "zip", "hash"];

const scanner = compileC("scripts/bench/inquiry.c", "inquiry");
const { found, missing } = runtimes((values.runtimes ?? "bun").split(","));
const worker = path.join(ROOT, "scripts", "bench", "inquiry_worker.mjs");

interface Sample {
  lang: string;
  mode: string;
  size: number;
  ms: number;
  device: string;
  type: string;
  types: number;
}
const samples: Sample[] = [];
const base = fs.mkdtempSync(path.join(os.tmpdir(), "wd-bench-inquiry-"));
try {
  for (const n of SIZES) {
    const devices: FixtureDevice[] = [];
    for (let i = 0; i < n; i++) {
      devices.push({
        id: `wd_dummy${i}`,
        zoneId: i % 4,
        priority: i % 7 === 0 ? 0 : 5,
        types: ALGS.map((alg, j) => ({ name: alg, flags: 0x3 | (j << 8), throughput: (i * 7 + j) % 90, latency: (i + j) % 50, mdevs: [] })),
      });
    }
    const tree = makeSysfs({ devices, dir: path.join(base, String(n)) });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const [mode, args] of [["inquiry", ["-a", "copy"]], ["list", []]] as const) {
          for (const line of run(scanner, ["-r", String(RUNS), ...args, tree.root]).trim().split("\n")) {
            const j = JSON.parse(line) as Sample;
            samples.push({ ...j, lang: "c", mode, size: n });
          }
        }
        for (const rt of found) {
          const out = run(rt.argv[0] as string, [...rt.argv.slice(1), worker, rt.srcDir, rt.ext, tree.root, String(RUNS)]);
          for (const line of out.trim().split("\n")) {
            if (line.startsWith("{")) samples.push({ ...(JSON.parse(line) as Sample), size: n });
          }
        }
      }
    } finally {
      tree.close();
    }
    process.stderr.write(`${n} devices done\n`);
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}

const med = (lang: string, mode: string, size: number): number | undefined => {
  const xs = samples.filter((s) => s.lang === lang && s.mode === mode && s.size === size).map((s) => s.ms);
  return xs.length === 0 ? undefined : median(xs);
};
// Every scanner must have chosen the same device and type, or the comparison is void.
for (const n of SIZES) {
  const picks = new Set(samples.filter((s) => s.mode === "inquiry" && s.size === n).map((s) => `${s.device}/${s.type}`));
  if (picks.size !== 1) throw new Error(`The scanners disagree on the choice for ${n} devices: ${[...picks].join(", ")}`);
}

const results: Record<string, unknown>[] = [];
const rows: string[][] = [[
  "devices",
  "type dirs",
  "mode",
  "C ms",
  "C µs/type",
  ...found.flatMap((r) => [`${r.name} ms`, `${r.name} µs/type`, `${r.name}/C (goal ${GOAL}x)`]),
]];
for (const mode of ["inquiry", "list"]) {
  for (const n of SIZES) {
    const typeDirs = n * ALGS.length;
    const c = med("c", mode, n) as number;
    const row = [String(n), String(typeDirs), mode === "inquiry" ? "enumerate+select" : "full list", fmt(c, 2), fmt((c * 1000) / typeDirs, 2)];
    for (const rt of found) {
      const x = med(rt.name, mode, n);
      row.push(fmt(x, 2), fmt(x === undefined ? undefined : (x * 1000) / typeDirs, 2), verdict(x === undefined ? undefined : x / c, GOAL));
      results.push({ mode, devices: n, typeDirs, runtime: rt.name, ms: x, cMs: c, ratio: x === undefined ? null : x / c, goal: GOAL });
    }
    rows.push(row);
  }
}

console.log(`inquiry: median of ${ROUNDS} rounds x ${RUNS} runs; 4 types per device; ratio = runtime / C scanner`);
console.log(table(rows));
for (const [name, why] of Object.entries(missing)) console.log(`${name}: not measured (${why})`);
const file = writeResults("inquiry", {
  benchmark: "inquiry",
  machine: machine(),
  runtimes: Object.fromEntries(found.map((r) => [r.name, r.version])),
  missing,
  rounds: ROUNDS,
  runs: RUNS,
  results,
  samples,
}, values.json);
console.log(`\nresults: ${path.relative(ROOT, file)}`);

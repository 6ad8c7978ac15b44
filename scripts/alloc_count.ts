#!/usr/bin/env bun
/**
 * Allocation count of the queue's hot path: what 10,000 requests allocate through a
 * `Queue` over an in-process stand-in device (scripts/bench/alloc_worker.mjs), per
 * workload, in Bun, Deno and Node. Bun reports objects (and the top object types) from
 * `bun:jsc` heap statistics; Deno and Node report bytes from V8's heap statistics. Numbers,
 * not a test: the same workloads before and after a change show what it bought.
 *
 *   bun scripts/alloc_count.ts [--cases run,send,encoded,raw,wait,lent,baseline] [--runtimes bun,deno,node]
 *                              [--chunks 10] [--json FILE]
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { fmt, machine, median, ROOT, run, runtimes, table, writeResults } from "./bench/_common.ts";

const { values } = parseArgs({
  options: {
    cases: { type: "string" },
    runtimes: { type: "string" },
    chunks: { type: "string" },
    json: { type: "string" },
  },
});
const CASES = (values.cases ?? "run,send,encoded,raw,wait,lent,baseline").split(",");
const CHUNKS = Number(values.chunks ?? 10);
const worker = path.join(ROOT, "scripts", "bench", "alloc_worker.mjs");
const { found, missing } = runtimes((values.runtimes ?? "bun,deno,node").split(","));
// V8: gc() for a clean start of each chunk, and a young generation large enough that no
// collection runs during one.
const V8_FLAGS = ["--expose-gc", "--min-semi-space-size=64", "--max-semi-space-size=64"];

interface Chunk {
  lang: string;
  case: string;
  requests: number;
  objects?: number;
  bytes: number;
  types?: Record<string, number>;
  gc: boolean;
  missing?: string;
}
const results: Record<string, unknown>[] = [];
const rows: string[][] = [["case", ...found.map((r) => (r.name === "bun" ? "bun objects/10k" : `${r.name} bytes/10k`)), "bun top types per 10k"]];
for (const c of CASES) {
  const row = [c];
  let top = "";
  for (const rt of found) {
    const argv = rt.name === "deno"
      ? [rt.argv[0] as string, "run", `--v8-flags=${V8_FLAGS.join(",")}`, ...rt.argv.slice(2)]
      : rt.name === "node"
      ? ["node", ...V8_FLAGS]
      : [...rt.argv];
    const out = run(argv[0] as string, [...argv.slice(1), worker, rt.srcDir, rt.ext, c, String(CHUNKS)]);
    const chunks = out.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Chunk);
    if (chunks[0]?.missing !== undefined) {
      row.push("n/a");
      results.push({ case: c, runtime: rt.name, missing: chunks[0].missing });
      continue;
    }
    const clean = chunks.filter((k) => !k.gc);
    const scale = 10_000 / (clean[0]?.requests ?? 1000);
    const per = (xs: number[]) => (xs.length === 0 ? undefined : median(xs) * scale);
    const objects = rt.name === "bun" ? per(clean.map((k) => k.objects ?? 0)) : undefined;
    const bytes = per(clean.map((k) => k.bytes));
    if (rt.name === "bun") {
      const types: Record<string, number> = {};
      for (const k of clean) for (const [t, n] of Object.entries(k.types ?? {})) types[t] = (types[t] ?? 0) + n;
      const perType = Object.entries(types).map(([t, n]) => [t, (n / clean.length) * scale] as const).filter(([, n]) => n >= 100).sort((a, b) => b[1] - a[1]);
      top = perType.map(([t, n]) => `${t} ${n.toFixed(0)}`).join(", ");
      results.push({ case: c, runtime: rt.name, objectsPer10k: objects ?? null, types: Object.fromEntries(perType), chunks: clean.length });
      row.push(fmt(objects, 0));
    } else {
      results.push({ case: c, runtime: rt.name, bytesPer10k: bytes ?? null, chunks: clean.length });
      row.push(fmt(bytes, 0));
    }
  }
  row.push(top);
  rows.push(row);
}
console.log(`allocations per 10,000 requests (median of ${CHUNKS} chunks of 1000, chunks with a collection left out)`);
console.log(table(rows));
for (const [name, why] of Object.entries(missing)) console.log(`${name}: not measured (${why})`);
const file = writeResults("alloc", {
  benchmark: "alloc",
  machine: machine(),
  runtimes: Object.fromEntries(found.map((r) => [r.name, r.version])),
  missing,
  chunks: CHUNKS,
  results,
}, values.json);
console.log(`\nresults: ${path.relative(ROOT, file)}`);

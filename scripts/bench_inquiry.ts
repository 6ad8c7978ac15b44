#!/usr/bin/env bun
/**
 * Inquiry benchmark: builds sysfs trees of 64, 256, 1024 and 4096 devices × 4 types and
 * prints the median time of `enumerate` + `select` for one algorithm, of a full
 * enumeration (what `wd list` reads), and the time per type directory, so growth can be
 * seen. Numbers, not a test.
 *
 *   npm run bench:inquiry [-- --sizes 64,256 --runs 9 --json FILE]
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { select } from "../src/select/select.ts";
import { enumerate } from "../src/sysfs/enumerate.ts";
import { type FixtureDevice, makeSysfs } from "../src/sysfs/fixture.ts";

const { values } = parseArgs({
  options: { sizes: { type: "string" }, runs: { type: "string" }, json: { type: "string" } },
});
const sizes = (values.sizes ?? "64,256,1024,4096").split(",").map(Number);
const runs = Number(values.runs ?? 9);
const ALGS = ["copy", "csum", "zip", "hash"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const rows: Record<string, number>[] = [];
for (const n of sizes) {
  const devices: FixtureDevice[] = [];
  for (let i = 0; i < n; i++) {
    devices.push({
      id: `wd_dummy${i}`,
      zoneId: i % 4,
      priority: i % 7 === 0 ? 0 : 5,
      types: ALGS.map((alg, j) => ({ name: alg, flags: 0x3 | (j << 8), throughput: (i * 7 + j) % 90, latency: (i + j) % 50, mdevs: [] })),
    });
  }
  const tree = makeSysfs({ devices });
  try {
    const inquiry: number[] = [];
    const full: number[] = [];
    // One warm-up of each so the page cache and JIT are in the same state for every run.
    select(enumerate({ root: tree.root, alg: "copy" }), { alg: "copy", apis: ["wd_dummy_v1"], allowCreate: true });
    enumerate({ root: tree.root });
    for (let r = 0; r < runs; r++) {
      inquiry.push(time(() => {
        select(enumerate({ root: tree.root, alg: "copy" }), { alg: "copy", apis: ["wd_dummy_v1"], allowCreate: true });
      }));
      full.push(time(() => void enumerate({ root: tree.root })));
    }
    const typeDirs = n * ALGS.length;
    rows.push({
      devices: n,
      typeDirs,
      inquiryMs: median(inquiry),
      listMs: median(full),
      inquiryUsPerType: (median(inquiry) * 1000) / typeDirs,
      listUsPerType: (median(full) * 1000) / typeDirs,
    });
  } finally {
    tree.close();
  }
}

const fmt = (x: number | undefined, d = 2) => (x ?? 0).toFixed(d);
console.log(`inquiry benchmark (${typeof Bun !== "undefined" ? "bun" : "other"}), median of ${runs} runs, 4 types per device`);
console.log("devices  type dirs  enumerate+select ms  µs/type dir  full list ms  µs/type dir");
for (const r of rows) {
  console.log(
    `${String(r["devices"]).padStart(7)}  ${String(r["typeDirs"]).padStart(9)}  ${fmt(r["inquiryMs"]).padStart(19)}  ${
      fmt(r["inquiryUsPerType"]).padStart(11)
    }  ${fmt(r["listMs"]).padStart(12)}  ${fmt(r["listUsPerType"]).padStart(11)}`,
  );
}
if (values.json) fs.writeFileSync(values.json, JSON.stringify({ runs, rows }, null, 2));

#!/usr/bin/env bun
/**
 * One native queue case, for profiling and for quick before/after comparisons: the
 * TypeScript side (as `npm run bench:queue` runs it) `--repeat` times, and the C client on
 * the same case after each unless `--no-c`; prints each run and the medians (rps, CPU ns
 * per request of the client process, TS/C ratios). The client is pinned to CPU 0 and the
 * emulators to CPU 1 unless `--no-pin`. Numbers, not a test.
 *
 *   bun scripts/bench/queue_one.ts [--mode poll|irq] [--api objects|encoded|lent|floor] [--depth 8]
 *                                  [--size 256] [--checks] [--n 60000] [--repeat 5] [--no-c] [--no-pin]
 *   bun --cpu-prof-md scripts/bench/queue_one.ts --mode poll --depth 8 --n 600000 --repeat 1 --no-c
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { buildEmu } from "../emu/emulator.ts";
import { median } from "./_common.ts";
import { type Api, cRps, type Mode, pinSelf, type RpsCase, type RpsResult, tsRps } from "./_queue_ts.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "poll" },
    api: { type: "string" },
    depth: { type: "string", default: "8" },
    size: { type: "string", default: "256" },
    checks: { type: "boolean", default: false },
    n: { type: "string" },
    repeat: { type: "string", default: "5" },
    "no-c": { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
  },
});
const mode = values.mode as Mode;
if (mode !== "poll" && mode !== "irq") throw new RangeError(`--mode ${JSON.stringify(values.mode)}: it is poll or irq`);
const api = (values.api ?? (mode === "irq" ? "run" : "objects")) as Api;
if (mode === "poll" ? api !== "objects" && api !== "encoded" && api !== "lent" && api !== "floor" : api !== "run" && api !== "lent") {
  throw new RangeError(`--api ${JSON.stringify(values.api)}: poll mode takes objects, encoded, lent or floor (no library), irq mode run or lent (readableSync)`);
}
const depth = Number(values.depth), size = Number(values.size), repeat = Number(values.repeat);
const n = Number(values.n ?? (depth === 1 ? 20000 : depth === 8 ? 60000 : 120000));
const k: RpsCase = { depth, size, checks: values.checks, mode, api };
const withC = !values["no-c"];
const emuCpu = !values["no-pin"] && pinSelf(0) ? 1 : undefined;
const emuBin = withC ? buildEmu("wd_emu") : "";
const cBin = withC ? buildEmu("emu_client") : "";

await tsRps(k, Math.ceil(n / 4), emuCpu); // JIT warm-up, untimed
const ts: RpsResult[] = [], c: RpsResult[] = [];
const fmt = (r: RpsResult) => `${(r.rps / 1e6).toFixed(3)}M rps ${r.cpuNs.toFixed(0)} ns CPU/req${mode === "irq" ? ` ${(r.irqs ?? 0).toFixed(2)} irq/req ${(r.sleeps ?? 0).toFixed(2)} sleeps/req` : ""}`;
for (let i = 0; i < repeat; i++) {
  const t = await tsRps(k, n, emuCpu);
  ts.push(t);
  let line = `run ${i + 1}: TS ${fmt(t)}`;
  if (withC) {
    const x = cRps(cBin, emuBin, k, n, emuCpu);
    c.push(x);
    line += ` | C ${fmt(x)} | rps TS/C ${(t.rps / x.rps).toFixed(2)} CPU TS/C ${(t.cpuNs / x.cpuNs).toFixed(2)}`;
  }
  process.stdout.write(`${line}\n`);
}
const tsRpsM = median(ts.map((r) => r.rps)), tsCpuM = median(ts.map((r) => r.cpuNs));
let summary = `${mode} ${api} depth ${depth} ${size} B checks ${k.checks ? "on" : "off"}, n ${n}, ${emuCpu === undefined ? "unpinned" : "pinned"}, median of ${repeat}: TS ${(tsRpsM / 1e6).toFixed(3)}M rps ${tsCpuM.toFixed(0)} ns CPU/req`;
if (withC) {
  const cRpsM = median(c.map((r) => r.rps)), cCpuM = median(c.map((r) => r.cpuNs));
  summary += ` | C ${(cRpsM / 1e6).toFixed(3)}M rps ${cCpuM.toFixed(0)} ns | rps TS/C ${(tsRpsM / cRpsM).toFixed(2)} CPU TS/C ${(tsCpuM / cCpuM).toFixed(2)} (medians of the per-run ratios: ${median(ts.map((t, i) => t.rps / c[i]!.rps)).toFixed(2)}, ${median(ts.map((t, i) => t.cpuNs / c[i]!.cpuNs)).toFixed(2)})`;
}
process.stdout.write(`${summary}\n`);

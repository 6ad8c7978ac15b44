// Measures the address space left behind by closed mappings that handed out views:
// 2,000 mappings of 64 KiB, each with a view, closed, in the runtime that runs this file.
// Two measures, after a warm-up, after the loop, and after a few collections: VmSize, and
// the mapped bytes that are accessible (not PROT_NONE), which leave out the reservations
// a runtime's threads make on their own (glibc's 64 MiB malloc arenas), whatever the loop.
//
//   node --expose-gc scripts/measure_retired_ranges.mjs        (uses dist/, npm run build)
//   bun scripts/measure_retired_ranges.mjs
//   deno run -A --v8-flags=--expose-gc scripts/measure_retired_ranges.mjs
import { readFileSync } from "node:fs";

const runtime = typeof Bun !== "undefined" ? "bun" : typeof Deno !== "undefined" ? "deno" : "node";
const entry = runtime === "bun" ? "../src/sys/mman.ts" : "../dist/src/sys/mman.js";
const { MappedMemory } = await import(new URL(entry, import.meta.url).href);

const COUNT = Number(process.argv[2] ?? 2000);
const SIZE = 64 * 1024;
const vmKiB = () => Number(/VmSize:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
const accessibleKiB = () => {
  let total = 0n;
  for (const line of readFileSync("/proc/self/maps", "utf8").trim().split("\n")) {
    const [range, perms] = line.split(" ");
    if (perms.startsWith("---")) continue;
    const [a, b] = range.split("-").map((x) => BigInt(`0x${x}`));
    total += b - a;
  }
  return Number(total / 1024n);
};
const collect = async () => {
  for (let k = 0; k < 4; k++) {
    globalThis.gc?.();
    globalThis.Bun?.gc(true);
    await new Promise((r) => setTimeout(r, 25));
  }
};

function churn(n) {
  for (let i = 0; i < n; i++) {
    const m = MappedMemory.anonymous(SIZE);
    m.bytes()[0] = 1; // a view handed out: the case where Node 20 cannot detach
    m.close();
  }
}

churn(50);
await collect();
const before = vmKiB(), beforeAcc = accessibleKiB();
churn(COUNT);
const afterLoop = vmKiB(), afterLoopAcc = accessibleKiB();
await collect();
const afterGc = vmKiB(), afterGcAcc = accessibleKiB();
const mib = (k) => Math.round((k / 1024) * 10) / 10;
console.log(JSON.stringify({
  runtime: `${runtime} ${runtime === "bun" ? Bun.version : runtime === "deno" ? Deno.version.deno : process.version}`,
  mappings: COUNT,
  sizeKiB: SIZE / 1024,
  gc: typeof globalThis.gc === "function" || runtime === "bun",
  vmSizeGrowthAfterLoopMiB: mib(afterLoop - before),
  vmSizeGrowthAfterGcMiB: mib(afterGc - before),
  accessibleGrowthAfterLoopMiB: mib(afterLoopAcc - beforeAcc),
  accessibleGrowthAfterGcMiB: mib(afterGcAcc - beforeAcc),
}));

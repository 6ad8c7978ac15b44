// The JavaScript side of the inquiry benchmark (scripts/bench_inquiry.ts), plain JavaScript
// so Bun, Deno and Node run the same code (Node runs the compiled build).
//
//   <runtime> scripts/bench/inquiry_worker.mjs SRC_DIR EXT ROOT RUNS
//
// For the sysfs tree at ROOT: RUNS timings of `enumerate` + `select` for "copy" (the queue
// inquiry) and of a full `enumerate` (what `wd list` reads), after one untimed warm-up of
// each. One JSON line per run: {"lang":..,"mode":"inquiry"|"list","ms":T,"devices":D,
// "types":N,"device":..,"type":..}.
const [srcDir, ext, root, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg ?? 9);
const mod = (p) => import(new URL(`file://${srcDir}/${p}.${ext}`).href);
const { enumerate } = await mod("src/sysfs/enumerate");
const { select } = await mod("src/select/select");
const lang = typeof globalThis.Bun !== "undefined" ? "bun" : typeof globalThis.Deno !== "undefined" ? "deno" : "node";
const criteria = { alg: "copy", apis: ["wd_dummy_v1"], allowCreate: true };

const inquiry = () => {
  const inv = enumerate({ root, alg: "copy" });
  return { inv, s: select(inv, criteria) };
};
const list = () => ({ inv: enumerate({ root }), s: null });
for (const [mode, f] of [["inquiry", inquiry], ["list", list]]) {
  f();
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const { inv, s } = f();
    const ms = performance.now() - t0;
    const types = inv.devices.reduce((n, d) => n + d.types.length, 0);
    console.log(JSON.stringify({ lang, mode, ms, devices: inv.devices.length, types, device: s?.device.id ?? "", type: s?.type.type ?? "" }));
  }
}

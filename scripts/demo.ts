#!/usr/bin/env bun
/**
 * The library at work on a real kernel: run by `npm run demo`, which boots the kernel rig
 * with the dummy WarpDrive accelerator and runs this program inside it, as root.
 *
 * It arranges the devices (one preferred, one disabled), asks for a queue with the
 * public API and prints each step of the inquiry, round-trips a few thousand requests
 * with checked results, releases the queue, then shows the kernel reclaiming a queue
 * whose process was killed.
 *
 * Every step it reports is checked (counts, states, counters, request results): on the
 * first check that fails it prints what failed and exits 1, and the closing line comes
 * only when every step was checked.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  type Candidate,
  createMdev,
  disableDevice,
  type DummyCompletion,
  type DummyRequest,
  enumerate,
  formatFlags,
  type InquiryStep,
  removeMdev,
  requestQueue,
  setPriority,
  WD_CAPA_SGL_MEM,
} from "../mod.ts";

const REQUESTS = Number(process.env["WD_DEMO_REQUESTS"] ?? 5000);
const say = (s = "") => process.stdout.write(`${s}\n`);
const attr = (p: string) => readFileSync(p, "utf8").trim();
const CLASS = "/sys/class/warpdrive";
const MDEVS = "/sys/bus/mdev/devices";
/** The module's defaults (scripts/rig/kmod/README.md): three devices with a copy and a csum type. */
const DEVICES = ["wd_dummy0", "wd_dummy1", "wd_dummy2"];

/** A reported step that turned out false. */
class StepFailed extends Error {}
let checks = 0;
/** Checks what a step is about to report; a false claim ends the demo with exit status 1. */
function check(ok: boolean, what: string): void {
  if (!ok) throw new StepFailed(what);
  checks++;
}
const counter = (uuid: string, name: string) => attr(`${MDEVS}/${uuid}/wd_dummy/${name}`);

function explain(c: Candidate): string {
  return `    ${c.accepted ? `#${c.rank}` : "--"} ${c.device}/${c.type}: ${c.accepted ? "" : "rejected, "}${c.reason}`;
}

function onStep(s: InquiryStep): void {
  switch (s.step) {
    case "enumerated":
      say(`1. enumerated /sys/class/warpdrive: ${s.devices} devices, ${s.types} types`);
      break;
    case "selected":
      say(`2-5. matched name, flags and device_api, then ranked:`);
      for (const c of s.selection.candidates) say(explain(c));
      say(`   best: ${s.selection.device.id}/${s.selection.type.type} (${s.selection.mdev === null ? "no mediated device yet" : `mdev ${s.selection.mdev}`})`);
      break;
    case "busy":
      say(`   skipped ${s.mdev}: ${s.reason}`);
      break;
    case "create-failed":
      say(`   could not create on ${s.device}/${s.type}: ${s.reason}`);
      break;
    case "created":
      say(`   created mediated device ${s.mdev} on ${s.device}/${s.type} (wrote it to create)`);
      break;
    case "opened":
      say(`   opened ${s.mdev} through VFIO; driver ${s.deviceApi}`);
      break;
  }
}

async function main(): Promise<void> {
  const inv = enumerate();
  check(
    inv.devices.map((d) => d.id).join(",") === DEVICES.join(","),
    `enumerate() found [${inv.devices.map((d) => d.id).join(", ")}], not the module's ${DEVICES.join(", ")}`,
  );
  say(`Accelerators found:`);
  for (const d of inv.devices) {
    check(d.problems.length === 0, `${d.id} has problems: ${d.problems.join("; ")}`);
    check(
      d.types.map((t) => t.name).sort().join(",") === "copy,csum",
      `${d.id} offers [${d.types.map((t) => t.name).join(", ")}], not copy and csum`,
    );
    say(`  ${d.id}: zone ${d.zoneId}, priority ${d.priority}, iommu ${d.iommu}`);
    for (const t of d.types) {
      const free = Number(attr(`${CLASS}/${d.id}/mdev_supported_types/${t.type}/available_instances`));
      check(t.availableInstances === free, `${d.id}/${t.type}: ${t.availableInstances} free read, the kernel says ${free}`);
      say(`    ${t.type}: name ${t.name}, wd_type ${t.wdType}, flags ${formatFlags(t.flags ?? 0)}, throughput ${t.throughput}, ${t.availableInstances} free, api ${t.deviceApi}`);
    }
  }
  say();
  say(`Arranging: wd_dummy1 preferred (priority -5), wd_dummy2 disabled (priority out of range)`);
  setPriority("wd_dummy1", -5);
  disableDevice("wd_dummy2");
  check(attr(`${CLASS}/wd_dummy1/wdev/priority`) === "-5", `wd_dummy1's priority reads ${attr(`${CLASS}/wd_dummy1/wdev/priority`)}, not -5`);
  const disabled = enumerate().devices.find((d) => d.id === "wd_dummy2");
  check(disabled?.enabled === false, `wd_dummy2 is still enabled (priority ${disabled?.priority})`);
  try {
    say();
    say(`Asking for a queue: alg "copy" with WD_CAPA_SGL_MEM, creating a mediated device if needed`);
    const steps: InquiryStep[] = [];
    const q = await requestQueue<DummyRequest, DummyCompletion>({
      alg: "copy",
      flags: WD_CAPA_SGL_MEM,
      allowCreate: true,
      onStep: (s) => {
        steps.push(s);
        onStep(s);
      },
    });
    const selected = steps.find((s) => s.step === "selected");
    check(selected !== undefined && selected.selection.device.id === "wd_dummy1", "the preferred wd_dummy1 was not ranked first");
    const rejected = selected?.selection.candidates.filter((c) => c.device === "wd_dummy2" && c.name === "copy") ?? [];
    check(
      rejected.length === 1 && !rejected[0]!.accepted && rejected[0]!.reason.startsWith("device disabled"),
      `wd_dummy2/copy was not rejected as disabled (${rejected.map((c) => c.reason).join("; ") || "not listed"})`,
    );
    check(q.device === "wd_dummy1" && q.created, `the queue is on ${q.device} (created: ${q.created}), not on a new mdev of wd_dummy1`);
    check(
      steps.some((s) => s.step === "created" && s.mdev === q.mdev) && existsSync(`${MDEVS}/${q.mdev}`),
      `the created mediated device ${q.mdev} is not in ${MDEVS}`,
    );
    check(counter(q.mdev, "state") === "open", `the kernel says mdev ${q.mdev} is ${counter(q.mdev, "state")}, not open`);
    let rate = 0;
    try {
      const src = q.alloc(1 << 16);
      const dst = q.alloc(1 << 16);
      const s = src.bytes();
      const d = dst.bytes();
      for (let i = 0; i < s.length; i++) s[i] = (i * 2654435761) >>> 24;
      // A promise per request: run() assigns the ids, sends what one turn of the event loop
      // asks for with one doorbell, and resolves each promise from its completion.
      const LEN = 256, DEPTH = 64;
      let next = 0, ok = 0;
      const t0 = performance.now();
      const worker = async (slot: number): Promise<void> => {
        for (let i = next++; i < REQUESTS; i = next++) {
          const off = (i * 97) % (s.length - LEN);
          const c = await q.run({ op: "copy", src: src.iova + BigInt(off), dst: dst.iova + BigInt(slot * LEN), len: LEN }, { timeout: 30_000 });
          if (c.status === 0 && c.result === LEN && Buffer.compare(d.subarray(slot * LEN, slot * LEN + LEN), s.subarray(off, off + LEN)) === 0) ok++;
        }
      };
      await Promise.all(Array.from({ length: DEPTH }, (_, slot) => worker(slot)));
      const secs = (performance.now() - t0) / 1000;
      rate = REQUESTS / secs;
      say();
      say(`Round trip with run(): ${REQUESTS} copies of ${LEN} bytes, ${DEPTH} in flight, ${ok} checked equal, in ${secs.toFixed(2)} s: ${Math.round(rate)} requests/s (${q.interrupts ? "interrupt-driven" : "polled"})`);
      check(ok === REQUESTS, `${REQUESTS - ok} of ${REQUESTS} requests came back wrong`);
      const done = Number(counter(q.mdev, "requests"));
      check(done === REQUESTS, `the kernel counted ${done} completed requests, not ${REQUESTS}`);
    } finally {
      await q.release();
    }
    check(!existsSync(`${MDEVS}/${q.mdev}`), `the mediated device ${q.mdev} is still there after release`);
    say(`Released the queue; the mediated device it created was removed`);

    say();
    say(`Reclaim: a client holds a queue and is killed with SIGKILL`);
    const uuid = createMdev("wd_dummy0", "wd_dummy-copy");
    const counters = () => `reclaims ${attr(`/sys/bus/mdev/devices/${uuid}/wd_dummy/reclaims`)}, state ${attr(`/sys/bus/mdev/devices/${uuid}/wd_dummy/state`)}`;
    const file = "/tmp/wd-demo-holder.ts";
    writeFileSync(file, `import * as wd from ${JSON.stringify(path.resolve(import.meta.dir, "..", "mod.ts"))};
const q = await wd.requestQueue({ alg: "copy", flags: 0x2 });
console.log(q.mdev);
await new Promise(() => {});`);
    setPriority("wd_dummy1", 0);
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "inherit"] });
    const held = await new Promise<string>((resolve, reject) => {
      child.stdout.once("data", (b: Buffer) => resolve(b.toString().trim()));
      child.once("exit", (c) => reject(new Error(`holder exited with ${c}`)));
    });
    check(held === uuid, `the client holds "${held}", not the mediated device ${uuid}`);
    check(counter(uuid, "state") === "open", `mdev ${uuid} is ${counter(uuid, "state")} while the client holds it`);
    const reclaims = Number(counter(uuid, "reclaims"));
    say(`   client ${child.pid} holds ${held}: ${counters()}`);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    for (let i = 0; i < 100 && counter(uuid, "state") !== "idle"; i++) await Bun.sleep(20);
    check(counter(uuid, "state") === "idle", `mdev ${uuid} is still ${counter(uuid, "state")} 2 s after its holder was killed`);
    check(Number(counter(uuid, "reclaims")) === reclaims + 1, `reclaims went from ${reclaims} to ${counter(uuid, "reclaims")}, not up by one`);
    say(`   after SIGKILL: ${counters()}`);
    const again = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", flags: WD_CAPA_SGL_MEM });
    let c: DummyCompletion;
    try {
      check(again.mdev === uuid, `the next queue opened ${again.mdev}, not the reclaimed ${uuid}`);
      const b = again.alloc(4096);
      const bytes = b.bytes();
      for (let i = 0; i < 64; i++) bytes[i] = 255 - i;
      c = await again.run({ op: "copy", src: b.iova, dst: b.iova + 2048n, len: 64 }, { timeout: 5000 });
      check(c.statusName === "ok" && c.result === 64, `the request completed as ${JSON.stringify(c)}`);
      check(Buffer.compare(bytes.subarray(0, 64), bytes.subarray(2048, 2112)) === 0, "the copied bytes differ from the source");
    } finally {
      await again.release();
    }
    say(`   the same mediated device opens again (${again.mdev}) and completes a request: ${c.statusName}`);
    removeMdev(uuid);
    check(!existsSync(`${MDEVS}/${uuid}`), `mdev ${uuid} is still there after removeMdev`);
    say();
    say("Benchmark from the command line: wd bench --alg copy --size 4096 --depth 16 --seconds 2");
    const wdBin = path.join(import.meta.dir, "..", "bin", "wd.ts");
    const bench = spawnSync(process.execPath, [wdBin, "bench", "--alg", "copy", "--size", "4096", "--depth", "16", "--seconds", "2", "--allow-create", "--json"], {
      encoding: "utf8",
      env: { ...process.env, WD_SYSFS_ROOT: "" },
    });
    check(bench.status === 0, `wd bench exited with ${bench.status}: ${bench.stderr.trim() || bench.stdout.trim()}`);
    const b = JSON.parse(bench.stdout);
    check(b.requests > 0 && b.failed === 0, `wd bench completed ${b.requests} requests with ${b.failed} failures`);
    check(b.latencyUs.p50 <= b.latencyUs.p99, `wd bench latency p50 ${b.latencyUs.p50} us above p99 ${b.latencyUs.p99} us`);
    check(!existsSync(`${MDEVS}/${b.mdev}`), `the mediated device wd bench created (${b.mdev}) is still there`);
    say(`   ${b.device}/${b.type}: ${b.requests} requests of ${b.size} B, ${b.requestsPerSecond} req/s, ${b.mbPerSecond} MB/s, latency p50 ${b.latencyUs.p50} us, p99 ${b.latencyUs.p99} us`);
    say();
    say(`Done: inquiry, queue, ${Math.round(rate)} requests/s, release and reclaim all worked on this kernel (${checks} checks passed)`);
  } finally {
    setPriority("wd_dummy1", 0);
    setPriority("wd_dummy2", 0);
  }
}

try {
  await main();
} catch (e) {
  const what = e instanceof StepFailed ? e.message : `${(e as Error)?.stack ?? e}`;
  say();
  say(`FAILED after ${checks} checks: ${what}`);
  process.exit(1);
}

#!/usr/bin/env bun
/**
 * The library at work on a real kernel: run by `npm run demo`, which boots the kernel rig
 * with the dummy WarpDrive accelerator and runs this program inside it, as root.
 *
 * It lists the devices of both classes (the dummy WarpDrive accelerator's and the dummy
 * UACCE driver's), arranges the WarpDrive ones (one preferred, one disabled), asks for a
 * queue with the public API and prints each step of the inquiry, round-trips a few
 * thousand requests with checked results, releases the queue, shows the kernel reclaiming
 * a queue whose process was killed, then round-trips requests on a UACCE device.
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
  type Queue,
  removeMdev,
  requestQueue,
  setPriority,
  type UacceDummyCompletion,
  type UacceDummyRequest,
  WD_CAPA_SGL_MEM,
} from "../mod.ts";

const REQUESTS = Number(process.env["WD_DEMO_REQUESTS"] ?? 5000);
const say = (s = "") => process.stdout.write(`${s}\n`);
const attr = (p: string) => readFileSync(p, "utf8").trim();
const CLASS = "/sys/class/warpdrive";
const MDEVS = "/sys/bus/mdev/devices";
/** The module's defaults (scripts/rig/kmod/README.md): three devices with a copy and a csum type. */
const DEVICES = ["wd_dummy0", "wd_dummy1", "wd_dummy2"];
/** The UACCE driver's defaults (scripts/rig/kmod/PROTOCOL_UACCE.md): three devices, two queues each. */
const UACCE_DEVICES = ["uacce_dummy-0", "uacce_dummy-1", "uacce_dummy-2"];

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
      say(`1. enumerated /sys/class/warpdrive and /sys/class/uacce: ${s.devices} devices, ${s.types} types`);
      break;
    case "selected":
      say(`2-5. matched name, flags and device_api, then ranked:`);
      for (const c of s.selection.candidates) say(explain(c));
      say(
        `   best: ${s.selection.device.id}/${s.selection.type.type} (${
          s.selection.device.class === "uacce" ? "a UACCE char device" : s.selection.mdev === null ? "no mediated device yet" : `mdev ${s.selection.mdev}`
        })`,
      );
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
      say(`   opened ${s.mdev}${s.mdev.startsWith("/dev/") ? "" : " through VFIO"}; driver ${s.deviceApi}`);
      break;
  }
}

async function main(): Promise<void> {
  const all = enumerate();
  const inv = { ...all, devices: all.devices.filter((d) => d.class === "warpdrive") };
  check(
    inv.devices.map((d) => d.id).join(",") === DEVICES.join(","),
    `enumerate() found the WarpDrive devices [${inv.devices.map((d) => d.id).join(", ")}], not the module's ${DEVICES.join(", ")}`,
  );
  say(`Accelerators found, class warpdrive:`);
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
  const uacce = all.devices.filter((d) => d.class === "uacce");
  check(uacce.length === UACCE_DEVICES.length, `enumerate() found ${uacce.length} UACCE devices, not the ${UACCE_DEVICES.length} of uacce_dummy`);
  say(`Class uacce:`);
  for (const d of uacce) {
    const u = d.uacce!;
    const free = Number(attr(`/sys/class/uacce/${d.id}/available_instances`));
    check(u.api === "uacce_dummy_v1" && u.availableInstances === free, `${d.id}: api ${u.api}, ${u.availableInstances} free read, the kernel says ${free}`);
    say(`  ${d.id}: api ${u.api}, algorithms ${u.algorithms.join(" ")}, flags ${u.flags} (${u.sva ? "SVA" : "no SVA"}), ${u.availableInstances} free queues, MMIO ${u.regionMmioSize} B, DUS ${u.regionDusSize} B`);
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
    const uacceRate = await uacceRoundTrip();
    say();
    say(
      `Done: inquiry over both classes, queues on each, ${Math.round(rate)} requests/s (WarpDrive) and ${Math.round(uacceRate)} requests/s (UACCE), release and reclaim all worked on this kernel (${checks} checks passed)`,
    );
  } finally {
    setPriority("wd_dummy1", 0);
    setPriority("wd_dummy2", 0);
  }
}

/** A queue on a UACCE device: copies and CRC-32s with checked results; the instance comes back at release. */
async function uacceRoundTrip(): Promise<number> {
  say();
  say(`A queue on a UACCE device: alg "crc32", api uacce_dummy_v1`);
  const q: Queue<UacceDummyRequest, UacceDummyCompletion> = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({
    alg: "crc32",
    apis: ["uacce_dummy_v1"],
    onStep,
  });
  const free = () => Number(attr(`/sys/class/uacce/${q.device}/available_instances`));
  let rate = 0;
  try {
    check(q.class === "uacce" && q.mdev === `/dev/${q.device}`, `the queue is ${q.class} on ${q.mdev}, not a UACCE char device`);
    check(free() === 1, `${q.device} has ${free()} free queues while this one is open, not 1`);
    const b = q.alloc(1 << 16);
    const bytes = b.bytes();
    bytes.set(new TextEncoder().encode("123456789"));
    const known = await q.run({ op: "crc32", src: b.iova, len: 9 }, { timeout: 10_000 });
    check(known.statusName === "ok" && known.result === 0xcbf43926, `CRC-32 of "123456789" came back as ${JSON.stringify(known)}`);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const N = 2000, LEN = 512;
    const t0 = performance.now();
    const runs = Array.from({ length: N }, (_, i) => q.run({ op: "crc32", src: b.iova + BigInt((i * 64) % (bytes.length - LEN)), len: LEN }, { timeout: 30_000 }));
    const done = await Promise.all(runs);
    const secs = (performance.now() - t0) / 1000;
    rate = N / secs;
    const ok = done.filter((c, i) => c.status === 0 && c.result === crc32(bytes.subarray((i * 64) % (bytes.length - LEN), (i * 64) % (bytes.length - LEN) + LEN))).length;
    say(`   ${N} CRC-32s of ${LEN} bytes in the device's DUS arena (buffer ${b.iova} is a DUS offset), ${ok} checked against a CRC computed here, in ${secs.toFixed(2)} s: ${Math.round(rate)} requests/s (waits sleep on the fd's POLLIN)`);
    check(ok === N, `${N - ok} of ${N} CRC-32s came back wrong`);
  } finally {
    await q.release();
  }
  check(free() === 2, `${q.device} has ${free()} free queues after release, not 2`);
  say(`   released: PUT_Q, unmap, close; ${q.device} has ${free()} free queues again`);
  return rate;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of bytes) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

try {
  await main();
} catch (e) {
  const what = e instanceof StepFailed ? e.message : `${(e as Error)?.stack ?? e}`;
  say();
  say(`FAILED after ${checks} checks: ${what}`);
  process.exit(1);
}

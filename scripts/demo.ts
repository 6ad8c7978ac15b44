#!/usr/bin/env bun
/**
 * The library at work on a real kernel: run by `npm run demo`, which boots the kernel rig
 * with the dummy WarpDrive accelerator and runs this program inside it, as root.
 *
 * It arranges the devices (one preferred, one disabled), asks for a queue with the
 * public API and prints each step of the inquiry, round-trips a few thousand requests
 * with checked results, releases the queue, then shows the kernel reclaiming a queue
 * whose process was killed.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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
  say(`Accelerators found:`);
  for (const d of inv.devices) {
    say(`  ${d.id}: zone ${d.zoneId}, priority ${d.priority}, iommu ${d.iommu}`);
    for (const t of d.types) say(`    ${t.type}: name ${t.name}, wd_type ${t.wdType}, flags ${formatFlags(t.flags ?? 0)}, throughput ${t.throughput}, ${t.availableInstances} free, api ${t.deviceApi}`);
  }
  say();
  say(`Arranging: wd_dummy1 preferred (priority -5), wd_dummy2 disabled (priority out of range)`);
  setPriority("wd_dummy1", -5);
  disableDevice("wd_dummy2");
  try {
    say();
    say(`Asking for a queue: alg "copy" with WD_CAPA_SGL_MEM, creating a mediated device if needed`);
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", flags: WD_CAPA_SGL_MEM, allowCreate: true, onStep });
    let rate = 0;
    try {
      const src = q.alloc(1 << 16);
      const dst = q.alloc(1 << 16);
      const s = src.bytes();
      const d = dst.bytes();
      for (let i = 0; i < s.length; i++) s[i] = (i * 2654435761) >>> 24;
      const LEN = 256, BATCH = 64;
      let sent = 0, ok = 0;
      const t0 = performance.now();
      while (sent < REQUESTS) {
        const n = Math.min(BATCH, REQUESTS - sent);
        const reqs: DummyRequest[] = [];
        for (let k = 0; k < n; k++) {
          const id = sent + k;
          reqs.push({ op: "copy", id, src: src.iova + BigInt((id * 97) % (s.length - LEN)), dst: dst.iova + BigInt(k * LEN), len: LEN });
        }
        const queued = q.sendBatch(reqs);
        for (let got = 0; got < queued;) {
          for (const c of q.poll()) {
            const k = c.id - sent;
            const off = (c.id * 97) % (s.length - LEN);
            if (c.status === 0 && Buffer.compare(d.subarray(k * LEN, k * LEN + LEN), s.subarray(off, off + LEN)) === 0) ok++;
            got++;
          }
        }
        sent += queued;
      }
      const secs = (performance.now() - t0) / 1000;
      rate = REQUESTS / secs;
      say();
      say(`Round trip: ${REQUESTS} copies of ${LEN} bytes, ${ok} checked equal, in ${secs.toFixed(2)} s: ${Math.round(rate)} requests/s`);
      if (ok !== REQUESTS) throw new Error(`${REQUESTS - ok} requests came back wrong`);
    } finally {
      q.release();
      say(`Released the queue; the mediated device it created was removed`);
    }

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
    say(`   client ${child.pid} holds ${held}: ${counters()}`);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    for (let i = 0; i < 100 && attr(`/sys/bus/mdev/devices/${uuid}/wd_dummy/state`) !== "idle"; i++) await Bun.sleep(20);
    say(`   after SIGKILL: ${counters()}`);
    const again = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", flags: WD_CAPA_SGL_MEM });
    const b = again.alloc(4096);
    again.send({ op: "copy", id: 1, src: b.iova, dst: b.iova + 2048n, len: 64 });
    const c = await again.wait({ timeout: 5000 });
    again.release();
    say(`   the same mediated device opens again (${again.mdev}) and completes a request: ${c.statusName}`);
    removeMdev(uuid);
    say();
    say(`Done: inquiry, queue, ${Math.round(rate)} requests/s, release and reclaim all worked on this kernel`);
  } finally {
    setPriority("wd_dummy1", 0);
    setPriority("wd_dummy2", 0);
  }
}

await main();

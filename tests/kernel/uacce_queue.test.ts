/**
 * The queue over UACCE on the real kernel: the rig's UACCE framework (uacce.ko built from
 * Debian's source) and the dummy UACCE driver uacce_dummy (scripts/rig/kmod, protocol in
 * PROTOCOL_UACCE.md), through the library's requestQueue. Runs inside the rig:
 * `bash scripts/rig.sh test uacce_queue`.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  enumerate,
  NoAcceleratorError,
  type Queue,
  requestQueue,
  select,
  type UacceDummyCompletion,
  type UacceDummyRequest,
} from "../../mod.ts";
import { openSelection } from "../../src/queue/request.ts";
import { attr, kernelProblems, run, start, waitFor } from "./kmod_harness.ts";
import { lentRoundTrips } from "./lent_loop.ts";
import { freshUacceAround, reloadUacce, requireUacce, UACCE_CLASS as CLASS } from "./uacce_harness.ts";
import { crc32 } from "../unit/_fake_wd_dummy.ts";

const MOD = path.resolve(import.meta.dir, "..", "..", "mod.ts");
const API = { apis: ["uacce_dummy_v1"] };
type UQ = Queue<UacceDummyRequest, UacceDummyCompletion>;

/** The devices offering an algorithm, in natural order. */
function offering(alg: string): string[] {
  requireUacce();
  return readdirSync(CLASS)
    .filter((d) => attr(`${CLASS}/${d}/algorithms`).split("\n").includes(alg))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}
function free(dev: string): number {
  return Number(attr(`${CLASS}/${dev}/available_instances`));
}
function script(name: string, body: string): string {
  requireUacce();
  const file = `/tmp/${name}.ts`;
  writeFileSync(file, `import * as wd from ${JSON.stringify(MOD)};\n${body}`);
  return file;
}
function fill(bytes: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}

freshUacceAround(() => void run("dmesg", ["-C"]));

describe("requestQueue on the dummy UACCE driver", () => {
  test("a round trip: copy and crc32 with checked results, an error completion, the instance taken and given back", async () => {
    const dev = offering("copy")[0]!;
    const q: UQ = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...API });
    try {
      expect([q.class, q.device, q.type, q.deviceApi, q.mdev]).toEqual(["uacce", dev, "copy", "uacce_dummy_v1", `/dev/${dev}`]);
      expect(free(dev!)).toBe(1);
      expect(q.interrupts).toBe(true); // waits sleep on the fd's POLLIN
      const src = q.alloc(8192), dst = q.alloc(8192);
      fill(src.bytes(), 7);
      const c = await q.run({ op: "copy", src: src.iova, dst: dst.iova, len: 8192 }, { timeout: 10_000 });
      expect([c.statusName, c.result]).toEqual(["ok", 8192]);
      expect(Buffer.compare(dst.bytes(), src.bytes())).toBe(0);
      const bad = await q.run({ op: "copy", src: 0, dst: dst.iova, len: 64 }, { timeout: 10_000 });
      expect(bad.statusName).toBe("bad-addr");
    } finally {
      await q.release();
    }
    expect(free(dev!)).toBe(2);
    const s: UQ = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "crc32", ...API });
    try {
      expect(offering("crc32")).toContain(s.device);
      const b = s.alloc(4096);
      fill(b.bytes(), 99);
      const sum = await s.run({ op: "crc32", src: b.iova, len: 4096 }, { timeout: 10_000 });
      expect(sum.result).toBe(crc32(b.bytes()));
      b.bytes().set(new TextEncoder().encode("123456789"));
      expect((await s.run({ op: "crc32", src: b.iova, len: 9 }, { timeout: 10_000 })).result).toBe(0xcbf43926);
    } finally {
      await s.release();
    }
    expect(kernelProblems()).toEqual([]);
  }, 120_000);

  test("past the last instance: a full device moves to the next one; with every one full the error lists why", async () => {
    const copy = offering("copy");
    expect(copy.length).toBe(2);
    const stale = select(enumerate({ alg: "copy" }), { alg: "copy", ...API });
    expect(stale.device.id).toBe(copy[0]!);
    const held: UQ[] = [];
    try {
      for (let i = 0; i < 2; i++) held.push(await openSelection(stale, { alg: "copy" }));
      expect(free(copy[0]!)).toBe(0);
      // The selection still ranks the first device first; its open fails EBUSY: the next.
      const steps: string[] = [];
      held.push(await openSelection(stale, { alg: "copy", onStep: (s) => s.step === "busy" && steps.push(s.reason) }));
      expect(held[2]!.device).toBe(copy[1]!);
      expect(steps).toEqual([`UACCE device /dev/${copy[0]} is full: every queue is taken (open: EBUSY)`]);
      held.push(await openSelection(stale, { alg: "copy" }));
      const err = await openSelection(stale, { alg: "copy" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoAcceleratorError);
      for (const d of copy) expect((err as Error).message).toContain(`  ${d}/copy: UACCE device /dev/${d} is full: every queue is taken (open: EBUSY)`);
      // A fresh inquiry sees available_instances 0 everywhere and says so.
      const fresh = await requestQueue({ alg: "copy", ...API }).catch((e: unknown) => e);
      expect(fresh).toBeInstanceOf(NoAcceleratorError);
      for (const d of copy) expect((fresh as Error).message).toContain(`${d}/copy: no free queue (available_instances 0)`);
    } finally {
      for (const q of held) await q.release();
    }
    expect(copy.map(free)).toEqual([2, 2]);
  }, 120_000);

  test("two processes contending for the last queues: each gets its own, checked, on different devices", async () => {
    reloadUacce({ queues: 1 });
    try {
      const file = script("uacce_contend", `
        const q = await wd.requestQueue({ alg: "copy", apis: ["uacce_dummy_v1"] });
        const a = q.alloc(4096), b = q.alloc(4096);
        let bad = 0;
        for (let i = 0; i < 200; i++) {
          a.bytes().fill(i & 0xff);
          const c = await q.run({ op: "copy", src: a.iova, dst: b.iova, len: 4096 }, { timeout: 10000 });
          if (c.status !== 0 || b.bytes().some((x) => x !== (i & 0xff))) bad++;
        }
        console.log("done " + q.device + " " + bad);
        await new Promise((r) => setTimeout(r, 500));
        await q.release();`);
      const a = start(process.execPath, [file]);
      const b = start(process.execPath, [file]);
      const [ra, rb] = await Promise.all([a.exited(90_000), b.exited(90_000)]);
      const outs = [ra.stdout.trim(), rb.stdout.trim()].sort();
      expect(outs).toEqual(offering("copy").map((d) => `done ${d} 0`));
      expect([ra.status, rb.status]).toEqual([0, 0]);
    } finally {
      reloadUacce();
    }
  }, 150_000);

  test("SIGKILL of a process holding a queue gives the instance back", async () => {
    const file = script("uacce_hold", `
      const q = await wd.requestQueue({ alg: "crc32", apis: ["uacce_dummy_v1"] });
      const b = q.alloc(64);
      await q.run({ op: "crc32", src: b.iova, len: 64 }, { timeout: 10000 });
      console.log("holding " + q.device);
      await new Promise(() => {});`);
    const child = start(process.execPath, [file]);
    const dev = (await child.line(/^holding /, 60_000)).slice("holding ".length);
    expect(free(dev)).toBe(1);
    child.kill("SIGKILL");
    await child.exited(30_000);
    expect(await waitFor(() => free(dev) === 2, 10_000)).toBe(true);
    await using q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "crc32", ...API });
    const b = q.alloc(64);
    expect((await q.run({ op: "crc32", src: b.iova, len: 64 }, { timeout: 10_000 })).status).toBe(0);
    expect(kernelProblems()).toEqual([]);
  }, 120_000);

  test("rmmod of the driver with a queue open: the process lives, the queue refuses use with a clear error", async () => {
    const flag = "/tmp/uacce_removed";
    const file = script("uacce_rmmod", `
      import { existsSync } from "node:fs";
      const q = await wd.requestQueue({ alg: "copy", apis: ["uacce_dummy_v1"] });
      const a = q.alloc(64);
      await q.run({ op: "copy", src: a.iova, dst: a.iova + 64n, len: 32 }, { timeout: 10000 });
      const pending = q.wait().then(() => "completed", (e) => e.name + " " + e.code);
      console.log("opened " + q.device);
      while (!existsSync(${JSON.stringify(flag)})) await new Promise((r) => setTimeout(r, 20));
      console.log("wait: " + (await pending));
      for (const [what, f] of [["send", () => q.send({ op: "nop", id: 1 })], ["poll", () => q.poll()]]) {
        try { f(); console.log(what + ": no error"); } catch (e) { console.log(what + ": " + JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
      }
      console.log("run: " + (await q.run({ op: "nop" }).then(() => "ok", (e) => e.name)));
      await q.release();
      console.log("released");`);
    const child = start(process.execPath, [file]);
    try {
      const dev = (await child.line(/^opened /, 60_000)).slice("opened ".length);
      const r = run("rmmod", ["uacce_dummy"]);
      expect(r.status).toBe(0);
      expect(existsSync(`${CLASS}/${dev}`)).toBe(false);
      writeFileSync(flag, "");
      const out = await child.exited(60_000);
      expect([out.status, out.signal]).toEqual([0, null]);
      const lines = out.stdout.trim().split("\n");
      expect(lines).toContain("wait: DeviceRemovedError ENXIO");
      const send = JSON.parse(lines.find((l) => l.startsWith("send: "))!.slice(6));
      expect(send).toMatchObject({ name: "DeviceRemovedError", code: "ENXIO" });
      expect(send.message).toContain(`the driver of UACCE device "${dev}" was removed (UACCE_CMD_START_Q answered ENXIO`);
      expect(lines.find((l) => l.startsWith("poll: "))).toContain("DeviceRemovedError");
      expect(lines).toContain("run: DeviceRemovedError");
      expect(lines.at(-1)).toBe("released");
    } finally {
      child.kill("SIGKILL");
      run("rm", ["-f", flag]);
      reloadUacce();
    }
    expect(kernelProblems()).toEqual([]);
  }, 120_000);

  test("10,000 requests with checked payloads", async () => {
    requireUacce();
    const q: UQ = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...API });
    const s: UQ = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "crc32", ...API });
    try {
      const SLOT = 1024, BATCH = 100, TOTAL = 10_000;
      const src = q.alloc(SLOT * BATCH), dst = q.alloc(SLOT * BATCH);
      const sums = s.alloc(SLOT * 4);
      let checked = 0, seed = 1;
      for (let done = 0; done < TOTAL; done += BATCH) {
        fill(src.bytes(), seed++);
        const runs = Array.from({ length: BATCH }, (_, i) => {
          const len = 1 + ((done + i) * 37) % SLOT;
          return q.run({ op: "copy", src: src.iova + BigInt(i * SLOT), dst: dst.iova + BigInt(i * SLOT), len }, { timeout: 30_000 }).then((c) => ({ c, i, len }));
        });
        for (const { c, i, len } of await Promise.all(runs)) {
          expect([c.status, c.result]).toEqual([0, len]);
          expect(Buffer.compare(dst.bytes(i * SLOT, len), src.bytes(i * SLOT, len))).toBe(0);
          checked++;
        }
        // And a CRC-32 of a slot on the other device, checked against the bytes.
        sums.bytes(0, SLOT).set(dst.bytes(0, SLOT));
        expect((await s.run({ op: "crc32", src: sums.iova, len: SLOT }, { timeout: 30_000 })).result).toBe(crc32(sums.bytes(0, SLOT)));
      }
      expect(checked).toBe(TOTAL);
    } finally {
      await q.release();
      await s.release();
    }
    expect(kernelProblems()).toEqual([]);
  }, 600_000);

  test("the rings lent in place: 1,500 copies written into ring slots, payloads checked, readable() and readableSync() woken by the fd's readiness", async () => {
    requireUacce();
    await using q: UQ = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", spin: 0, ...API });
    expect(q.interrupts).toBe(true);
    const N = 1500, LEN = 64, DEPTH = 16;
    const src = q.alloc(N * LEN), dst = q.alloc(N * LEN);
    fill(src.bytes(), 7);
    // Half with readable() (the reactor), half with readableSync() (this thread in poll(2)).
    for (const [sync, base] of [[false, 0], [true, N / 2]] as const) {
      using ring = q.lendRing();
      const { sleeps } = await lentRoundTrips(ring, N / 2, DEPTH, (i, k) => {
        const off = BigInt((base + k) * LEN);
        ring.put(i, { op: "copy", id: k, src: src.iova + off, dst: dst.iova + off, len: LEN });
      }, (c) => expect([ring.cq[c + 1]! & 0xffff, ring.cq[c + 2]]).toEqual([0, LEN]), sync); // status, result
      console.log(`lent ring, ${sync ? "readableSync" : "readable"}: ${N / 2} copies, ${sleeps} sleeps`);
    }
    expect(Buffer.compare(dst.bytes(), src.bytes())).toBe(0);
    expect((await q.run({ op: "nop" }, { timeout: 10_000 })).status).toBe(0); // the queue's own path again
    expect(kernelProblems()).toEqual([]);
  }, 600_000);
});

/**
 * The data path on the real kernel: the dummy module's completion interrupt (attach,
 * detach, moderation, no lost signal while re-arming), interrupt-driven waits and `run`
 * through the queue API, an idle wait's CPU time, wake-up latency against the C client,
 * and a release with requests in flight that never lets the device touch an unmapped IOVA.
 * Runs inside the rig.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import {
  type DummyCompletion,
  type DummyHandle,
  type DummyRequest,
  type LentRing,
  Queue,
  removeMdev,
  removeMdevAsync,
  requestQueue,
  wdDummyV1Driver,
} from "../../mod.ts";
import { Container } from "../../src/vfio/mod.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { lentRoundTrips } from "./lent_loop.ts";
import { createMdev, devCounter, MDEV_DIR, mdevCounter, reload, requireRig, run, runClient, start } from "./kmod_harness.ts";

type DQ = Queue<DummyRequest, DummyCompletion>;

function allMdevs(): string[] {
  return existsSync(MDEV_DIR) ? readdirSync(MDEV_DIR) : [];
}
function dmesgProblems(): string[] {
  return run("dmesg", []).stdout.split("\n").filter((l) => /WARNING|BUG|Oops|general protection|Call Trace/.test(l));
}
function counter(uuid: string, name: string): number {
  return Number(mdevCounter(uuid, name));
}
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** A wd_dummy_v1 queue opened through the VFIO layer by hand, for tests below the queue API. */
function openRaw(uuid: string) {
  const container = Container.open();
  const device = container.openDevice({ bus: "mdev", name: uuid });
  const h: DummyHandle = wdDummyV1Driver.open({
    alg: "copy",
    device: uuid,
    regionCount: device.info.numRegions,
    mapRegion: (i) => device.region(i).map(),
  });
  return { container, device, h };
}

beforeAll(() => {
  requireRig();
  reload({ devices: 2, instances: 4 });
  run("dmesg", ["-C"]);
});
afterAll(() => {
  for (const u of allMdevs()) removeMdev(u);
});

describe("the dummy module's completion interrupt", () => {
  test("GET_INFO reports one IRQ index; GET_IRQ_INFO describes it; SET_IRQS attaches, loops back and detaches", async () => {
    const uuid = createMdev("wd_dummy0", "copy");
    const { container, device } = openRaw(uuid);
    try {
      expect(device.info.numIrqs).toBe(L.WD_DUMMY_V1_NUM_IRQS);
      const info = device.irqInfo(L.WD_DUMMY_V1_IRQ_CQ);
      expect(info).toMatchObject({ index: 0, count: 1, eventfd: true });
      const irq = device.irq(L.WD_DUMMY_V1_IRQ_CQ);
      irq.enable();
      irq.trigger(); // DATA_NONE | ACTION_TRIGGER, count 1: loopback
      expect(await irq.wait({ timeout: 5000 })).toBe(1);
      expect(counter(uuid, "irqs")).toBe(1);
      irq.disable(); // DATA_NONE | ACTION_TRIGGER, count 0: detach
      irq.trigger(); // nothing attached: nothing signalled
      expect(counter(uuid, "irqs")).toBe(1);
      expect(() => irq.mask()).toThrow(/EINVAL/); // only ACTION_TRIGGER
      irq.enable();
      irq.trigger();
      expect(await irq.wait({ timeout: 5000 })).toBe(1);
      expect(counter(uuid, "irqs")).toBe(2);
    } finally {
      container.close();
      removeMdev(uuid);
    }
    expect(dmesgProblems()).toEqual([]);
  }, 60_000);

  test("a burst of completions costs one signal per arming; an arming with nothing pending stays quiet", async () => {
    const uuid = createMdev("wd_dummy0", "copy");
    const { container, device, h } = openRaw(uuid);
    try {
      const irq = device.irq(L.WD_DUMMY_V1_IRQ_CQ);
      irq.enable();
      wdDummyV1Driver.arm!(h);
      const nops = Array.from({ length: 200 }, (_, i) => ({ op: "nop" as const, id: i }));
      expect(wdDummyV1Driver.submit(h, nops)).toBe(200);
      expect(await irq.wait({ timeout: 10_000 })).toBe(1);
      // Let the device finish the burst, then read it all: still the one signal.
      const got: DummyCompletion[] = [];
      for (let i = 0; i < 2000 && got.length < 200; i++) {
        got.push(...wdDummyV1Driver.poll(h, 256));
        if (got.length < 200) await Bun.sleep(5);
      }
      expect(got.length).toBe(200);
      await Bun.sleep(50);
      expect(counter(uuid, "irqs")).toBe(1);
      // Armed with nothing unconsumed: no signal until a completion arrives.
      wdDummyV1Driver.arm!(h);
      await expect(irq.wait({ timeout: 100 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      wdDummyV1Driver.submit(h, [{ op: "nop", id: 1000 }]);
      expect(await irq.wait({ timeout: 10_000 })).toBe(1);
      expect(counter(uuid, "irqs")).toBe(2);
    } finally {
      container.close();
      removeMdev(uuid);
    }
  }, 60_000);

  test("no signal is lost when completions arrive while user space re-arms", async () => {
    const uuid = createMdev("wd_dummy0", "copy");
    const { container, device, h } = openRaw(uuid);
    let byRecheck = 0;
    let bySignal = 0;
    try {
      const irq = device.irq(L.WD_DUMMY_V1_IRQ_CQ);
      irq.enable();
      const efd = irq.eventfds[0]!;
      for (let i = 0; i < 1500; i++) {
        wdDummyV1Driver.submit(h, [{ op: "nop", id: i }]);
        // Vary the moment of arming against the device's completion.
        const spin = performance.now() + (i % 5) * 0.01;
        while (performance.now() < spin);
        let got = wdDummyV1Driver.poll(h, 1);
        while (got.length === 0) {
          wdDummyV1Driver.arm!(h);
          got = wdDummyV1Driver.poll(h, 1);
          if (got.length > 0) {
            byRecheck++;
            break;
          }
          // A lost signal would end here after 10 s.
          await efd.wait({ timeout: 10_000 });
          got = wdDummyV1Driver.poll(h, 1);
          if (got.length > 0) bySignal++;
        }
        expect(got[0]!.id).toBe(i);
      }
      efd.take(); // a spare signal for a completion the re-check already took
      console.log(`re-arming: ${byRecheck} completions found by the re-check after arming, ${bySignal} by the signal`);
      expect(byRecheck + bySignal).toBeGreaterThan(0);
    } finally {
      container.close();
      removeMdev(uuid);
    }
    expect(dmesgProblems()).toEqual([]);
  }, 300_000);
});

describe("the queue API on interrupts", () => {
  test("10,000 concurrent run calls, mixed sizes, payloads checked, interrupt-driven", async () => {
    const q: DQ = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
    try {
      expect(q.interrupts).toBe(true);
      const N = 10_000;
      const sizes = [1, 7, 64, 512, 1000, 4096, 333, 2048];
      const offsets: number[] = [];
      let total = 0;
      for (let i = 0; i < N; i++) {
        offsets.push(total);
        total += sizes[i % sizes.length]!;
      }
      const src = q.alloc(total);
      const dst = q.alloc(total);
      const s = src.bytes();
      for (let i = 0; i < total; i++) s[i] = (i * 31 + (i >>> 8)) & 0xff;
      const irqs0 = counter(q.mdev, "irqs");
      const t0 = performance.now();
      const done = await Promise.all(
        offsets.map((off, i) =>
          q.run({ op: "copy", src: src.iova + BigInt(off), dst: dst.iova + BigInt(off), len: sizes[i % sizes.length]! }, { timeout: 600_000 })
        ),
      );
      const secs = (performance.now() - t0) / 1000;
      expect(done.every((c, i) => c.status === 0 && c.result === sizes[i % sizes.length])).toBe(true);
      expect(Buffer.compare(dst.bytes(), src.bytes())).toBe(0);
      const irqs = counter(q.mdev, "irqs") - irqs0;
      console.log(`10,000 runs: ${secs.toFixed(2)} s, ${Math.round(N / secs)} runs/s, ${irqs} interrupts`);
      expect(irqs).toBeGreaterThan(0); // it slept on the interrupt at least once
    } finally {
      await q.release();
    }
    expect(dmesgProblems()).toEqual([]);
  }, 900_000);

  test("the rings lent in place: 3,000 copies written into ring slots, payloads checked, completions read in place, readable() and readableSync() woken by the interrupt", async () => {
    const q: DQ = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true, spin: 0 });
    try {
      expect(q.interrupts).toBe(true);
      const N = 3000, LEN = 512, DEPTH = 24;
      const src = q.alloc(N * LEN), dst = q.alloc(N * LEN);
      const s = src.bytes();
      for (let i = 0; i < s.length; i++) s[i] = (i * 7 + (i >>> 9)) & 0xff;
      const put = (ring: LentRing<DummyRequest>, base: number) => (i: number, k: number) => {
        const off = BigInt((base + k) * LEN);
        if (k % 2 === 0) ring.put(i, { op: "copy", id: k, src: src.iova + off, dst: dst.iova + off, len: LEN });
        else ring.sq.set([L.WD_DUMMY_V1_OP_COPY, k, Number(src.iova + off), 0, Number(dst.iova + off), 0, LEN, 0], ring.slot(i)); // by hand
      };
      // Half with readable() (the reactor), half with readableSync() (this thread in poll(2)).
      for (const [sync, base] of [[false, 0], [true, N / 2]] as const) {
        const irqs0 = counter(q.mdev, "irqs");
        using ring = q.lendRing();
        const { sleeps } = await lentRoundTrips(ring, N / 2, DEPTH, put(ring, base), (c) =>
          expect([ring.cq[c + L.WD_DUMMY_V1_CPL_OFF_STATUS / 4]! & 0xffff, ring.cq[c + L.WD_DUMMY_V1_CPL_OFF_RESULT / 4]]).toEqual([0, LEN]), sync);
        const irqs = counter(q.mdev, "irqs") - irqs0;
        console.log(`lent ring, ${sync ? "readableSync" : "readable"}: ${N / 2} copies, ${sleeps} sleeps, ${irqs} interrupts`);
        expect(irqs).toBeGreaterThan(0); // it slept on the interrupt
      }
      expect(Buffer.compare(dst.bytes(), src.bytes())).toBe(0);
      // Given back, the queue's own path works on the same ring.
      expect((await q.run({ op: "nop" }, { timeout: 10_000 })).status).toBe(0);
    } finally {
      await q.release();
    }
    expect(dmesgProblems()).toEqual([]);
  }, 600_000);

  test("an idle wait that times out after 1 s sleeps: it neither polls nor spins, with and without the interrupt", async () => {
    // The JS thread's own CPU time, from the scheduler in ns (/proc/thread-self/schedstat:
    // read on the JS thread, it names that thread), and the whole process's. The runtime's
    // helper threads (GC, JIT) run at their own times under TCG, tens of ms at random, so
    // the whole process gets a bound that only a spinning wait (about 1,000 ms) would break.
    const thread = (): number => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6;
    const cpuOf = async (f: () => Promise<unknown>): Promise<{ js: number; all: number; wall: number }> => {
      const t0 = performance.now(), j0 = thread(), c0 = process.cpuUsage();
      await f();
      const c = process.cpuUsage(c0);
      return { js: thread() - j0, all: (c.user + c.system) / 1000, wall: performance.now() - t0 };
    };
    const fmt = (m: { js: number; all: number }) => `${m.js.toFixed(1)}/${m.all.toFixed(1)}`;
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    // Under TCG even a bare 1 s timer costs Bun's JS thread 4-60 ms, in bursts (GC, JIT)
    // that only ever add. So each wait is measured against bare 1 s timers in the same
    // rounds, and the least of five rounds of each is compared. What the test holds is the
    // rule, not a speed: a wait on the interrupt sleeps. Here it costs the JS thread 7-30 ms
    // more than a timer (the reactor's hand-offs, translated by TCG; the figures are
    // printed), the timer fallback 110-140 ms more, a spin about 1,000 ms: the bound of 60
    // ms tells a sleeping wait from one that polls, on a noisy host too.
    for (const interrupts of [true, false]) {
      const q: DQ = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true, interrupts });
      try {
        expect(q.interrupts).toBe(interrupts);
        // Warm: the code paths are compiled before anything is measured.
        for (let i = 0; i < 20; i++) await q.run({ op: "nop" }, { timeout: 10_000 });
        for (let i = 0; i < 5; i++) await expect(q.wait({ timeout: 30 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
        const waits: { js: number; all: number; wall: number }[] = [];
        const timers: { js: number; all: number; wall: number }[] = [];
        for (let round = 0; round < 5; round++) {
          timers.push(await cpuOf(() => new Promise((r) => setTimeout(r, 1000))));
          let code: unknown;
          const m = await cpuOf(async () => (code = await q.wait({ timeout: 1000 }).catch((e: { code?: string }) => e.code)));
          expect(code).toBe("ETIMEDOUT");
          expect(m.wall).toBeGreaterThanOrEqual(999);
          waits.push(m);
        }
        const least = (xs: number[]) => Math.min(...xs);
        const wJs = least(waits.map((m) => m.js)), tJs = least(timers.map((m) => m.js));
        const line =
          `${interrupts ? "interrupt" : "polling"} wait ${waits.map(fmt).join(", ")} vs bare timer ${timers.map(fmt).join(", ")} ` +
            `(ms CPU, JS thread/process; least ${wJs.toFixed(1)} vs ${tJs.toFixed(1)}, medians ${median(waits.map((m) => m.js)).toFixed(1)} vs ` +
            `${median(timers.map((m) => m.js)).toFixed(1)} on the JS thread)`;
        console.log(`idle 1 s wait: ${line}`); // before the checks, so a failure shows its figures
        if (interrupts) expect(wJs).toBeLessThan(tJs + 60);
        else expect(wJs).toBeLessThan(tJs + 250); // the fallback also yields the CPU
        expect(median(waits.map((m) => m.all))).toBeLessThan(500); // a spinning wait would take about 1,000 ms
      } finally {
        await q.release();
      }
    }
  }, 240_000);

  test("wake-up latency: a resolved run against the C client's eventfd wake-up, same boot", async () => {
    const N = 1000;
    const uuid = createMdev("wd_dummy1", "copy");
    const c = runClient(["-m", "irq", "-n", String(N), uuid], 600_000);
    expect(c.status).toBe(0);
    removeMdev(uuid);
    const lines = [`C eventfd p50 ${c.f["p50_us"]} µs p99 ${c.f["p99_us"]} µs (woken ${c.f["woken"]} of ${N})`];
    for (const spin of [0, 20, 100, 300]) {
      const q: DQ = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true, spin });
      const lat: number[] = [];
      const irqs0 = counter(q.mdev, "irqs");
      let irqs = 0;
      try {
        for (let i = 0; i < 100; i++) await q.run({ op: "nop" }); // warm up the JIT
        const warm = counter(q.mdev, "irqs");
        for (let i = 0; i < N; i++) {
          const t0 = performance.now();
          await q.run({ op: "nop" });
          lat.push((performance.now() - t0) * 1000);
        }
        irqs = counter(q.mdev, "irqs") - warm;
        void irqs0;
      } finally {
        await q.release();
      }
      lines.push(`run() spin ${spin} µs: p50 ${quantile(lat, 0.5).toFixed(0)} µs p99 ${quantile(lat, 0.99).toFixed(0)} µs (${irqs} interrupts)`);
      expect(lat.length).toBe(N);
    }
    console.log(`doorbell to resolved wait, ${N} single NOPs in turn: ${lines.join("; ")}`);
    expect(Number(c.f["woken"])).toBeGreaterThan(0);
  }, 900_000);
});

describe("teardown with requests in flight", () => {
  test("release stops and closes the device before unmapping DMA: the device never touches an unmapped IOVA", async () => {
    for (let round = 0; round < 3; round++) {
      const q: DQ = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
      const dev = q.device;
      const faults0 = devCounter(dev, "iova_faults");
      const src = q.alloc(1 << 20);
      const dst = q.alloc(1 << 20);
      const reqs = Array.from({ length: 256 }, (_, i) => ({ op: "copy" as const, id: i, src: src.iova, dst: dst.iova, len: 1 << 20 }));
      expect(q.sendBatch(reqs)).toBe(256);
      await Bun.sleep(round * 5); // the device is mid-burst
      await q.release();
      expect(devCounter(dev, "iova_faults")).toBe(faults0);
    }
    expect(dmesgProblems()).toEqual([]);
  }, 300_000);

  test("the counter does see it when DMA is unmapped first (the order this release avoids)", async () => {
    const uuid = createMdev("wd_dummy1", "copy");
    const faults0 = devCounter("wd_dummy1", "iova_faults");
    const { container, h } = openRaw(uuid);
    try {
      const src = container.allocDma(1 << 20);
      const dst = container.allocDma(1 << 20);
      const reqs = Array.from({ length: 64 }, (_, i) => ({ op: "copy" as const, id: i, src: Number(src.iova), dst: Number(dst.iova), len: 1 << 20 }));
      expect(wdDummyV1Driver.submit(h, reqs)).toBe(64);
      await Bun.sleep(2);
      src.close(); // unmapped while the device still works through the ring
      dst.close();
      const got: DummyCompletion[] = [];
      for (let i = 0; i < 3000 && got.length < 64; i++) {
        got.push(...wdDummyV1Driver.poll(h, 64));
        await Bun.sleep(5);
      }
      expect(got.some((c) => c.statusName === "bad-iova")).toBe(true);
    } finally {
      container.close();
      removeMdev(uuid);
    }
    expect(devCounter("wd_dummy1", "iova_faults")).toBeGreaterThan(faults0);
  }, 120_000);
});

describe("mediated devices off the main thread", () => {
  test("another process holds the mdev: removal neither stops this process's timers nor hangs, and fails after its timeout naming the device", async () => {
    const uuid = createMdev("wd_dummy0", "copy");
    const file = "/tmp/wd-holder.ts";
    await Bun.write(
      file,
      `import * as wd from ${JSON.stringify(new URL("../../mod.ts", import.meta.url).pathname)};
const q = await wd.requestQueue({ alg: "copy", classes: ["warpdrive"] });
console.log("holding", q.mdev);
await new Promise(() => {});`,
    );
    const holder = start(process.execPath, [file]);
    try {
      expect(await holder.line(/^holding /, 120_000)).toBe(`holding ${uuid}`);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const t0 = performance.now();
      const err = await removeMdevAsync(uuid, { timeout: 1500 }).catch((e: unknown) => e);
      const ms = performance.now() - t0;
      clearInterval(timer);
      expect(err).toMatchObject({ code: "ETIMEDOUT" });
      expect((err as Error).message).toBe(
        `Cannot remove mediated device ${uuid}: no answer from the kernel in 1500 ms: another process holds mediated device ${uuid} open; the kernel removes it once that process closes it`,
      );
      console.log(`held removal: rejected after ${ms.toFixed(0)} ms; ${ticks} 10-ms ticks ran meanwhile`);
      expect(ms).toBeGreaterThanOrEqual(1495);
      expect(ms).toBeLessThan(30_000);
      expect(ticks).toBeGreaterThanOrEqual(Math.floor(ms / 10 / 4));
    } finally {
      holder.kill("SIGKILL");
      await holder.exited(60_000).catch(() => undefined);
    }
    // The holder gone, the kernel finishes the removal the worker thread started.
    for (let i = 0; i < 500 && allMdevs().includes(uuid); i++) await Bun.sleep(20);
    expect(allMdevs()).not.toContain(uuid);
    expect(dmesgProblems()).toEqual([]);
  }, 300_000);
});

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import type { DummyCompletion, DummyRequest } from "../../src/drivers/wd_dummy_v1.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import type { DeviceOpener, DevicePort } from "../../src/queue/port.ts";
import { Queue } from "../../src/queue/queue.ts";
import { QueueFullError, QueueReleasedError, RUN_ID_BASE } from "../../src/queue/types.ts";
import type { UserDriver } from "../../src/drivers/mod.ts";
import { type DummyHandle, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import { type InquiryStep, requestQueue } from "../../src/queue/request.ts";
import { NoAcceleratorError } from "../../src/select/select.ts";
import { SyscallError, TimeoutError } from "../../src/sys/error.ts";
import { EventFd } from "../../src/sys/eventfd.ts";
import { reactor } from "../../src/sys/reactor.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import { DmaBuffer } from "../../src/vfio/dma.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { FakeDummyDevice } from "./_fake_wd_dummy.ts";

const A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const C = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";

/**
 * Stand-in devices by UUID; a UUID in `busy` fails to open with EBUSY, as a held VFIO group
 * does. With `irq`, the device offers the completion interrupt (an eventfd the fake device
 * signals as the module does).
 */
function opener(busy: Set<string> = new Set(), log: string[] = [], irq = false): { open: DeviceOpener; devices: Map<string, FakeDummyDevice> } {
  const devices = new Map<string, FakeDummyDevice>();
  let nextIova = 0x100000;
  const open: DeviceOpener = (uuid) => {
    if (busy.has(uuid)) throw new SyscallError(16, { syscall: "open", path: `/dev/vfio/${uuid.slice(0, 2)}` });
    const dev = devices.get(uuid) ?? new FakeDummyDevice();
    devices.set(uuid, dev);
    log.push(`open ${uuid}`);
    const port: DevicePort = {
      regionCount: 2,
      mapRegion: (i) => (i === 0 ? dev.ctrl : dev.queue),
      allocDma(size: number): DmaBuffer {
        const mem = MappedMemory.anonymous(size);
        const iova = nextIova;
        nextIova += mem.size;
        dev.dma.set(iova, mem.bytes());
        return new DmaBuffer(mem, BigInt(iova), {
          ownsMemory: true,
          owner: { alive: () => true, unmap: () => void dev.dma.delete(iova), forget: () => log.push(`dma freed ${iova.toString(16)}`) },
        });
      },
      reset: () => void log.push(`reset ${uuid}`),
      closeDevice: () => {
        log.push(`close device ${uuid}`);
        dev.irq?.close();
      },
      close: () => void log.push(`close ${uuid}`),
    };
    if (irq) {
      port.interrupt = (index: number) => {
        log.push(`interrupt ${index}`);
        dev.irq = EventFd.create({ label: "fake completion interrupt" });
        return dev.irq;
      };
    }
    return port;
  };
  return { open, devices };
}

const tree2 = () =>
  makeSysfs({
    devices: [
      { id: "acc0", priority: 0, types: [{ name: "copy", mdevs: [A, B] }] },
      { id: "acc1", priority: 5, types: [{ name: "copy", mdevs: [C] }] },
    ],
  });

describe("requestQueue", () => {
  test("finds, opens and returns a queue on the best device's first free mdev, reporting each step", async () => {
    using tree = tree2();
    const steps: InquiryStep[] = [];
    const { open } = opener();
    await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", root: tree.root, opener: open, onStep: (s) => steps.push(s) });
    expect([q.device, q.type, q.mdev, q.deviceApi, q.created]).toEqual(["acc0", "wd_dummy-copy", A, "wd_dummy_v1", false]);
    expect(steps.map((s) => s.step)).toEqual(["enumerated", "selected", "opened"]);
  });

  test("a busy mdev (EBUSY) is skipped for the next one, then the next device", async () => {
    using tree = tree2();
    const steps: InquiryStep[] = [];
    const { open } = opener(new Set([A]));
    const q1 = await requestQueue({ alg: "copy", root: tree.root, opener: open, onStep: (s) => steps.push(s) });
    expect(q1.mdev).toBe(B);
    const busy = steps.find((s) => s.step === "busy");
    expect(busy).toMatchObject({ step: "busy", mdev: A });
    const { open: open2 } = opener(new Set([A, B]));
    const q2 = await requestQueue({ alg: "copy", root: tree.root, opener: open2 });
    expect([q2.device, q2.mdev]).toEqual(["acc1", C]);
    await q1.release();
    await q2.release();
  });

  test("when every mdev is busy the error lists each candidate and why", async () => {
    using tree = makeSysfs({
      devices: [
        { id: "acc0", types: [{ name: "copy", mdevs: [A, B] }] },
        { id: "acc1", priority: 200, types: [{ name: "copy", mdevs: [C] }] },
        { id: "acc2", types: [{ name: "copy", flags: 0x1 }] },
      ],
    });
    const { open } = opener(new Set([A, B]));
    let err: unknown;
    try {
      await requestQueue({ alg: "copy", flags: 0x2, root: tree.root, opener: open });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoAcceleratorError);
    const lines = (err as Error).message.split("\n");
    expect(lines[0]).toBe('No queue for "copy" could be opened: every candidate is taken or was rejected');
    expect(lines).toContain(
      `  acc0/wd_dummy-copy: mediated device ${A} is busy: another process holds its VFIO group; mediated device ${B} is busy: another process holds its VFIO group`,
    );
    expect(lines).toContain("  acc1/wd_dummy-copy: device disabled: priority 200 is outside [-100, 99]");
    expect(lines).toContain("  acc2/wd_dummy-copy: flags 0x1 lack 0x2 (asked for 0x2)");
  });

  test("with allowCreate, a mediated device is created, opened, and removed again on release", async () => {
    using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", availableInstances: 2 }] }] });
    const steps: InquiryStep[] = [];
    const { open } = opener();
    // The kernel would make the mdev appear on the bus; the fixture needs a hand.
    const opening: DeviceOpener = (uuid, o) => {
      fs.mkdirSync(path.join(tree.root, "bus", "mdev", "devices", uuid), { recursive: true });
      fs.writeFileSync(path.join(tree.root, "bus", "mdev", "devices", uuid, "remove"), "");
      return open(uuid, o);
    };
    const q = await requestQueue({ alg: "copy", root: tree.root, opener: opening, allowCreate: true, onStep: (s) => steps.push(s) });
    expect(q.created).toBe(true);
    const create = path.join(tree.root, "class", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy", "create");
    expect(fs.readFileSync(create, "utf8")).toBe(q.mdev);
    expect(steps.map((s) => s.step)).toEqual(["enumerated", "selected", "created", "opened"]);
    await q.release();
    expect(fs.readFileSync(path.join(tree.root, "bus", "mdev", "devices", q.mdev, "remove"), "utf8")).toBe("1");
  });

  test("a driver that refuses the device moves the inquiry on and closes what it opened", async () => {
    using tree = tree2();
    const log: string[] = [];
    const { open, devices } = opener(new Set(), log);
    const broken: DeviceOpener = (uuid, o) => {
      const port = open(uuid, o);
      if (uuid === A) devices.get(A)?.ctrl.write32(L.WD_DUMMY_V1_REG_MAGIC, 0);
      return port;
    };
    const q = await requestQueue({ alg: "copy", root: tree.root, opener: broken });
    expect(q.mdev).toBe(B);
    expect(log).toEqual([`open ${A}`, `close device ${A}`, `close ${A}`, `open ${B}`]);
    q.release();
  });

  test("an aborted signal stops the inquiry", async () => {
    using tree = tree2();
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await expect(requestQueue({ alg: "copy", root: tree.root, opener: opener().open, signal: ac.signal })).rejects.toThrow("stop");
  });
});

describe("Queue", () => {
  test("sends, completes and checks a payload through DMA buffers", async () => {
    using tree = tree2();
    const { open, devices } = opener();
    await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", root: tree.root, opener: open });
    const dev = devices.get(A) as FakeDummyDevice;
    const src = q.alloc(4096);
    const dst = q.alloc(4096);
    src.bytes().set(new TextEncoder().encode("warpdrive"));
    q.send({ op: "copy", id: 42, src: src.iova, dst: dst.iova, len: 9 });
    dev.step();
    const c = await q.wait({ timeout: 1000 });
    expect(c).toMatchObject({ id: 42, status: 0, result: 9 });
    expect(new TextDecoder().decode(dst.bytes(0, 9))).toBe("warpdrive");
  });

  test("send throws QueueFullError (EAGAIN) on a full ring; sendBatch says how many went", async () => {
    using tree = tree2();
    const { open, devices } = opener();
    await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", root: tree.root, opener: open });
    const nops = Array.from({ length: 300 }, (_, i) => ({ op: "nop" as const, id: i }));
    expect(q.sendBatch(nops)).toBe(256);
    let err: unknown;
    try {
      q.send({ op: "nop", id: 999 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).code).toBe("EAGAIN");
    devices.get(A)?.step();
    expect(q.poll(100).length).toBe(100);
    expect((await q.wait()).id).toBe(100);
    expect(q.poll().length).toBe(155);
  });

  test("encode and sendEncoded: requests checked once, sent by range, completed like any other", async () => {
    using tree = tree2();
    const { open, devices } = opener();
    await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", root: tree.root, opener: open });
    expect(q.descriptorWords).toBe(8);
    const buf = q.alloc(8192);
    buf.bytes(0, 5).set([1, 2, 3, 4, 5]);
    const src = Number(buf.iova);
    const words = q.encode([
      { op: "copy", id: 1, src, dst: src + 4096, len: 5 },
      { op: "nop", id: 2 },
      { op: "copy", id: 3, src: buf.iova, dst: buf.iova + 4100n, len: 5 },
    ]);
    expect(words.length).toBe(24);
    expect(q.sendEncoded(words, 1, 2)).toBe(2);
    expect(q.sendEncoded(words, 0, 1)).toBe(1);
    devices.get(A)?.step();
    expect(q.poll().map((c) => [c.id, c.statusName])).toEqual([[2, "ok"], [3, "ok"], [1, "ok"]]);
    // id 3 wrote 4100..4104 first, then id 1 wrote 4096..4100.
    expect([...buf.bytes(4096, 9)]).toEqual([1, 2, 3, 4, 5, 2, 3, 4, 5]);
    // Sent again as they are: the whole array by default.
    expect(q.sendEncoded(words)).toBe(3);
    devices.get(A)?.step();
    expect(q.poll().length).toBe(3);
  });

  test("encode names the request it refuses; sendEncoded refuses a range outside the array", async () => {
    using tree = tree2();
    await using q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", root: tree.root, opener: opener().open });
    expect(() => q.encode([{ op: "nop", id: 1 }, { op: "copy", id: 2, len: -1 }])).toThrow(/^request 1: Cannot queue a request with len -1: it must be a 32-bit unsigned integer/);
    const words = q.encode([{ op: "nop", id: 1 }, { op: "nop", id: 2 }]);
    expect(() => q.sendEncoded(words, 1, 2)).toThrow(/from descriptor 1, count 2: the array holds descriptors 0..1/);
    expect(() => q.sendEncoded(words, -1)).toThrow(RangeError);
    expect(() => q.sendEncoded(words, 0.5, 1)).toThrow(RangeError);
    expect(() => q.sendEncoded(words.subarray(0, 12))).toThrow(/whole 8-word descriptors \(got 12 words\)/);
    expect(() => q.sendEncoded([1, 2] as unknown as Uint32Array)).toThrow(TypeError);
    expect(q.sendEncoded(words, 2)).toBe(0); // an empty range is no request and no doorbell
    q.release();
    expect(() => q.sendEncoded(words)).toThrow(QueueReleasedError);
    expect(() => q.encode([])).toThrow(QueueReleasedError);
  });

  test("wait times out with ETIMEDOUT and honours an abort signal", async () => {
    using tree = tree2();
    await using q = await requestQueue({ alg: "copy", root: tree.root, opener: opener().open });
    let err: unknown;
    try {
      await q.wait({ timeout: 20 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as { code?: string }).code).toBe("ETIMEDOUT");
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("enough")), 20);
    await expect(q.wait({ signal: ac.signal })).rejects.toThrow("enough");
  });

  test("release stops the device, closes it, and only then unmaps DMA and closes group and container; idempotent; every use after it throws", async () => {
    using tree = tree2();
    const log: string[] = [];
    const { open } = opener(new Set(), log);
    const quiescing: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
      ...wdDummyV1Driver,
      deviceApi: "wd_dummy_v1_quiesce",
      quiesce: () => void log.push("driver quiesce"),
      close: () => void log.push("driver close"),
    };
    const port = open(A, { root: tree.root, devRoot: "/dev" });
    const q = new Queue<DummyRequest, DummyCompletion>({ device: "acc0", type: "t", alg: "copy", deviceApi: "x", mdev: A, created: false }, { driver: quiescing, port });
    const buf = q.alloc(100);
    const buf2 = q.alloc(100);
    const view = buf.bytes();
    const pending = q.run({ op: "nop" });
    await Promise.resolve();
    await q.release();
    await q.release();
    await expect(pending).rejects.toBeInstanceOf(QueueReleasedError);
    expect(log).toEqual([`open ${A}`, "driver quiesce", `reset ${A}`, "driver close", `close device ${A}`, "dma freed 101000", "dma freed 100000", `close ${A}`]);
    expect(buf2.closed).toBe(true);
    expect(q.released).toBe(true);
    expect(buf.closed).toBe(true);
    expect(() => buf.bytes()).toThrow(/closed/);
    expect(view.length).toBe(0); // detached: a stale view cannot reach freed memory
    for (const f of [() => q.send({ op: "nop", id: 1 }), () => q.poll(), () => q.alloc(10), () => q.sendBatch([])]) {
      expect(f).toThrow(QueueReleasedError);
    }
    await expect(q.wait()).rejects.toBeInstanceOf(QueueReleasedError);
  });

  test("a queue released while a wait is pending rejects that wait", async () => {
    using tree = tree2();
    const q = await requestQueue({ alg: "copy", root: tree.root, opener: opener().open });
    const w = q.wait();
    setTimeout(() => q.release(), 10);
    await expect(w).rejects.toBeInstanceOf(QueueReleasedError);
  });
});

/** A queue on a stand-in device, its driver wrapped to count doorbells (submit and submitEncoded calls that sent). */
function runQueue(options: { irq?: boolean; backlog?: number; spin?: number; beforeArm?: (dev: FakeDummyDevice) => void } = {}) {
  const log: string[] = [];
  const { open, devices } = opener(new Set(), log, options.irq ?? false);
  const port = open(A, { root: "/nonexistent", devRoot: "/dev" });
  const dev = devices.get(A) as FakeDummyDevice;
  const doorbells: number[] = [];
  const counting: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
    ...wdDummyV1Driver,
    submit(h, reqs) {
      const n = wdDummyV1Driver.submit(h, reqs);
      if (n > 0) doorbells.push(n);
      return n;
    },
    submitEncoded(h, words, first, count) {
      const n = wdDummyV1Driver.submitEncoded!(h, words, first, count);
      if (n > 0) doorbells.push(n);
      return n;
    },
    arm(h) {
      options.beforeArm?.(dev);
      wdDummyV1Driver.arm!(h);
    },
  };
  const q = new Queue<DummyRequest, DummyCompletion>(
    { device: "acc0", type: "wd_dummy-copy", alg: "copy", deviceApi: "wd_dummy_v1", mdev: A, created: false },
    { driver: counting, port, tuning: { backlog: options.backlog, spin: options.spin } },
  );
  return { q, dev, doorbells, log };
}

/** Steps the stand-in device from a timer until `stop` says so. */
function serve(dev: FakeDummyDevice, everyMs = 1): () => void {
  const t = setInterval(() => dev.step(), everyMs);
  return () => clearInterval(t);
}

describe("Queue.run", () => {
  test("run resolves with its own completion; ids are assigned from 2^31; calls of one turn share one doorbell", async () => {
    const { q, dev, doorbells } = runQueue();
    await using _ = q;
    const buf = q.alloc(8192);
    buf.bytes(0, 4).set([9, 8, 7, 6]);
    const stop = serve(dev);
    try {
      const runs = [
        q.run({ op: "copy", src: buf.iova, dst: buf.iova + 4096n, len: 4 }),
        ...Array.from({ length: 9 }, () => q.run({ op: "nop" })),
      ];
      const done = await Promise.all(runs);
      expect(doorbells).toEqual([10]);
      expect(done.map((c) => c.id)).toEqual(Array.from({ length: 10 }, (_, i) => RUN_ID_BASE + i));
      expect(done[0]).toMatchObject({ status: 0, result: 4 });
      expect([...buf.bytes(4096, 4)]).toEqual([9, 8, 7, 6]);
    } finally {
      stop();
    }
  });

  test("run and send live together: run's completions never reach wait/poll, the others never reach run", async () => {
    const { q, dev } = runQueue();
    await using _ = q;
    const r = q.run({ op: "nop" });
    q.send({ op: "nop", id: 5 });
    await Promise.resolve();
    q.send({ op: "nop", id: 6 });
    dev.step();
    expect((await r).id).toBe(RUN_ID_BASE);
    expect(q.poll().map((c) => c.id)).toEqual([5, 6]);
  });

  test("poll returns only the ring's own completions while runs, waits and a run backlog share the queue", async () => {
    const { q, dev, doorbells } = runQueue();
    await using _ = q;
    // A run on the ring: poll settles it and returns only the sent request's completion.
    const r = q.run({ op: "nop" });
    q.send({ op: "nop", id: 5 });
    await Promise.resolve();
    dev.step();
    expect(q.poll().map((c) => c.id)).toEqual([5]);
    expect((await r).id).toBe(RUN_ID_BASE);
    // A wait()er is served before poll, which gets the rest.
    const w = q.wait({ timeout: 2000 });
    q.sendBatch([{ op: "nop", id: 6 }, { op: "nop", id: 7 }]);
    dev.step();
    expect(q.poll().map((c) => c.id)).toEqual([7]);
    expect((await w).id).toBe(6);
    // A run waiting for room behind a full ring goes out in the poll that makes room.
    expect(q.sendBatch(Array.from({ length: 256 }, (_, i) => ({ op: "nop" as const, id: i })))).toBe(256);
    const late = q.run({ op: "nop" });
    await Promise.resolve();
    const rung = doorbells.length;
    dev.step();
    expect(q.poll().map((c) => c.id)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(doorbells.length).toBe(rung + 1);
    dev.step();
    expect((await late).id).toBe(RUN_ID_BASE + 1);
    // Nothing else on the queue: poll takes the ring's completions straight, up to max.
    q.sendBatch([{ op: "nop", id: 8 }, { op: "nop", id: 9 }, { op: "nop", id: 10 }]);
    dev.step();
    expect(q.poll(2).map((c) => c.id)).toEqual([8, 9]);
    expect(q.poll().map((c) => c.id)).toEqual([10]);
    expect(q.poll()).toEqual([]);
  });

  test("a full ring keeps runs waiting in order; past the backlog run rejects with QueueFullError", async () => {
    const { q, dev, doorbells } = runQueue({ backlog: 356 });
    await using _ = q;
    const runs = Array.from({ length: 356 }, () => q.run({ op: "nop" }));
    const over = q.run({ op: "nop" });
    await expect(over).rejects.toBeInstanceOf(QueueFullError);
    await expect(over).rejects.toMatchObject({ code: "EAGAIN" });
    expect(doorbells).toEqual([256]);
    // 100 wait for room now: the bound holds room for 256 more.
    const more = Array.from({ length: 256 }, () => q.run({ op: "nop" }));
    await expect(q.run({ op: "nop" })).rejects.toBeInstanceOf(QueueFullError);
    runs.push(...more);
    const stop = serve(dev);
    try {
      const done = await Promise.all(runs);
      expect(done.map((c) => c.sqIndex)).toEqual(Array.from({ length: 612 }, (_, i) => i));
      expect(done.map((c) => c.id - RUN_ID_BASE)).toEqual(Array.from({ length: 612 }, (_, i) => i));
    } finally {
      stop();
    }
  });

  test("runs waiting behind a ring full of sent requests go out once the queue reaps; those completions stay for poll", async () => {
    const { q, dev } = runQueue();
    await using _ = q;
    expect(q.sendBatch(Array.from({ length: 256 }, (_, i) => ({ op: "nop" as const, id: i })))).toBe(256);
    const r = q.run({ op: "nop" });
    const stop = serve(dev);
    try {
      expect((await r).id).toBe(RUN_ID_BASE);
    } finally {
      stop();
    }
    expect(q.poll().map((c) => c.id)).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  test("a wait made while the reaper is finishing is still served (the next completion after each wait)", async () => {
    // The device answers on every third look at the ring: the wait's own look misses, the
    // reaper's first look misses, its spin finds it, and the reaper is done just as the
    // caller's next wait comes in.
    const { open, devices } = opener();
    const port = open(A, { root: "/nonexistent", devRoot: "/dev" });
    const dev = devices.get(A) as FakeDummyDevice;
    let looks = 0;
    const slow: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
      ...wdDummyV1Driver,
      poll(h, max) {
        if (++looks % 3 === 0) dev.step();
        return wdDummyV1Driver.poll(h, max);
      },
      pollEncoded(h, words, at, max) {
        if (++looks % 3 === 0) dev.step();
        return wdDummyV1Driver.pollEncoded!(h, words, at, max);
      },
    };
    await using q = new Queue<DummyRequest, DummyCompletion>(
      { device: "acc0", type: "t", alg: "copy", deviceApi: "wd_dummy_v1", mdev: A, created: false },
      { driver: slow, port, tuning: { spin: 1000 } },
    );
    for (let i = 0; i < 30; i++) {
      looks = 0;
      q.send({ op: "nop", id: i });
      expect((await q.wait({ timeout: 2000 })).id).toBe(i);
    }
  });

  test("a completion the reaper's spin finds settles its run before the reaper looks at the ring again", async () => {
    const { open, devices } = opener();
    const port = open(A, { root: "/nonexistent", devRoot: "/dev" });
    const dev = devices.get(A) as FakeDummyDevice;
    // The device answers on the second look after the run went out: the reaper's first
    // look misses, its spin finds it.
    let looks = 0, answerAt = -1, foundAt = -1;
    const look = (): void => {
      looks++;
      if (looks === answerAt) foundAt = (dev.step(), looks);
    };
    const driver: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
      ...wdDummyV1Driver,
      submitEncoded(h, words, first, count) {
        answerAt = looks + 2;
        return wdDummyV1Driver.submitEncoded!(h, words, first, count);
      },
      poll: (h, max) => (look(), wdDummyV1Driver.poll(h, max)),
      pollEncoded: (h, words, at, max) => (look(), wdDummyV1Driver.pollEncoded!(h, words, at, max)),
    };
    await using q = new Queue<DummyRequest, DummyCompletion>(
      { device: "acc0", type: "t", alg: "copy", deviceApi: "wd_dummy_v1", mdev: A, created: false },
      { driver, port, tuning: { spin: 20_000 } },
    );
    // A wait()er keeps the reaper going after the run has settled.
    const waiting = q.wait({ timeout: 5000 }).catch((e: unknown) => e);
    let settledAt = -1;
    await q.run({ op: "nop" }).then(() => (settledAt = looks));
    expect(foundAt).toBeGreaterThan(0);
    expect(settledAt).toBe(foundAt);
    q.send({ op: "nop", id: 1 });
    dev.step();
    expect(await waiting).toMatchObject({ id: 1 });
  });

  test("runs that keep completing at once never starve the event loop: a timer still fires", async () => {
    const { open, devices } = opener();
    const port = open(A, { root: "/nonexistent", devRoot: "/dev" });
    const dev = devices.get(A) as FakeDummyDevice;
    // A device that has answered everything whenever the queue looks.
    const driver: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = {
      ...wdDummyV1Driver,
      pollEncoded: (h, words, at, max) => (dev.step(), wdDummyV1Driver.pollEncoded!(h, words, at, max)),
    };
    await using q = new Queue<DummyRequest, DummyCompletion>(
      { device: "acc0", type: "t", alg: "copy", deviceApi: "wd_dummy_v1", mdev: A, created: false },
      { driver, port, tuning: { spin: 0 } },
    );
    let stop = false, done = 0;
    setTimeout(() => (stop = true), 5);
    // The lanes give up after 2 s by the clock (which needs no turn of the loop), so a
    // starving reaper fails here at once instead of hanging the run.
    const t0 = performance.now();
    const lane = async (): Promise<void> => {
      while (!stop && performance.now() - t0 < 2000) {
        await q.run({ op: "nop" });
        done++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    expect(stop).toBe(true);
    expect(done).toBeGreaterThan(0);
  });

  test("a malformed request rejects with TypeError/RangeError and sends nothing", async () => {
    const { q, dev, doorbells } = runQueue();
    await using _ = q;
    await expect(q.run({ op: "copy", src: 0, dst: 4096, len: -1 })).rejects.toThrow(/len -1/);
    await expect(q.run({ op: "bogus" as "nop" })).rejects.toBeInstanceOf(RangeError);
    await expect(q.run(null as unknown as { op: "nop" })).rejects.toBeInstanceOf(TypeError);
    await expect(q.run({ op: "nop", id: 3 } as unknown as { op: "nop" })).rejects.toThrow(/run assigns ids/);
    await expect(q.run({ op: "nop" }, { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    await Promise.resolve();
    expect(doorbells).toEqual([]);
    expect(dev.step()).toBe(0);
  });

  test("an aborted signal or a zero timeout rejects at once; a timed-out run's late completion is dropped", async () => {
    const { q, dev, doorbells } = runQueue();
    await using _ = q;
    const reason = new Error("no");
    await expect(q.run({ op: "nop" }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(doorbells).toEqual([]);
    const late = await q.run({ op: "nop" }, { timeout: 10 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ name: "TimeoutError", code: "ETIMEDOUT" });
    expect(doorbells).toEqual([1]); // it reached the device
    dev.step();
    expect(q.poll()).toEqual([]); // its completion went nowhere
    // A zero timeout is already over: it rejects at once and sends nothing.
    await expect(q.run({ op: "nop" }, { timeout: 0 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
    await expect(q.wait({ timeout: 0 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
    await Promise.resolve();
    expect(doorbells).toEqual([1]);
    const ac = new AbortController();
    const queued = q.run({ op: "nop" }, { signal: ac.signal });
    ac.abort(reason); // still in the backlog: never sent
    await expect(queued).rejects.toBe(reason);
    await Promise.resolve();
    expect(doorbells).toEqual([1]);
  });

  test("release rejects every pending run, sent or waiting, with QueueReleasedError, and leaves no fd or wait behind", async () => {
    const fds = () => fs.readdirSync("/proc/self/fd").length;
    {
      // The reactor's own epoll fd and eventfd are made once per process, on first use.
      using e = EventFd.create();
      await e.wait({ timeout: 1 }).catch(() => undefined);
    }
    const before = fds();
    const { q } = runQueue({ backlog: 1000, irq: true });
    const runs = Array.from({ length: 300 }, () => q.run({ op: "nop" }).catch((e: unknown) => e));
    await Promise.resolve();
    await q.release();
    for (const r of await Promise.all(runs)) expect(r).toBeInstanceOf(QueueReleasedError);
    await expect(q.run({ op: "nop" })).rejects.toBeInstanceOf(QueueReleasedError);
    expect(reactor().stats).toMatchObject({ fds: 0, waits: 0 });
    expect(fds()).toBe(before);
  });

  test("with the completion interrupt, a wait arms it and sleeps until the device signals; a burst costs one signal", async () => {
    const { q, dev, log } = runQueue({ irq: true });
    await using _ = q;
    expect(q.interrupts).toBe(true);
    expect(log).toContain("interrupt 0");
    const runs = Array.from({ length: 50 }, () => q.run({ op: "nop" }));
    await new Promise((r) => setTimeout(r, 20));
    expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_IRQ_ARM)).toBeGreaterThan(0); // armed, asleep
    dev.step(); // 50 completions, one signal
    const done = await Promise.all(runs);
    expect(done.length).toBe(50);
    expect(dev.irqs).toBe(1);
    const w = q.wait({ timeout: 5000 });
    setTimeout(() => (q.send({ op: "nop", id: 1 }), dev.step()), 10);
    expect((await w).id).toBe(1);
    expect(dev.irqs).toBe(2);
  });

  test("a completion that lands between the empty reap and the arming is reaped, not waited for: no signal comes for it", async () => {
    let race = true;
    // The device completes the request just before the wait arms the interrupt: it was not
    // armed then, so it raises nothing, and only a reap after arming can find the completion.
    const { q, dev } = runQueue({ irq: true, spin: 0, beforeArm: (d) => race && ((race = false), d.step()) });
    await using _ = q;
    q.send({ op: "nop", id: 9 });
    const c = await q.wait({ timeout: 3000 }); // without the re-check this sleeps until the timeout
    expect(c.id).toBe(9);
    expect(race).toBe(false);
    expect(dev.irqs).toBe(0);
  });

  test("completions() yields ring completions as they come and ends on release", async () => {
    const { q, dev } = runQueue({ irq: true });
    const got: number[] = [];
    const reader = (async () => {
      for await (const c of q.completions()) got.push(c.id);
    })();
    const until = async (n: number) => {
      for (let i = 0; i < 1000 && got.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    };
    q.sendBatch([{ op: "nop", id: 1 }, { op: "nop", id: 2 }]);
    dev.step();
    await until(2);
    q.send({ op: "nop", id: 3 });
    dev.step();
    await until(3);
    await q.release();
    await reader;
    expect(got).toEqual([1, 2, 3]);
  });

  test("without an interrupt an idle wait polls with timers and yields the CPU", async () => {
    const { q } = runQueue({ spin: 0 });
    await using _ = q;
    expect(q.interrupts).toBe(false);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await expect(q.wait({ timeout: 500 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const ms = (cpu.user + cpu.system) / 1000;
    console.log(`polling fallback: ${ms.toFixed(1)} ms CPU over a ${wall.toFixed(0)} ms idle wait`);
    // Generous for a shared 2-core machine: a spinning wait would take about all of it.
    expect(ms).toBeLessThan(wall / 2);
  });
});

describe("Queue's completions as words", () => {
  test("a run that completes stops its timer and abort listener: nothing of it reaches later runs", async () => {
    const { q, dev } = runQueue();
    await using _ = q;
    const ac = new AbortController();
    const first = q.run({ op: "nop" }, { timeout: 30, signal: ac.signal });
    await Promise.resolve();
    dev.step();
    expect((await first).id).toBe(RUN_ID_BASE);
    const later = q.run({ op: "nop" });
    await new Promise((r) => setTimeout(r, 60)); // past the first run's timeout
    ac.abort(new Error("late abort"));
    dev.step();
    expect((await later).id).toBe(RUN_ID_BASE + 1);
  });

  test("pollEncoded copies completions as the device wrote them into reused words; poll and wait see the same ones as objects", async () => {
    const { q, dev } = runQueue();
    await using _ = q;
    expect(q.completionWords).toBe(4);
    q.sendBatch(Array.from({ length: 5 }, (_, i) => ({ op: "nop" as const, id: 10 + i })));
    dev.step();
    const words = new Uint32Array(3 * 4 + 2); // room for 3 whole completions
    expect(q.pollEncoded(words)).toBe(3);
    expect([0, 1, 2].map((i) => [words[i * 4], words[i * 4 + 1]! >>> 16, words[i * 4 + 3]])).toEqual([[10, 3, 0], [11, 3, 1], [12, 3, 2]]);
    expect(q.poll().map((c) => c.id)).toEqual([13, 14]);
    const r = q.run({ op: "nop" });
    q.send({ op: "nop", id: 20 });
    await Promise.resolve();
    dev.step();
    expect(q.pollEncoded(words, 1)).toBe(1); // run's completion settles its promise, never reaches pollEncoded
    expect(words[0]).toBe(20);
    expect((await r).id).toBe(RUN_ID_BASE);
    expect(() => q.pollEncoded(new Uint32Array(3))).toThrow(RangeError);
    await q.release();
    expect(() => q.pollEncoded(words)).toThrow(QueueReleasedError);
  });

  test("a driver without the encoded path still runs, sends and polls request and completion objects", async () => {
    const { open, devices } = opener();
    const port = open(A, { root: "/nonexistent", devRoot: "/dev" });
    const dev = devices.get(A) as FakeDummyDevice;
    const { submit, poll, open: openQ, close } = wdDummyV1Driver;
    const plain: UserDriver<DummyHandle, DummyRequest, DummyCompletion> = { deviceApi: "plain", description: "objects only", open: openQ, submit, poll, close };
    await using q = new Queue<DummyRequest, DummyCompletion>(
      { device: "acc0", type: "t", alg: "copy", deviceApi: "plain", mdev: A, created: false },
      { driver: plain, port },
    );
    expect(q.completionWords).toBeUndefined();
    expect(() => q.pollEncoded(new Uint32Array(16))).toThrow(/has none/);
    const stop = serve(dev);
    try {
      const runs = [q.run({ op: "nop" }), q.run({ op: "nop" })];
      await expect(q.run({ op: "bogus" as "nop" })).rejects.toBeInstanceOf(RangeError);
      expect((await Promise.all(runs)).map((c) => c.id)).toEqual([RUN_ID_BASE, RUN_ID_BASE + 1]);
      q.send({ op: "nop", id: 3 });
      expect(await q.wait({ timeout: 2000 })).toMatchObject({ id: 3 });
    } finally {
      stop();
    }
  });
});

import { describe, expect, test } from "bun:test";
import * as L from "../../src/drivers/uacce_dummy_v1_layout.ts";
import { registerDriver, unregisterDriver, type UserDriver } from "../../src/drivers/mod.ts";
import type { UacceDummyCompletion, UacceDummyRequest } from "../../src/drivers/uacce_dummy_v1.ts";
import { createUacceOpener } from "../../src/queue/port_uacce.ts";
import { type InquiryStep, requestQueue } from "../../src/queue/request.ts";
import { QueueReleasedError } from "../../src/queue/types.ts";
import { NoAcceleratorError } from "../../src/select/select.ts";
import { address } from "../../src/sys/_ffi.ts";
import { reactor } from "../../src/sys/reactor.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { errnoValue } from "../../src/sys/errno.ts";
import { SyscallError } from "../../src/sys/error.ts";
import { DeviceRemovedError, UacceQueueFd, type UacceSyscalls } from "../../src/uacce/queue_fd.ts";
import { crc32 } from "./_fake_wd_dummy.ts";
import { FakeUacceDevice, fakeSyscalls } from "./_fake_uacce_dummy.ts";

const DUS = L.UACCE_DUMMY_V1_DUS_SIZE;

/** A sysfs tree of UACCE devices and fake devices of the same names. */
function rig(specs: readonly { id: string; algorithms?: string[]; flags?: number; api?: string; algos?: number; queues?: number }[], livenessMs = 5_000) {
  const tree = makeSysfs({
    uacce: specs.map((s) => ({ id: s.id, algorithms: s.algorithms ?? ["copy", "crc32"], flags: s.flags ?? 0, api: s.api, regionDusSize: DUS, availableInstances: s.queues ?? 2 })),
  });
  const devices = specs.map((s) => new FakeUacceDevice(s.id, s.algos, s.queues));
  const uacceOpener = createUacceOpener({ syscalls: fakeSyscalls(devices), livenessMs });
  return { tree, devices, options: { root: tree.root, uacceOpener } };
}

/** Steps the fake devices from a timer until the returned function is called. */
function serve(devices: readonly FakeUacceDevice[], everyMs = 1): () => void {
  const t = setInterval(() => devices.forEach((d) => d.step()), everyMs);
  return () => clearInterval(t);
}

describe("a queue over UACCE", () => {
  test("opens the device, starts the queue, maps each region once; release is PUT_Q, then munmap, then close", async () => {
    const { tree, devices: [dev], options } = rig([{ id: "uacce_dummy-0" }]);
    using _ = tree;
    const steps: InquiryStep[] = [];
    const q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...options, onStep: (s) => steps.push(s) });
    expect([q.class, q.device, q.type, q.deviceApi, q.mdev]).toEqual(["uacce", "uacce_dummy-0", "copy", "uacce_dummy_v1", "/dev/uacce_dummy-0"]);
    expect(steps.map((s) => s.step)).toEqual(["enumerated", "selected", "opened"]);
    // The arena lives in the DUS region the driver mapped already: the same mapping.
    const src = q.alloc(4096);
    const dst = q.alloc(4096);
    expect(src.iova).toBe(BigInt(L.UACCE_DUMMY_V1_ARENA_OFFSET));
    expect(dst.iova).toBe(BigInt(L.UACCE_DUMMY_V1_ARENA_OFFSET + 4096));
    expect(dev!.log).toEqual(["open", "ioctl UACCE_CMD_START_Q", "mmap 0", "mmap 1"]);
    dev!.log.length = 0;
    await q.release();
    expect(dev!.log).toEqual(["ioctl UACCE_CMD_PUT_Q", "munmap 0", "munmap 1", "close"]);
    expect(src.closed && dst.closed).toBe(true);
    expect(dev!.inUse).toBe(0);
    expect(() => q.alloc(64)).toThrow(QueueReleasedError);
  });

  test("copy and crc32 run through arena buffers with checked results; a range outside the arena gets bad-addr", async () => {
    const { tree, devices, options } = rig([{ id: "uacce_dummy-0" }]);
    using _ = tree;
    const stop = serve(devices);
    try {
      await using q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...options });
      await using c = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "crc32", ...options });
      const src = q.alloc(100), dst = q.alloc(100);
      const payload = new TextEncoder().encode("the quick brown fox jumps over the lazy dog");
      src.bytes().set(payload);
      const done = await q.run({ op: "copy", src: src.iova, dst: dst.iova, len: payload.length }, { timeout: 5000 });
      expect([done.statusName, done.result]).toEqual(["ok", payload.length]);
      expect([...dst.bytes(0, payload.length)]).toEqual([...payload]);
      const b = c.alloc(9);
      b.bytes().set(new TextEncoder().encode("123456789"));
      const sum = await c.run({ op: "crc32", src: b.iova, len: 9 }, { timeout: 5000 });
      expect(sum.result).toBe(0xcbf43926);
      expect(sum.result).toBe(crc32(b.bytes(0, 9)));
      const bad = await q.run({ op: "copy", src: 0, dst: dst.iova, len: 16 }, { timeout: 5000 });
      expect(bad.statusName).toBe("bad-addr");
      // The arena refuses what does not fit, naming it.
      expect(() => q.alloc(L.UACCE_DUMMY_V1_ARENA_SIZE)).toThrow(/no free span is large enough/);
    } finally {
      stop();
    }
  });

  test("a full device (EBUSY) moves the inquiry to the next device; when none opens the error lists each and why", async () => {
    const { tree, devices, options } = rig([{ id: "uacce_dummy-0", queues: 1 }, { id: "uacce_dummy-1", queues: 1 }]);
    using _ = tree;
    const steps: InquiryStep[] = [];
    const a = await requestQueue({ alg: "copy", ...options });
    const b = await requestQueue({ alg: "copy", ...options, onStep: (s) => steps.push(s) });
    expect([a.device, b.device]).toEqual(["uacce_dummy-0", "uacce_dummy-1"]);
    expect(steps.find((s) => s.step === "busy")).toMatchObject({ device: "uacce_dummy-0", reason: "UACCE device /dev/uacce_dummy-0 is full: every queue is taken (open: EBUSY)" });
    const err = await requestQueue({ alg: "copy", ...options }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoAcceleratorError);
    const lines = (err as Error).message.split("\n");
    expect(lines).toContain("  uacce_dummy-0/copy: UACCE device /dev/uacce_dummy-0 is full: every queue is taken (open: EBUSY)");
    expect(lines).toContain("  uacce_dummy-1/copy: UACCE device /dev/uacce_dummy-1 is full: every queue is taken (open: EBUSY)");
    expect(((err as Error).cause as AggregateError).errors.map((e: { code?: string }) => e.code)).toEqual(["EBUSY", "EBUSY"]);
    // The instance comes back at release: the device opens again.
    await a.release();
    await using c = await requestQueue({ alg: "copy", ...options });
    expect(c.device).toBe("uacce_dummy-0");
    await b.release();
    expect(devices.map((d) => d.opens)).toEqual([2, 1]);
  });

  test("a driver removed under an open queue: every use refuses with DeviceRemovedError naming the device, the mappings are dropped untouched, a pending wait rejects", async () => {
    const { tree, devices: [dev], options } = rig([{ id: "uacce_dummy-0" }], 30);
    using _ = tree;
    const q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...options });
    const buf = q.alloc(64);
    const view = buf.bytes();
    const pending = q.wait().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    dev!.removed = true;
    const waited = await pending; // the liveness check ends the sleep on a silent fd
    expect(waited).toBeInstanceOf(DeviceRemovedError);
    expect((waited as DeviceRemovedError).message).toBe(
      'Cannot wait for completions: the driver of UACCE device "uacce_dummy-0" was removed (UACCE_CMD_START_Q answered ENXIO; ' +
        `${tree.root}/class/uacce/uacce_dummy-0 no longer exists); release the queue and request a new one`,
    );
    expect((waited as DeviceRemovedError).code).toBe("ENXIO");
    // Unmapped at once, without a touch: views stop working instead of faulting.
    expect(dev!.last.maps.every((m) => m!.closed)).toBe(true);
    expect(view.length).toBe(0);
    const before = dev!.log.length;
    for (const f of [() => q.send({ op: "nop", id: 1 }), () => q.poll(), () => q.sendBatch([{ op: "nop", id: 2 }])]) {
      expect(f).toThrow(DeviceRemovedError);
    }
    await expect(q.run({ op: "nop" })).rejects.toBeInstanceOf(DeviceRemovedError);
    await expect(q.wait()).rejects.toBeInstanceOf(DeviceRemovedError);
    expect(dev!.log.slice(before)).toEqual([]); // known gone: not even an ioctl
    await q.release(); // no PUT_Q on a removed device; the fd is still closed
    expect(dev!.log.slice(before)).toEqual(["close"]);
  });

  test("a removal found by a send (ENXIO from the check) refuses it before the ring is touched", async () => {
    const { tree, devices: [dev], options } = rig([{ id: "uacce_dummy-0" }]);
    using _ = tree;
    await using q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", ...options });
    q.send({ op: "nop", id: 1 });
    dev!.removed = true;
    expect(() => q.send({ op: "nop", id: 2 })).toThrow(/^Cannot send requests: the driver of UACCE device "uacce_dummy-0" was removed/);
    expect(dev!.last.maps.every((m) => m!.closed)).toBe(true);
  });

  test("a wait sleeps on the fd's readiness in the reactor and wakes when the device signals it", async () => {
    const { tree, devices: [dev], options } = rig([{ id: "uacce_dummy-0" }]);
    using _ = tree;
    const q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", spin: 0, ...options });
    expect(q.interrupts).toBe(true);
    dev!.signals = false; // the device completes without making the fd readable
    q.send({ op: "nop", id: 7 });
    let got: UacceDummyCompletion | undefined;
    const w = q.wait({ timeout: 10_000 }).then((c) => (got = c));
    await new Promise((r) => setTimeout(r, 20));
    expect(reactor().stats.waits).toBe(1); // asleep on the fd
    expect(dev!.step()).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBeUndefined(); // completed on the ring, but nothing woke the waiter
    dev!.last.sync(); // readable now
    await w;
    expect(got).toMatchObject({ id: 7, status: 0 });
    await q.release();
    expect(reactor().stats).toMatchObject({ fds: 0, waits: 0 });
  });

  test("the rings lent in place: copies through arena buffers, readable() woken by the fd's readiness, and a removal refuses every move", async () => {
    const { tree, devices: [dev], options } = rig([{ id: "uacce_dummy-0" }]);
    using _ = tree;
    const q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({ alg: "copy", spin: 0, ...options });
    const buf = q.alloc(4 * 64);
    buf.bytes(0, 64 * 2).set(Array.from({ length: 128 }, (_, i) => (i * 13) & 0xff));
    const ring = q.lendRing();
    expect(ring.reserve(2)).toBe(2);
    ring.put(0, { op: "copy", id: 10, src: buf.iova, dst: buf.iova + 128n, len: 64 });
    ring.put(1, { op: "copy", id: 11, src: buf.iova + 64n, dst: buf.iova + 192n, len: 64 });
    ring.publish(2);
    const woken = ring.readable({ timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    expect(reactor().stats.waits).toBe(1); // asleep on the fd
    expect(dev!.step()).toBe(2); // the device completes both and makes the fd readable
    expect(await woken).toBe(2);
    const ids = [0, 1].map((i) => ring.cq[ring.completion(i)]);
    expect(ids).toEqual([10, 11]);
    ring.consume(2);
    expect([...buf.bytes(128, 128)]).toEqual([...buf.bytes(0, 128)]);
    // readableSync() blocks the thread in poll(2) on the same fd, checking the driver is there.
    const t0 = performance.now();
    expect(() => ring.readableSync({ timeout: 40 })).toThrow(/^Cannot wait for completions on the ring of .*: timed out after 40 ms$/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(39);
    dev!.removed = true;
    expect(() => ring.reserve(1)).toThrow(DeviceRemovedError);
    expect(() => ring.ready()).toThrow(DeviceRemovedError);
    ring.giveBack();
    await q.release();
    expect(reactor().stats).toMatchObject({ fds: 0, waits: 0 });
  });

  test("SVA: memory is the process's own, handed to the device by address, and the driver is told", async () => {
    const seen: { sva?: boolean; sent: bigint[] } = { sent: [] };
    const svaDriver: UserDriver<null, { addr: bigint }, never> = {
      deviceApi: "sva_test_v1",
      description: "records what an SVA device would be handed",
      open: (ctx) => ((seen.sva = ctx.sva), null),
      submit: (_h, reqs) => (reqs.forEach((r) => seen.sent.push(r.addr)), reqs.length),
      poll: () => [],
      close: () => {},
    };
    registerDriver(svaDriver);
    try {
      const { tree, devices: [dev], options } = rig([{ id: "sva_dev-0", api: "sva_test_v1", flags: 1 }]);
      using _ = tree;
      const q = await requestQueue<{ addr: bigint }, never>({ alg: "copy", ...options });
      const a = q.alloc(5000), b = q.alloc(100);
      expect(seen.sva).toBe(true);
      expect([a.size, b.size]).toEqual([8192, 4096]);
      expect(address(a.bytes())).toBe(a.iova);
      expect(address(b.bytes())).toBe(b.iova);
      q.send({ addr: a.iova });
      expect(seen.sent).toEqual([a.iova]);
      dev!.log.length = 0;
      await q.release();
      expect(dev!.log).toEqual(["ioctl UACCE_CMD_PUT_Q", "close"]); // no region was mapped
      expect(a.closed && b.closed).toBe(true);
    } finally {
      unregisterDriver("sva_test_v1");
    }
  });

  test("a driver written as a class keeps its methods and fields behind the removal check", async () => {
    class Nop {
      readonly deviceApi = "class_test_v1";
      readonly description = "a driver object made by a class";
      sent = 0;
      open(): null {
        return null;
      }
      submit(_h: null, reqs: readonly { id: number }[]): number {
        this.sent += reqs.length;
        return reqs.length;
      }
      poll(): never[] {
        return [];
      }
      bufferArena(): { region: number; offset: number; size: number } {
        return { region: 1, offset: 4096, size: 8192 };
      }
      close(): void {}
    }
    const driver = new Nop();
    registerDriver(driver);
    try {
      const { tree, devices: [dev], options } = rig([{ id: "cls-0", api: "class_test_v1" }]);
      using _ = tree;
      await using q = await requestQueue<{ id: number }, never>({ alg: "copy", ...options });
      q.send({ id: 1 });
      expect(driver.sent).toBe(1);
      expect(q.alloc(100).iova).toBe(4096n); // the class's bufferArena
      dev!.removed = true;
      expect(() => q.send({ id: 2 })).toThrow(DeviceRemovedError);
      expect(driver.sent).toBe(1);
    } finally {
      unregisterDriver("class_test_v1");
    }
  });

  test("the uacce_dummy_v1 driver refuses an SVA device and a device without the algorithm; the inquiry gives them back and moves on", async () => {
    const { tree, devices, options } = rig([
      { id: "uacce_dummy-0", algorithms: ["crc32"], flags: 1 },
      { id: "uacce_dummy-1", algorithms: ["crc32"], algos: L.UACCE_DUMMY_V1_ALGO_COPY },
      { id: "uacce_dummy-2", algorithms: ["crc32"], algos: L.UACCE_DUMMY_V1_ALGO_CRC32 },
    ]);
    using _ = tree;
    await using q = await requestQueue({ alg: "crc32", ...options });
    expect(q.device).toBe("uacce_dummy-2");
    expect(devices[0]!.log).toEqual(["open", "ioctl UACCE_CMD_START_Q", "ioctl UACCE_CMD_PUT_Q", "close"]);
    expect(devices[1]!.log).toEqual(["open", "ioctl UACCE_CMD_START_Q", "mmap 0", "mmap 1", "ioctl UACCE_CMD_PUT_Q", "munmap 0", "munmap 1", "close"]);
    expect(devices.map((d) => d.inUse)).toEqual([0, 0, 1]);
  });
});

describe("the removal check of a UACCE queue fd", () => {
  /** The fake's system calls, counting the throwing ioctl and the errno-returning probe; `answer` overrides the probe. */
  function counted(dev: FakeUacceDevice) {
    const base = fakeSyscalls([dev]);
    const n = { ioctl: 0, probe: 0 };
    let answer: number | undefined;
    const sys: UacceSyscalls = {
      ...base,
      ioctl: (...a) => (n.ioctl++, base.ioctl(...a)),
      ioctlErrno: (fd, request) => (n.probe++, answer ?? base.ioctlErrno(fd, request)),
    };
    return { sys, n, answer: (e: number | undefined) => (answer = e) };
  }

  test("a live queue answers the probe with EINVAL: one errno-returning call per check, the throwing ioctl is not used", () => {
    const dev = new FakeUacceDevice("uacce_dummy-0");
    const { sys, n } = counted(dev);
    using q = UacceQueueFd.open("uacce_dummy-0", { regionSizes: [L.UACCE_DUMMY_V1_MMIO_SIZE, DUS], syscalls: sys });
    expect(n).toEqual({ ioctl: 1, probe: 0 }); // START_Q of the open
    for (let i = 0; i < 100; i++) q.check("send requests");
    expect(n).toEqual({ ioctl: 1, probe: 100 });
    expect(q.removed).toBe(false);
  });

  test("ENXIO marks the device removed; any other errno is a SyscallError naming the ioctl and the device, and the queue stays usable", () => {
    const dev = new FakeUacceDevice("uacce_dummy-0");
    const { sys, answer } = counted(dev);
    using q = UacceQueueFd.open("uacce_dummy-0", { regionSizes: [L.UACCE_DUMMY_V1_MMIO_SIZE, DUS], syscalls: sys });
    answer(errnoValue("EBADF"));
    let thrown: unknown;
    try {
      q.check("poll for completions");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SyscallError);
    expect((thrown as SyscallError).code).toBe("EBADF");
    expect((thrown as SyscallError).message).toStartWith('Cannot ioctl UACCE_CMD_START_Q on "/dev/uacce_dummy-0": EBADF');
    expect(q.removed).toBe(false);
    answer(undefined);
    q.check("poll for completions");
    const mmio = q.map(L.UACCE_DUMMY_V1_QFRT_MMIO);
    answer(errnoValue("ENXIO"));
    expect(() => q.check("poll for completions")).toThrow(DeviceRemovedError);
    expect([q.removed, mmio.closed]).toEqual([true, true]);
  });
});

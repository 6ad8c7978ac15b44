// EventFd.wait(): resolves when another thread or another process writes the eventfd,
// times out, aborts, and rejects when closed; the wait sleeps in the reactor, off the JS thread.
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { Worker } from "node:worker_threads";
import { ClosedError, EventFd } from "../../src/sys/mod.ts";

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("EventFd", () => {
  test("wait() resolves when another process writes the eventfd", async () => {
    using efd = EventFd.create({ label: "test eventfd" });
    const pending = efd.wait({ timeout: 20_000 });
    const child = spawn(
      process.execPath,
      ["-e", "require('node:fs').writeSync(3, new Uint8Array(new BigUint64Array([3n]).buffer))"],
      { stdio: ["ignore", "inherit", "inherit", efd.fd] },
    );
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(await pending).toBe(3);
  }, 30_000);

  test("wait() resolves when another thread writes the eventfd", async () => {
    using efd = EventFd.create();
    const pending = efd.wait({ timeout: 20_000 });
    const worker = new Worker(
      `const { workerData } = require("node:worker_threads");
       require("node:fs").writeSync(workerData, new Uint8Array(new BigUint64Array([5n]).buffer));`,
      { eval: true, workerData: efd.fd },
    );
    await new Promise((resolve) => worker.on("exit", resolve));
    expect(await pending).toBe(5);
  }, 30_000);

  test("the JS thread keeps running while wait() sleeps in the reactor", async () => {
    using efd = EventFd.create();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    setTimeout(() => efd.signal(), 100);
    expect(await efd.wait({ timeout: 5000 })).toBe(1);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });

  test("an event pending before wait() resolves at once; take() returns 0 when none is", async () => {
    using efd = EventFd.create();
    expect(efd.take()).toBe(0);
    efd.signal(2);
    efd.signal(1);
    expect(await efd.wait()).toBe(3);
    expect(efd.take()).toBe(0);
  });

  test("wait() rejects with TimeoutError after the timeout", async () => {
    using efd = EventFd.create({ label: "quiet eventfd" });
    const t0 = performance.now();
    await expect(efd.wait({ timeout: 80 })).rejects.toMatchObject({ name: "TimeoutError" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  test("wait() rejects with the abort reason, also when already aborted", async () => {
    using efd = EventFd.create();
    const ac = new AbortController();
    const pending = efd.wait({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error("no longer needed")), 30);
    await expect(pending).rejects.toThrow("no longer needed");
    await expect(efd.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });

  test("close() during wait() rejects it with ClosedError and releases every fd", async () => {
    const before = fdCount();
    const efd = EventFd.create({ label: "closing eventfd" });
    const a = efd.wait();
    const b = efd.wait({ timeout: 10_000 });
    setTimeout(() => efd.close(), 20);
    const [ra, rb] = await Promise.allSettled([a, b]);
    expect(ra.status === "rejected" && ra.reason).toBeInstanceOf(ClosedError);
    expect(rb.status === "rejected" && (rb.reason as Error).message).toBe("Cannot wait: closing eventfd is closed");
    expect(fdCount()).toBe(before);
  });

  test("use after close throws ClosedError; close twice is a no-op", async () => {
    const efd = EventFd.create();
    efd.close();
    efd.close();
    expect(efd.closed).toBe(true);
    expect(() => efd.signal()).toThrow(ClosedError);
    expect(() => efd.take()).toThrow(ClosedError);
    expect(() => efd.fd).toThrow(ClosedError);
    await expect(efd.wait()).rejects.toBeInstanceOf(ClosedError);
  });

  test("many waits leave no fds behind", async () => {
    using efd = EventFd.create();
    const before = fdCount();
    for (let i = 0; i < 50; i++) {
      setTimeout(() => efd.signal(), 0);
      await efd.wait({ timeout: 5000 });
    }
    expect(fdCount()).toBe(before);
  });

  test("a negative or NaN timeout is a RangeError", async () => {
    using efd = EventFd.create();
    await expect(efd.wait({ timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(efd.wait({ timeout: Number.NaN })).rejects.toBeInstanceOf(RangeError);
  });
});

// pollNow(): poll(2) with a timeout of 0 on one descriptor reports what its file operation
// says right now, never waits, and refuses bad arguments with a clear error. pollBlocking()
// and EventFd.waitSync() block the thread until the descriptor is ready or the time passes.
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import process from "node:process";
import { ClosedError, EventFd, POLLIN, POLLNVAL, pollBlocking, pollNow, TimeoutError } from "../../src/sys/mod.ts";

/** A process that writes `n` to the eventfd after `ms` (while this thread may be blocked). */
function writeLater(efd: EventFd, n: number, ms: number): void {
  spawn(process.execPath, ["-e", `setTimeout(() => require("node:fs").writeSync(3, new Uint8Array(new BigUint64Array([${n}n]).buffer)), ${ms})`], {
    stdio: ["ignore", "inherit", "inherit", efd.fd],
  });
}

describe("pollNow", () => {
  test("an eventfd is not readable at 0 and readable once signalled, until read", () => {
    using efd = EventFd.create();
    expect(pollNow(efd.fd, POLLIN)).toBe(0);
    efd.signal(2n);
    expect(pollNow(efd.fd, POLLIN)).toBe(POLLIN);
    expect(efd.take()).toBe(2);
    expect(pollNow(efd.fd, POLLIN)).toBe(0);
  });

  test("a descriptor that is not open reports POLLNVAL", () => {
    const efd = EventFd.create();
    const fd = efd.fd;
    efd.close();
    expect(pollNow(fd, POLLIN)).toBe(POLLNVAL);
  });

  test("bad arguments are refused before any call", () => {
    expect(() => pollNow(-1, POLLIN)).toThrow(/Cannot poll file descriptor "-1"/);
    expect(() => pollNow(0, 0x10000)).toThrow(/16-bit mask/);
  });
});

describe("pollBlocking and EventFd.waitSync", () => {
  test("pollBlocking returns 0 once the time passed, POLLIN at once when ready, and when another process makes it ready meanwhile", () => {
    using efd = EventFd.create();
    let t0 = performance.now();
    expect(pollBlocking(efd.fd, POLLIN, 30)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    efd.signal();
    expect(pollBlocking(efd.fd, POLLIN, 5000)).toBe(POLLIN);
    expect(efd.take()).toBe(1);
    writeLater(efd, 4, 50);
    t0 = performance.now();
    expect(pollBlocking(efd.fd, POLLIN, 20_000)).toBe(POLLIN);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    expect(efd.take()).toBe(4);
    expect(() => pollBlocking(efd.fd, POLLIN, -1)).toThrow(/timeout -1: it must be a non-negative number/);
    expect(() => pollBlocking(-1, POLLIN, 1)).toThrow(/Cannot poll file descriptor "-1"/);
  }, 30_000);

  test("waitSync takes a pending count at once, sleeps until another process writes one, times out, and refuses once closed", () => {
    const efd = EventFd.create({ label: "test eventfd" });
    efd.signal(2n);
    expect(efd.waitSync({ timeout: 0 })).toBe(2);
    const t0 = performance.now();
    expect(() => efd.waitSync({ timeout: 30 })).toThrow(TimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    writeLater(efd, 3, 50);
    expect(efd.waitSync()).toBe(3);
    expect(() => efd.waitSync({ timeout: Number.NaN })).toThrow(RangeError);
    efd.close();
    expect(() => efd.waitSync()).toThrow(ClosedError);
  }, 30_000);
});

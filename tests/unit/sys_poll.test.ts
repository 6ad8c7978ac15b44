// pollNow(): poll(2) with a timeout of 0 on one descriptor reports what its file operation
// says right now, never waits, and refuses bad arguments with a clear error.
import { describe, expect, test } from "bun:test";
import { EventFd, POLLIN, POLLNVAL, pollNow } from "../../src/sys/mod.ts";

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

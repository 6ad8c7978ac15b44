// Fd: an owned descriptor that refuses use after close, closes once, and reads/writes
// through pread/pwrite at offsets. Also: only src/sys/_ffi.ts imports koffi.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  _IOR,
  ClosedError,
  errnoValue,
  EventFd,
  Fd,
  ftruncate,
  ioctl,
  IOCTL_LAYOUT,
  IOCTL_LAYOUT_GENERIC,
  ioctlErrno,
  memfdCreate,
  MFD_CLOEXEC,
  O_RDONLY,
  SyscallError,
} from "../../src/sys/mod.ts";

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("Fd", () => {
  test("pwrite then pread at an offset round-trips the bytes", () => {
    using fd = Fd.adopt(memfdCreate("t", MFD_CLOEXEC), { label: "memfd" });
    ftruncate(fd.fd, 4096);
    expect(fd.pwrite(new Uint8Array([1, 2, 3, 4]), 100)).toBe(4);
    const back = new Uint8Array(6);
    expect(fd.pread(back, 99)).toBe(6);
    expect([...back]).toEqual([0, 1, 2, 3, 4, 0]);
  });

  test("close() releases the descriptor and a second close() is a no-op", () => {
    const before = fdCount();
    const fd = Fd.open("/dev/null", O_RDONLY, { label: "null device" });
    expect(fdCount()).toBe(before + 1);
    fd.close();
    expect(fdCount()).toBe(before);
    expect(fd.closed).toBe(true);
    fd.close();
    expect(fdCount()).toBe(before);
  });

  test("every call after close throws ClosedError naming the fd, nothing reaches libc", () => {
    const fd = Fd.open("/dev/null", O_RDONLY, { label: "null device" });
    fd.close();
    expect(() => fd.fd).toThrow(ClosedError);
    expect(() => fd.ioctl(0x5401, undefined, "TCGETS")).toThrow("Cannot TCGETS: null device is closed");
    expect(() => fd.read(new Uint8Array(1))).toThrow(ClosedError);
    expect(() => fd.write(new Uint8Array(1))).toThrow(ClosedError);
    expect(() => fd.pread(new Uint8Array(1), 0)).toThrow(ClosedError);
    expect(() => fd.pwrite(new Uint8Array(1), 0)).toThrow(ClosedError);
  });

  test("Symbol.dispose closes (using)", () => {
    const before = fdCount();
    {
      using fd = Fd.open("/dev/null", O_RDONLY);
      expect(fd.fd).toBeGreaterThan(2);
    }
    expect(fdCount()).toBe(before);
  });

  test("adopt refuses a negative or fractional descriptor", () => {
    expect(() => Fd.adopt(-1, { label: "x" })).toThrow(RangeError);
    expect(() => Fd.adopt(1.5, { label: "x" })).toThrow(RangeError);
  });
});

// FIONREAD succeeds on a regular file (bytes from the offset to the end); TCGETS fails on
// anything that is not a terminal. Numbers of <asm-generic/ioctls.h>, else the 'f'/'t' forms.
const GENERIC = IOCTL_LAYOUT === IOCTL_LAYOUT_GENERIC;
const FIONREAD = GENERIC ? 0x541b : _IOR("f", 127, 4);
const TCGETS = GENERIC ? 0x5401 : _IOR("t", 19, 44);

describe("ioctlErrno", () => {
  test("returns 0 when the call succeeds, and the kernel used the argument", () => {
    using fd = Fd.adopt(memfdCreate("fionread", MFD_CLOEXEC), { label: "memfd" });
    ftruncate(fd.fd, 1234);
    const n = new Int32Array([-1]);
    expect(ioctlErrno(fd.fd, FIONREAD, n)).toBe(0);
    expect(n[0]).toBe(1234);
  });

  test("returns the errno: ENOTTY for a request the file does not know, EBADF for a closed fd", () => {
    const ENOTTY = errnoValue("ENOTTY"), EBADF = errnoValue("EBADF");
    using mem = Fd.adopt(memfdCreate("tcgets", MFD_CLOEXEC), { label: "memfd" });
    using efd = EventFd.create();
    expect(ioctlErrno(mem.fd, TCGETS, new Uint8Array(64))).toBe(ENOTTY);
    expect(ioctlErrno(efd.fd, TCGETS)).toBe(ENOTTY);
    const closed = Fd.adopt(memfdCreate("closed", MFD_CLOEXEC), { label: "memfd" });
    const stale = closed.fd;
    closed.close();
    expect(ioctlErrno(stale, FIONREAD, new Int32Array(1))).toBe(EBADF);
    expect(ioctlErrno(-1, TCGETS, 0)).toBe(EBADF);
    // Each answer is the call's own errno, not one left over from the call before.
    const n = new Int32Array(1);
    const answers = [ioctlErrno(mem.fd, TCGETS), ioctlErrno(stale, TCGETS), ioctlErrno(mem.fd, FIONREAD, n), ioctlErrno(mem.fd, TCGETS)];
    expect(answers).toEqual([ENOTTY, EBADF, 0, ENOTTY]);
  });

  test("agrees with the throwing ioctl, which names the request and the errno", () => {
    using mem = Fd.adopt(memfdCreate("agree", MFD_CLOEXEC), { label: "memfd" });
    let thrown: unknown;
    try {
      ioctl(mem.fd, TCGETS, undefined, { op: "TCGETS" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SyscallError);
    expect((thrown as SyscallError).errno).toBe(ioctlErrno(mem.fd, TCGETS));
  });
});

describe("layering", () => {
  test("only src/sys/_ffi.ts imports koffi", () => {
    const src = fileURLToPath(new URL("../../src", import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && /from\s+["']koffi["']|require\(["']koffi["']\)/.test(readFileSync(p, "utf8"))) offenders.push(p.slice(src.length + 1));
      }
    };
    walk(src);
    expect(offenders).toEqual(["sys/_ffi.ts"]);
  });
});

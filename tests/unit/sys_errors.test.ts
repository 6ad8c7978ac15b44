// SyscallError and errno mapping: real failing calls produce the errno, its name, the
// syscall, the operation and the path; ClosedError and closeAll report clearly.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClosedError, closeAll, errnoName, errnoValue, Fd, ioctl, O_RDONLY, SyscallError } from "../../src/sys/mod.ts";

describe("errno mapping", () => {
  test("errnoName and errnoValue translate both ways, aliases prefer the common name", () => {
    expect(errnoName(2)).toBe("ENOENT");
    expect(errnoName(9)).toBe("EBADF");
    expect(errnoName(16)).toBe("EBUSY");
    expect(errnoName(errnoValue("EWOULDBLOCK"))).toBe("EAGAIN");
    expect(errnoName(errnoValue("ENOTSUP"))).toBe("EOPNOTSUPP");
    expect(errnoName(9999)).toBe("E9999");
    expect(() => errnoValue("ENOPE")).toThrow(RangeError);
  });

  test("open of a missing file throws ENOENT with the path in the message", () => {
    const dir = mkdtempSync(join(tmpdir(), "wd-sys-"));
    const path = join(dir, "missing");
    try {
      let err: unknown;
      try {
        Fd.open(path, O_RDONLY);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SyscallError);
      const e = err as SyscallError;
      expect(e.errno).toBe(errnoValue("ENOENT"));
      expect(e.code).toBe("ENOENT");
      expect(e.syscall).toBe("open");
      expect(e.path).toBe(path);
      expect(e.message).toBe(`Cannot open "${path}": ENOENT (No such file or directory)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("ioctl on a closed descriptor number throws EBADF naming the operation", () => {
    let err: unknown;
    try {
      ioctl(1_000_000, 0x3b64, undefined, { op: "VFIO_GET_API_VERSION", path: "/dev/vfio/vfio" });
    } catch (e) {
      err = e;
    }
    const e = err as SyscallError;
    expect(e).toBeInstanceOf(SyscallError);
    expect([e.code, e.errno, e.syscall, e.op, e.path]).toEqual(["EBADF", 9, "ioctl", "VFIO_GET_API_VERSION", "/dev/vfio/vfio"]);
    expect(e.message).toBe('Cannot ioctl VFIO_GET_API_VERSION on "/dev/vfio/vfio": EBADF (Bad file descriptor)');
  });

  test("an ioctl the file does not know is ENOTTY, with a buffer, an int or a string argument", () => {
    using fd = Fd.open("/dev/null", O_RDONLY);
    for (const arg of [new Uint8Array(8), 3, "name"]) {
      expect(() => fd.ioctl(0x3b6a, arg, "VFIO_GROUP_GET_DEVICE_FD")).toThrow(/ENOTTY/);
    }
  });

  test("withHint keeps errno, code, syscall, op and path, appends the advice and links the cause", () => {
    const base = new SyscallError(16, { syscall: "open", path: "/dev/vfio/12" });
    const hinted = base.withHint("another process holds VFIO group 12");
    expect([hinted.errno, hinted.code, hinted.syscall, hinted.op, hinted.path]).toEqual([16, "EBUSY", "open", undefined, "/dev/vfio/12"]);
    expect(hinted.message).toBe('Cannot open "/dev/vfio/12": EBUSY (Device or resource busy): another process holds VFIO group 12');
    expect(hinted.cause).toBe(base);
    expect(hinted).toBeInstanceOf(Error);
  });
});

describe("ClosedError and closeAll", () => {
  test("ClosedError names the action and the resource", () => {
    const e = new ClosedError("read device info", 'VFIO device "x"');
    expect(e.message).toBe('Cannot read device info: VFIO device "x" is closed');
    expect(e.code).toBe("ERR_CLOSED");
    expect(e.name).toBe("ClosedError");
  });

  test("closeAll runs every step past failures and reports one error as itself", () => {
    const ran: number[] = [];
    const boom = new Error("second");
    expect(() => closeAll("thing", [() => ran.push(1), () => { ran.push(2); throw boom; }, () => ran.push(3)])).toThrow(boom);
    expect(ran).toEqual([1, 2, 3]);
  });

  test("closeAll reports several failures in one AggregateError", () => {
    let err: unknown;
    try {
      closeAll("thing", [() => { throw new Error("a"); }, () => {}, () => { throw new Error("b"); }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toEqual(["a", "b"]);
    expect((err as Error).message).toBe("Cannot close thing cleanly: 2 steps failed");
  });
});

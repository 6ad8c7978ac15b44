// MappedMemory and the mmap wrappers: checked 8/16/32/64-bit accessors (bounds, alignment,
// liveness), views detached on close, read-only mappings, mmap failure as the all-ones
// pointer, and the RLIMIT_MEMLOCK check.
import { describe, expect, test } from "bun:test";
import {
  ClosedError,
  Fd,
  ftruncate,
  MAP_FAILED,
  MAP_SHARED,
  MappedMemory,
  memfdCreate,
  memlockStatus,
  MFD_CLOEXEC,
  mmap,
  pageSize,
  PROT_READ,
  SyscallError,
} from "../../src/sys/mod.ts";

describe("mmap", () => {
  test("failure is detected from the all-ones pointer and reported with errno", () => {
    expect(MAP_FAILED).toBe(0xffffffffffffffffn);
    let err: unknown;
    try {
      mmap(null, 4096, PROT_READ, MAP_SHARED, -1, 0, { op: "test mapping" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe("EBADF");
    expect((err as SyscallError).syscall).toBe("mmap");
  });

  test("anonymous memory is page aligned, rounded up to pages and zeroed", () => {
    using mem = MappedMemory.anonymous(100);
    expect(mem.size).toBe(pageSize());
    expect(mem.address % BigInt(pageSize())).toBe(0n);
    expect(mem.bytes().every((b) => b === 0)).toBe(true);
  });
});

describe("MappedMemory accessors", () => {
  test("8/16/32/64-bit writes read back, in host byte order, at the right offsets", () => {
    using mem = MappedMemory.anonymous(4096);
    mem.write8(1, 0xab);
    mem.write16(2, 0xbeef);
    mem.write32(4, 0xdeadbeef);
    mem.write64(8, 0x0123456789abcdefn);
    expect([mem.read8(1), mem.read16(2), mem.read32(4), mem.read64(8)]).toEqual([0xab, 0xbeef, 0xdeadbeef, 0x0123456789abcdefn]);
    expect([...mem.bytes(0, 16)]).toEqual([0, 0xab, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
    mem.write64(16, 5);
    expect(mem.read64(16)).toBe(5n);
  });

  test("out-of-bounds accesses throw RangeError naming the mapping's extent", () => {
    using mem = MappedMemory.anonymous(4096, { label: "test memory" });
    expect(() => mem.read32(4096)).toThrow(RangeError);
    expect(() => mem.read32(4094)).toThrow(/outside test memory \(0x0\.\.0x1000\)/);
    expect(() => mem.write64(4092, 1n)).toThrow(RangeError);
    expect(() => mem.read8(-1)).toThrow(RangeError);
    expect(() => mem.read8(1.5)).toThrow(RangeError);
    expect(() => mem.copyIn(4090, new Uint8Array(10))).toThrow(RangeError);
    expect(() => mem.bytes(4000, 200)).toThrow(RangeError);
  });

  test("misaligned accesses throw RangeError", () => {
    using mem = MappedMemory.anonymous(4096);
    expect(() => mem.read16(1)).toThrow(/2-byte aligned/);
    expect(() => mem.write32(2, 0)).toThrow(/4-byte aligned/);
    expect(() => mem.read64(4)).toThrow(/8-byte aligned/);
    expect(() => mem.view(Uint32Array, 2, 1)).toThrow(/aligned/);
  });

  test("after close every accessor throws ClosedError and views are detached", () => {
    const mem = MappedMemory.anonymous(4096, { label: "test memory" });
    const u8 = mem.bytes();
    const u32 = mem.view(Uint32Array, 0, 4);
    u32[0] = 7;
    mem.close();
    expect(() => mem.read32(0)).toThrow(ClosedError);
    expect(() => mem.write32(0, 1)).toThrow("Cannot write 32-bit value at offset \"0x0\": test memory is closed");
    expect(() => mem.bytes()).toThrow(ClosedError);
    expect(() => mem.address).toThrow(ClosedError);
    expect(() => mem.copyOut(0, 4)).toThrow(ClosedError);
    expect(mem.closed).toBe(true);
    // Bun and Deno detach: stale views are empty instead of pointing at unmapped memory.
    expect(u8.length).toBe(0);
    expect(u32.length).toBe(0);
    expect(u32[0]).toBeUndefined();
    mem.close(); // second close: no-op
  });

  test("a read-only mapping refuses writes and views (a store would fault)", () => {
    using fd = Fd.adopt(memfdCreate("ro", MFD_CLOEXEC), { label: "memfd" });
    ftruncate(fd.fd, 4096);
    fd.pwrite(new Uint8Array([0x11, 0x22, 0x33, 0x44]), 0);
    using mem = MappedMemory.mapFile(fd.fd, 0, 4096, { prot: PROT_READ, label: "read-only map" });
    expect(mem.read32(0)).toBe(0x44332211);
    expect(() => mem.write32(0, 1)).toThrow(TypeError);
    expect(() => mem.bytes()).toThrow(TypeError);
    expect([...mem.copyOut(0, 2)]).toEqual([0x11, 0x22]);
  });

  test("mapFile refuses a misaligned offset or a non-positive size", () => {
    using fd = Fd.adopt(memfdCreate("x", MFD_CLOEXEC), { label: "memfd" });
    ftruncate(fd.fd, 8192);
    expect(() => MappedMemory.mapFile(fd.fd, 100, 4096)).toThrow(/page-aligned/);
    expect(() => MappedMemory.mapFile(fd.fd, 0, 0)).toThrow(RangeError);
    expect(() => MappedMemory.anonymous(0)).toThrow(RangeError);
  });

  test("a file mapping is shared with the file (writes visible through pread)", () => {
    using fd = Fd.adopt(memfdCreate("shared", MFD_CLOEXEC), { label: "memfd" });
    ftruncate(fd.fd, 8192);
    using mem = MappedMemory.mapFile(fd.fd, 4096, 4096);
    mem.write32(8, 0xcafef00d);
    const back = new Uint8Array(4);
    fd.pread(back, 4096 + 8);
    expect(new Uint32Array(back.buffer)[0]).toBe(0xcafef00d);
  });
});

describe("RLIMIT_MEMLOCK", () => {
  test("memlockStatus reads VmLck and CAP_IPC_LOCK from /proc/self/status text", () => {
    const s = memlockStatus("Name:\tbun\nVmLck:\t     128 kB\nCapEff:\t0000000000000000\n");
    expect(s.locked).toBe(128 * 1024);
    expect(s.exempt).toBe(false);
    expect(memlockStatus("CapEff:\t0000000000004000\n").exempt).toBe(true);
    expect(s.limit === Infinity || s.limit >= 0).toBe(true);
  });
});

// The IOVA allocator: honours the IOMMU's usable ranges (holes such as the x86 MSI window),
// a device's address width, alignment; reserves and releases with merging.
import { describe, expect, test } from "bun:test";
import { IovaAllocator } from "../../src/vfio/mod.ts";

const PAGE = 0x1000n;

describe("IovaAllocator", () => {
  test("hands out ascending aligned IOVAs from the lowest usable address, never 0", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xfedfffffn }], { alignment: PAGE });
    expect(a.allocate(PAGE)).toBe(0x1000n);
    expect(a.allocate(2n * PAGE)).toBe(0x2000n);
    expect(a.allocate(PAGE)).toBe(0x4000n);
  });

  test("skips the holes between usable ranges", () => {
    const a = new IovaAllocator(
      [
        { start: 0x1000n, end: 0x2fffn },
        { start: 0x10000n, end: 0x1ffffn },
      ],
      { alignment: PAGE },
    );
    expect(a.allocate(2n * PAGE)).toBe(0x1000n);
    expect(a.allocate(2n * PAGE)).toBe(0x10000n);
  });

  test("keeps allocations below 2^addressBits and says so when nothing fits", () => {
    const a = new IovaAllocator([{ start: 0x0fffe000n, end: 0xffffffffn }], { alignment: PAGE });
    expect(a.allocate(PAGE, { addressBits: 28 })).toBe(0x0fffe000n);
    expect(a.allocate(PAGE, { addressBits: 28 })).toBe(0x0ffff000n);
    expect(() => a.allocate(PAGE, { addressBits: 28 })).toThrow(/below 2\^28: no free span is large enough/);
    expect(a.allocate(PAGE)).toBe(0x10000000n);
  });

  test("honours a larger alignment and refuses sizes that are not page multiples", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xffffffffn }], { alignment: PAGE });
    a.allocate(PAGE);
    expect(a.allocate(PAGE, { alignment: 0x200000n })).toBe(0x200000n);
    expect(() => a.allocate(100n)).toThrow(/multiple of 0x1000/);
    expect(() => a.allocate(0n)).toThrow(RangeError);
    expect(() => new IovaAllocator([], { alignment: 3000n })).toThrow(/power of two/);
  });

  test("reserve takes a fixed span, refuses one that is not free, release merges back", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xffffn }], { alignment: PAGE });
    a.reserve(0x4000n, 0x2000n);
    expect(a.free).toEqual([
      { start: 0x1000n, end: 0x3fffn },
      { start: 0x6000n, end: 0xffffn },
    ]);
    expect(() => a.reserve(0x5000n, PAGE)).toThrow(/not entirely free/);
    expect(() => a.reserve(0x20000n, PAGE)).toThrow(RangeError);
    a.release(0x4000n, 0x2000n);
    expect(a.free).toEqual([{ start: 0x1000n, end: 0xffffn }]);
  });

  test("released space is reused first-fit", () => {
    const a = new IovaAllocator([{ start: 0n, end: 0xffffffn }], { alignment: PAGE });
    const x = a.allocate(PAGE);
    const y = a.allocate(PAGE);
    a.release(x, PAGE);
    expect(a.allocate(PAGE)).toBe(x);
    expect(a.allocate(PAGE)).toBe(y + PAGE);
  });
});

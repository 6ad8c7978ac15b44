// ioctl numbers: the VFIO requests pinned as literals (x86-64/arm64 generic layout), and
// the _IOC encodings of the generic and the powerpc/mips/sparc layouts.
import { describe, expect, test } from "bun:test";
import {
  _IO,
  _IOC,
  _IOR,
  _IOW,
  _IOWR,
  IOCTL_LAYOUT,
  IOCTL_LAYOUT_GENERIC,
  IOCTL_LAYOUT_PPC_MIPS_SPARC,
  ioctlLayoutFor,
} from "../../src/abi/ioctl.ts";
import * as vfio from "../../src/abi/mod.ts";

describe("VFIO ioctl numbers", () => {
  test("are the pinned literals 0x3b64 … 0x3b72", () => {
    expect(vfio.VFIO_GET_API_VERSION).toBe(0x3b64);
    expect(vfio.VFIO_CHECK_EXTENSION).toBe(0x3b65);
    expect(vfio.VFIO_SET_IOMMU).toBe(0x3b66);
    expect(vfio.VFIO_GROUP_GET_STATUS).toBe(0x3b67);
    expect(vfio.VFIO_GROUP_SET_CONTAINER).toBe(0x3b68);
    expect(vfio.VFIO_GROUP_UNSET_CONTAINER).toBe(0x3b69);
    expect(vfio.VFIO_GROUP_GET_DEVICE_FD).toBe(0x3b6a);
    expect(vfio.VFIO_DEVICE_GET_INFO).toBe(0x3b6b);
    expect(vfio.VFIO_DEVICE_GET_REGION_INFO).toBe(0x3b6c);
    expect(vfio.VFIO_DEVICE_GET_IRQ_INFO).toBe(0x3b6d);
    expect(vfio.VFIO_DEVICE_SET_IRQS).toBe(0x3b6e);
    expect(vfio.VFIO_DEVICE_RESET).toBe(0x3b6f);
    expect(vfio.VFIO_IOMMU_GET_INFO).toBe(0x3b70);
    expect(vfio.VFIO_IOMMU_MAP_DMA).toBe(0x3b71);
    expect(vfio.VFIO_IOMMU_UNMAP_DMA).toBe(0x3b72);
  });

  test("the table lists all fifteen with distinct numbers", () => {
    const values = Object.values(vfio.VFIO_IOCTLS);
    expect(values.length).toBe(15);
    expect(new Set(values).size).toBe(15);
  });

  test("on powerpc/mips/sparc _IO sets the 'none' direction bit (0x20003b64)", () => {
    expect(_IO(";", 100, IOCTL_LAYOUT_PPC_MIPS_SPARC)).toBe(0x20003b64);
    expect(_IO(";", 114, IOCTL_LAYOUT_PPC_MIPS_SPARC)).toBe(0x20003b72);
  });
});

describe("_IOC encodings", () => {
  test("generic layout: _IOR/_IOW/_IOWR put direction in bits 30-31 and size in 16-29", () => {
    const g = IOCTL_LAYOUT_GENERIC;
    expect(_IOR("T", 0x30, 4, g)).toBe(0x80045430); // TIOCGPTN
    expect(_IOW("T", 0x31, 4, g)).toBe(0x40045431); // TIOCSPTLCK
    expect(_IOWR("d", 0x00, 16, g)).toBe(0xc0106400);
    expect(_IOR("V", 255, 16383, g)).toBe(0xbfff56ff);
  });

  test("powerpc/mips/sparc layout: 13-bit size, read 2 and write 4 in bits 29-31", () => {
    const p = IOCTL_LAYOUT_PPC_MIPS_SPARC;
    expect(_IOR("T", 0x30, 4, p)).toBe(0x40045430);
    expect(_IOW("T", 0x31, 4, p)).toBe(0x80045431);
    expect(_IOWR("d", 0x00, 16, p)).toBe(0xc0106400);
    expect(() => _IOR("V", 1, 8192, p)).toThrow(RangeError);
  });

  test("architecture names pick the layout", () => {
    for (const a of ["x64", "arm64", "riscv64", "s390x", "loong64", "arm", "ia32"]) expect(ioctlLayoutFor(a)).toBe(IOCTL_LAYOUT_GENERIC);
    for (const a of ["ppc64", "ppc", "mips", "mipsel", "mips64el", "sparc64"]) expect(ioctlLayoutFor(a)).toBe(IOCTL_LAYOUT_PPC_MIPS_SPARC);
    expect(IOCTL_LAYOUT).toBe(ioctlLayoutFor(process.arch));
  });

  test("fields that do not fit are refused with RangeError, bad types with TypeError", () => {
    expect(() => _IO(";", 256)).toThrow(RangeError);
    expect(() => _IO(";", -1)).toThrow(RangeError);
    expect(() => _IOR(";", 1, 1 << 14, IOCTL_LAYOUT_GENERIC)).toThrow(/14 bits/);
    expect(() => _IO(";;", 1)).toThrow(TypeError);
    expect(() => _IO(0x100, 1)).toThrow(RangeError);
    expect(() => _IOC(4, ";", 1, 0, IOCTL_LAYOUT_GENERIC)).toThrow(RangeError);
    expect(_IO(0x3b, 100)).toBe(_IO(";", 100));
  });
});

describe("UACCE ioctl numbers and constants", () => {
  test("are the pinned literals of <misc/uacce/uacce.h>: START_Q 0x5700, PUT_Q 0x5701", () => {
    expect(vfio.UACCE_CMD_START_Q).toBe(0x5700);
    expect(vfio.UACCE_CMD_PUT_Q).toBe(0x5701);
    expect([vfio.UACCE_QFRT_MMIO, vfio.UACCE_QFRT_DUS, vfio.UACCE_MAX_REGION, vfio.UACCE_DEV_SVA]).toEqual([0, 1, 2, 1]);
  });
});

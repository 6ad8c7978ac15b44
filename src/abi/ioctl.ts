/**
 * ioctl request numbers, computed the way `<asm-generic/ioctl.h>` and the per-architecture
 * `<asm/ioctl.h>` headers do (`_IOC(dir, type, nr, size)`).
 *
 * Most architectures (x86, arm, arm64, riscv, s390, loongarch) share the generic layout:
 * 8 bits of number, 8 of type, 14 of size, 2 of direction, with `_IOC_NONE` 0, `_IOC_WRITE`
 * 1 and `_IOC_READ` 2. powerpc, mips and sparc keep 13 bits of size and 3 of direction,
 * with `_IOC_NONE` 1, `_IOC_READ` 2 and `_IOC_WRITE` 4.
 *
 * @module
 */

import process from "node:process";

/** The bit layout of ioctl request numbers on one architecture family. */
export interface IoctlLayout {
  /** Family name, for messages: `"generic"` or `"powerpc/mips/sparc"`. */
  readonly name: string;
  /** Width of the size field in bits (`_IOC_SIZEBITS`). */
  readonly sizeBits: number;
  /** Width of the direction field in bits (`_IOC_DIRBITS`). */
  readonly dirBits: number;
  /** `_IOC_NONE`. */
  readonly none: number;
  /** `_IOC_READ`. */
  readonly read: number;
  /** `_IOC_WRITE`. */
  readonly write: number;
}

/** The layout of `<asm-generic/ioctl.h>` (x86-64, arm64, riscv64, s390x, loongarch64, …). */
export const IOCTL_LAYOUT_GENERIC: IoctlLayout = Object.freeze({
  name: "generic",
  sizeBits: 14,
  dirBits: 2,
  none: 0,
  read: 2,
  write: 1,
});

/** The layout shared by powerpc, mips and sparc. */
export const IOCTL_LAYOUT_PPC_MIPS_SPARC: IoctlLayout = Object.freeze({
  name: "powerpc/mips/sparc",
  sizeBits: 13,
  dirBits: 3,
  none: 1,
  read: 2,
  write: 4,
});

/**
 * The ioctl layout for a Node-style architecture name (`process.arch`).
 *
 * @param arch `"x64"`, `"arm64"`, `"ppc64"`, `"mips"`, `"mipsel"`, `"mips64el"`, `"sparc64"`, …
 * @returns The layout; unknown names get the generic one, as new architectures use it.
 * @example
 * ```ts
 * import { ioctlLayoutFor } from "warpdrive/abi";
 *
 * ioctlLayoutFor("ppc64").sizeBits; // 13
 * ```
 */
export function ioctlLayoutFor(arch: string): IoctlLayout {
  if (/^(ppc|powerpc|mips|sparc)/.test(arch)) return IOCTL_LAYOUT_PPC_MIPS_SPARC;
  return IOCTL_LAYOUT_GENERIC;
}

/** The layout of the machine running this code. */
export const IOCTL_LAYOUT: IoctlLayout = ioctlLayoutFor(process.arch);

const NRBITS = 8;
const TYPEBITS = 8;

function typeCode(type: string | number): number {
  const t = typeof type === "string" ? type.charCodeAt(0) : type;
  if (typeof type === "string" && type.length !== 1) {
    throw new TypeError(`Cannot compute an ioctl number for type "${type}": use one character`);
  }
  if (!Number.isInteger(t) || t < 0 || t > 0xff) {
    throw new RangeError(`Cannot compute an ioctl number for type "${String(type)}": it must fit in 8 bits`);
  }
  return t;
}

/**
 * `_IOC(dir, type, nr, size)`: builds a request number from its fields.
 *
 * @param dir Direction bits in the layout's own encoding (`layout.none`, `layout.read | layout.write`, …).
 * @param type The ioctl "magic" (a one-character string like `";"` or its code).
 * @param nr The command number (0–255).
 * @param size The argument size in bytes.
 * @param layout The architecture's layout; the running machine's by default.
 * @returns The request as a non-negative integer (unsigned long).
 * @throws {RangeError} When a field does not fit its bits.
 * @example
 * ```ts
 * import { _IOC, IOCTL_LAYOUT } from "warpdrive/abi";
 *
 * _IOC(IOCTL_LAYOUT.none, ";", 100, 0); // 0x3b64 on x86-64
 * ```
 */
export function _IOC(dir: number, type: string | number, nr: number, size: number, layout: IoctlLayout = IOCTL_LAYOUT): number {
  const t = typeCode(type);
  if (!Number.isInteger(nr) || nr < 0 || nr >= 1 << NRBITS) {
    throw new RangeError(`Cannot compute an ioctl number with nr "${nr}": it must fit in ${NRBITS} bits`);
  }
  if (!Number.isInteger(size) || size < 0 || size >= 2 ** layout.sizeBits) {
    throw new RangeError(`Cannot compute an ioctl number with size "${size}": it must fit in ${layout.sizeBits} bits on ${layout.name}`);
  }
  if (!Number.isInteger(dir) || dir < 0 || dir >= 2 ** layout.dirBits) {
    throw new RangeError(`Cannot compute an ioctl number with direction "${dir}": it must fit in ${layout.dirBits} bits on ${layout.name}`);
  }
  const sizeShift = NRBITS + TYPEBITS;
  const dirShift = sizeShift + layout.sizeBits;
  // Multiplication keeps the value unsigned: `<<` would go negative at bit 31.
  return dir * 2 ** dirShift + size * 2 ** sizeShift + t * 2 ** NRBITS + nr;
}

/**
 * `_IO(type, nr)`: a request without an argument struct (VFIO uses it for every ioctl).
 *
 * @param type The ioctl magic.
 * @param nr The command number.
 * @param layout The architecture's layout; the running machine's by default.
 * @returns The request number.
 * @throws {RangeError} When a field does not fit.
 * @example
 * ```ts
 * import { _IO } from "warpdrive/abi";
 *
 * _IO(";", 100); // VFIO_GET_API_VERSION, 0x3b64
 * ```
 */
export function _IO(type: string | number, nr: number, layout: IoctlLayout = IOCTL_LAYOUT): number {
  return _IOC(layout.none, type, nr, 0, layout);
}

/**
 * `_IOR(type, nr, size)`: the kernel writes `size` bytes to user memory.
 *
 * @param type The ioctl magic.
 * @param nr The command number.
 * @param size `sizeof` the argument.
 * @param layout The architecture's layout; the running machine's by default.
 * @returns The request number.
 * @throws {RangeError} When a field does not fit.
 * @example
 * ```ts
 * import { _IOR } from "warpdrive/abi";
 *
 * _IOR("T", 0x30, 4); // TIOCGPTN, 0x80045430 on x86-64
 * ```
 */
export function _IOR(type: string | number, nr: number, size: number, layout: IoctlLayout = IOCTL_LAYOUT): number {
  return _IOC(layout.read, type, nr, size, layout);
}

/**
 * `_IOW(type, nr, size)`: the kernel reads `size` bytes from user memory.
 *
 * @param type The ioctl magic.
 * @param nr The command number.
 * @param size `sizeof` the argument.
 * @param layout The architecture's layout; the running machine's by default.
 * @returns The request number.
 * @throws {RangeError} When a field does not fit.
 * @example
 * ```ts
 * import { _IOW } from "warpdrive/abi";
 *
 * _IOW("T", 0x31, 4); // TIOCSPTLCK, 0x40045431 on x86-64
 * ```
 */
export function _IOW(type: string | number, nr: number, size: number, layout: IoctlLayout = IOCTL_LAYOUT): number {
  return _IOC(layout.write, type, nr, size, layout);
}

/**
 * `_IOWR(type, nr, size)`: the kernel reads and writes `size` bytes.
 *
 * @param type The ioctl magic.
 * @param nr The command number.
 * @param size `sizeof` the argument.
 * @param layout The architecture's layout; the running machine's by default.
 * @returns The request number.
 * @throws {RangeError} When a field does not fit.
 * @example
 * ```ts
 * import { _IOWR } from "warpdrive/abi";
 *
 * _IOWR("d", 0x00, 16); // 0xc0106400 on x86-64
 * ```
 */
export function _IOWR(type: string | number, nr: number, size: number, layout: IoctlLayout = IOCTL_LAYOUT): number {
  return _IOC(layout.read | layout.write, type, nr, size, layout);
}

/**
 * Host-endian field access for kernel structs laid out by hand in JS-heap byte arrays.
 *
 * These buffers live on the JS heap and are only ever passed to one synchronous ioctl at a
 * time, so nothing reads them concurrently: DataView is safe here. Device memory never
 * goes through these functions (it uses typed-array element accesses, see sys/mman.ts).
 *
 * @module
 */

import { endianness } from "node:os";

/** True on little-endian machines; kernel structs use the host's byte order. */
export const LITTLE_ENDIAN: boolean = endianness() === "LE";

function dv(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Reads a `__u8`. */
export function getU8(buf: Uint8Array, offset: number): number {
  return dv(buf).getUint8(offset);
}

/** Reads a `__u16` in host byte order. */
export function getU16(buf: Uint8Array, offset: number): number {
  return dv(buf).getUint16(offset, LITTLE_ENDIAN);
}

/** Reads a `__u32` in host byte order. */
export function getU32(buf: Uint8Array, offset: number): number {
  return dv(buf).getUint32(offset, LITTLE_ENDIAN);
}

/** Reads a `__s32` in host byte order. */
export function getS32(buf: Uint8Array, offset: number): number {
  return dv(buf).getInt32(offset, LITTLE_ENDIAN);
}

/** Reads a `__u64` in host byte order, as a bigint. */
export function getU64(buf: Uint8Array, offset: number): bigint {
  return dv(buf).getBigUint64(offset, LITTLE_ENDIAN);
}

/** Writes a `__u16` in host byte order. */
export function setU16(buf: Uint8Array, offset: number, value: number): void {
  dv(buf).setUint16(offset, value, LITTLE_ENDIAN);
}

/** Writes a `__u32` in host byte order. */
export function setU32(buf: Uint8Array, offset: number, value: number): void {
  dv(buf).setUint32(offset, value >>> 0, LITTLE_ENDIAN);
}

/** Writes a `__s32` in host byte order. */
export function setS32(buf: Uint8Array, offset: number, value: number): void {
  dv(buf).setInt32(offset, value, LITTLE_ENDIAN);
}

/** Writes a `__u64` in host byte order. */
export function setU64(buf: Uint8Array, offset: number, value: bigint | number): void {
  dv(buf).setBigUint64(offset, BigInt(value), LITTLE_ENDIAN);
}

/**
 * Converts a `__u64` to a number when it is exactly representable.
 *
 * @throws {RangeError} When the value is above `Number.MAX_SAFE_INTEGER`.
 */
export function u64ToNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`Cannot use ${what} "0x${value.toString(16)}": it is larger than 2^53`);
  }
  return Number(value);
}

/** A zeroed ioctl struct buffer of `size` bytes whose first member, `argsz`, is set to it. */
export function allocArgsz(size: number): Uint8Array {
  const buf = new Uint8Array(size);
  setU32(buf, 0, size); // argsz is the first member of every VFIO ioctl struct
  return buf;
}

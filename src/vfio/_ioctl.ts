/**
 * The VFIO layer's two ioctl helpers: a call named from the ABI's table (errors and traces
 * say `VFIO_SET_IOMMU`, never a hand-typed string), and the `argsz` renegotiation that the
 * info ioctls with a capability chain need.
 *
 * @module
 */

import { VFIO_IOCTL_NAMES } from "../abi/vfio.ts";
import type { IoctlArg, IoctlTarget } from "../sys/fd.ts";

/** The ioctl's name from the ABI table (`"VFIO_SET_IOMMU"`), or its number in hex. */
export function vfioIoctlName(request: number): string {
  return VFIO_IOCTL_NAMES.get(request) ?? `ioctl 0x${request.toString(16)}`;
}

/** One VFIO ioctl on `target`, its error named after the request. */
export function vfioIoctl(target: IoctlTarget, request: number, arg: IoctlArg, detail?: string): number {
  const name = vfioIoctlName(request);
  return target.ioctl(request, arg, detail === undefined ? name : `${name} ${detail}`);
}

/** Largest info buffer accepted from the kernel (capability chains are small). */
const MAX_INFO_BYTES = 64 * 1024;

/** How to ask for one info struct that may end in a capability chain. */
export interface InfoQuery<T> {
  readonly request: number;
  /** `sizeof` the fixed struct: the first offer, and the least the answer may be. */
  readonly minSize: number;
  /** A buffer of `argsz` bytes, set up for the request. */
  readonly encode: (argsz: number) => Uint8Array;
  /** The `argsz` the kernel wrote back: the size it needs. */
  readonly argszOf: (buf: Uint8Array) => number;
  readonly decode: (buf: Uint8Array) => T;
  /** What is read, for errors: `"info of region 2"`. */
  readonly what: string;
}

/**
 * Asks with the bare struct and, when the kernel answers with a larger `argsz` (the
 * capability chain did not fit), asks again with a buffer of that size, then decodes.
 *
 * @throws {SyscallError} From the ioctl.
 * @throws {RangeError} When the kernel asks for more than 64 KiB, or keeps asking for more.
 */
export function readInfo<T>(target: IoctlTarget, q: InfoQuery<T>): T {
  let argsz = q.minSize;
  for (let attempt = 0; attempt < 4; attempt++) {
    const buf = q.encode(argsz);
    vfioIoctl(target, q.request, buf);
    const wanted = q.argszOf(buf);
    if (wanted <= buf.length) return q.decode(buf.subarray(0, Math.max(wanted, q.minSize)));
    if (wanted > MAX_INFO_BYTES) {
      throw new RangeError(`Cannot read ${q.what}: the kernel asks for "${wanted}" bytes, more than ${MAX_INFO_BYTES}`);
    }
    argsz = wanted;
  }
  throw new RangeError(`Cannot read ${q.what}: argsz kept growing after 4 attempts`);
}

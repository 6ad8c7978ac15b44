/**
 * The error of the VFIO layer that is not a failed system call (those are `SyscallError`):
 * a device or group that cannot be used as it is, with what to do about it.
 *
 * @module
 */

/**
 * A VFIO object cannot be used as it is: the device or its IOMMU group is missing from
 * sysfs, the group is not viable, the kernel speaks another VFIO API version, or no
 * acceptable IOMMU type is offered. `code` says which:
 * `"ENOENT"`, `"EINVAL"` (a malformed `iommu_group` link), `"ERR_VFIO_GROUP_NOT_VIABLE"`,
 * `"ERR_VFIO_API_VERSION"`, `"ERR_VFIO_NO_IOMMU_TYPE"`; `path` names the file when there is one.
 *
 * @example
 * ```ts
 * import { Container, VfioError } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * try {
 *   container.openDevice("0000:00:03.0");
 * } catch (e) {
 *   if (e instanceof VfioError && e.code === "ERR_VFIO_GROUP_NOT_VIABLE") console.log(e.message);
 * }
 * ```
 */
export class VfioError extends Error {
  /** What went wrong, as an errno name or an `ERR_VFIO_*` code. */
  readonly code: string;
  /** The file the error is about, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, options: { readonly code: string; readonly path?: string | undefined; readonly cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VfioError";
    this.code = options.code;
    this.path = options.path;
  }
}

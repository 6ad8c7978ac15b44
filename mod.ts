/**
 * warpdrive: find a WarpDrive hardware accelerator and talk to it from user space.
 *
 * Accelerators register in the sysfs class `warpdrive` (each offers mediated-device
 * types per algorithm) or in mainline Linux's `uacce` (each lists its algorithms and opens
 * a queue per open of `/dev/<name>-<id>`). This module is the user's API: the inquiry ({@link enumerate},
 * {@link select}), mediated devices and device attributes ({@link createMdev},
 * {@link setPriority}, …), the queue ({@link requestQueue}), user-space drivers
 * ({@link registerDriver}) and the errors they throw. The `wd` command line wraps the same
 * functions. The layers underneath are their own entry points: `warpdrive/vfio`
 * (containers, groups, devices, regions, interrupts, DMA), `warpdrive/sys` (checked
 * system calls, `MappedMemory`, `EventFd`), `warpdrive/abi` (the kernel's structs,
 * constants and ioctl numbers) and `warpdrive/testing` (a sysfs tree in a temporary
 * directory, for trying code without an accelerator).
 *
 * @example
 * ```ts
 * import { enumerate, registeredDeviceApis, select } from "warpdrive";
 *
 * const inventory = enumerate({ alg: "copy" });
 * const choice = select(inventory, { alg: "copy", flags: 0x2, apis: registeredDeviceApis() });
 * console.log(choice.device.id, choice.type.type, choice.mdev ?? "(create one)");
 * ```
 *
 * @module
 */

// The inquiry: the tree as data, matching and ranking.
export { ACCELERATOR_CLASSES, classDirOf, DEFAULT_SYSFS_ROOT, enumerate, type EnumerateOptions } from "./src/sysfs/enumerate.ts";
export type { Accelerator, AcceleratorClass, AcceleratorType, ClassDir, Inventory, UacceAttributes } from "./src/sysfs/model.ts";
export {
  describeFlags,
  formatFlags,
  LEVEL_MAX,
  PRIORITY_MAX,
  PRIORITY_MIN,
  WD_CAPA_FRAMEWORK_MASK,
  WD_CAPA_SGL_MEM,
  WD_CAPA_SHARE_ALL,
  ZONE_MAX,
  ZONE_MIN,
} from "./src/sysfs/parse.ts";
export { UACCE_DEV_SVA } from "./src/sysfs/uacce.ts";
export { type Candidate, type Criteria, NoAcceleratorError, select, type SelectCriteria, type Selection } from "./src/select/select.ts";

// Pre-work, as root: mediated devices and device attributes.
export {
  type AsyncWriteOptions,
  createMdev,
  createMdevAsync,
  type CreateMdevOptions,
  DISABLED_PRIORITY,
  disableDevice,
  MDEV_WRITE_TIMEOUT_MS,
  removeMdev,
  removeMdevAsync,
  type RootOptions,
  setPriority,
  setZone,
} from "./src/mdev/mdev.ts";

// The queue.
export { Queue } from "./src/queue/queue.ts";
export { LentRing } from "./src/queue/lent.ts";
export {
  DEFAULT_BACKLOG,
  DEFAULT_SPIN_US,
  QueueFullError,
  type QueueIdentity,
  QueueReleasedError,
  type QueueTuning,
  type QueueWaitOptions,
  RUN_ID_BASE,
  type RunRequest,
} from "./src/queue/types.ts";
export { type InquiryStep, type QueueOptions, requestQueue } from "./src/queue/request.ts";
export { type DeviceOpener, type DevicePort, type OpenOptions, probeIommuTypes, type QueueDmaOptions, type Readiness } from "./src/queue/port.ts";
export type { DmaBuffer } from "./src/vfio/dma.ts";
export type { DeviceMemory } from "./src/queue/memory.ts";

// User-space drivers, keyed by device_api; wd_dummy_v1 is built in.
export {
  BUILTIN_DRIVERS,
  type BufferArena,
  type DriverContext,
  findDriver,
  registerDriver,
  registeredDeviceApis,
  type RingParts,
  unregisterDriver,
  type UserDriver,
} from "./src/drivers/mod.ts";
export { type DummyCompletion, type DummyHandle, type DummyRequest, wdDummyV1Driver } from "./src/drivers/wd_dummy_v1.ts";
export {
  type UacceDummyCompletion,
  type UacceDummyHandle,
  type UacceDummyRequest,
  uacceDummyV1Driver,
} from "./src/drivers/uacce_dummy_v1.ts";

// How doorbells are rung (the optional C barrier).
export {
  type BarrierBackend,
  type BarrierInfo,
  barrierInfo,
  type BarrierOptions,
  type BarrierPreference,
  configureBarrier,
} from "./src/sys/barrier.ts";

// Errors.
export { ClosedError, SyscallError, type SyscallContext, TimeoutError } from "./src/sys/error.ts";
export { SysfsError } from "./src/sysfs/errors.ts";
export { VfioError } from "./src/vfio/errors.ts";
export { DeviceRemovedError } from "./src/uacce/queue_fd.ts";

export { VERSION } from "./src/version.ts";

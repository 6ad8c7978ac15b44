/**
 * warpdrive: find a WarpDrive hardware accelerator and talk to it from user space.
 *
 * Accelerators register in the sysfs class `warpdrive`; each offers mediated-device
 * types per algorithm. This module reads that tree ({@link enumerate}), matches and
 * chooses a device for an algorithm ({@link select}), and manages mediated devices and
 * device attributes ({@link createMdev}, {@link setPriority}, …). The `wd` command line
 * wraps the same functions.
 *
 * @example
 * ```ts
 * import { enumerate, select } from "warpdrive";
 *
 * const inventory = enumerate({ alg: "copy" });
 * const choice = select(inventory, { alg: "copy", flags: 0x2, apis: ["wd_dummy_v1"] });
 * console.log(choice.device.id, choice.type.type, choice.mdev ?? "(create one)");
 * ```
 *
 * @module
 */

export { classDirOf, DEFAULT_SYSFS_ROOT, enumerate, type EnumerateOptions } from "./src/sysfs/enumerate.ts";
export type { Accelerator, AcceleratorType, Inventory } from "./src/sysfs/model.ts";
export { SysfsError } from "./src/sysfs/errors.ts";
export {
  describeFlags,
  formatFlags,
  isUuid,
  LEVEL_MAX,
  naturalCompare,
  type Parsed,
  parseDecimal,
  parseFlags,
  parseInRange,
  parseToken,
  PRIORITY_MAX,
  PRIORITY_MIN,
  WD_CAPA_FRAMEWORK_MASK,
  WD_CAPA_SGL_MEM,
  WD_CAPA_SHARE_ALL,
} from "./src/sysfs/parse.ts";
export { ATTRIBUTE_MAX_BYTES, type Entry, type EntryKind, nodeReader, type SysfsReader } from "./src/sysfs/reader.ts";
export {
  type AttrValue,
  type Fixture,
  type FixtureDevice,
  type FixtureSpec,
  type FixtureType,
  makeSysfs,
} from "./src/sysfs/fixture.ts";
export { type Candidate, type Criteria, NoAcceleratorError, select, type Selection } from "./src/select/select.ts";
export {
  createMdev,
  type CreateMdevOptions,
  DISABLED_PRIORITY,
  disableDevice,
  removeMdev,
  type RootOptions,
  setPriority,
  setZone,
  ZONE_MAX,
  ZONE_MIN,
} from "./src/mdev/mdev.ts";
export { findDriver, registerDriver, registeredDeviceApis, unregisterDriver, type UserDriver } from "./src/drivers/registry.ts";
export { VERSION } from "./src/version.ts";
export {
  type DummyCompletion,
  type DummyHandle,
  type DummyRequest,
  wdDummyV1Driver,
} from "./src/drivers/wd_dummy_v1.ts";
export type { DriverContext } from "./src/drivers/registry.ts";
export {
  Queue,
  QueueFullError,
  type QueueIdentity,
  QueueReleasedError,
  QueueTimeoutError,
  type QueueWaitOptions,
} from "./src/queue/queue.ts";
export { type InquiryStep, type QueueOptions, requestQueue } from "./src/queue/request.ts";
export { type DeviceOpener, type DevicePort, type OpenOptions, probeIommuTypes, type QueueDmaOptions } from "./src/queue/_port.ts";
export * from "./src/vfio/mod.ts";
export { barrierInfo, type BarrierInfo, type BarrierOptions, configureBarrier } from "./src/sys/barrier.ts";
export {
  ClosedError,
  closeAll,
  errnoName,
  errnoValue,
  EventFd,
  Fd,
  type MapFileOptions,
  MappedMemory,
  memfdCreate,
  memlockStatus,
  type MemlockStatus,
  pageSize,
  SyscallError,
  type SyscallContext,
  type WaitOptions,
} from "./src/sys/mod.ts";

/**
 * The user-space drivers layer: the registry, with the drivers that come with warpdrive
 * registered in this one place (`wd_dummy_v1`, `uacce_dummy_v1`). Import the registry from here, so the
 * built-ins are there.
 *
 * @example
 * ```ts
 * import { registeredDeviceApis } from "warpdrive";
 * registeredDeviceApis(); // ["uacce_dummy_v1", "wd_dummy_v1"]
 * ```
 *
 * @module
 */
import type { UserDriver } from "./driver.ts";
import { findDriver, registerDriver } from "./registry.ts";
import { uacceDummyV1Driver } from "./uacce_dummy_v1.ts";
import { wdDummyV1Driver } from "./wd_dummy_v1.ts";

/** The drivers that come with warpdrive, registered when this layer is first loaded. */
// deno-lint-ignore no-explicit-any
export const BUILTIN_DRIVERS: readonly UserDriver<any, any, any>[] = [wdDummyV1Driver, uacceDummyV1Driver];
for (const d of BUILTIN_DRIVERS) if (findDriver(d.deviceApi) === undefined) registerDriver(d);

export { findDriver, registerDriver, registeredDeviceApis, unregisterDriver } from "./registry.ts";
export type { BufferArena, DriverContext, RingParts, UserDriver } from "./driver.ts";

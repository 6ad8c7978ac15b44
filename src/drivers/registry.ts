/**
 * The registry of user-space drivers, keyed by the `device_api` string a mediated-device
 * type reports. It starts empty; `drivers/mod.ts` registers the built-in drivers. Step 4 of the inquiry accepts only types whose `device_api` has a driver
 * here (or that the caller accepts explicitly).
 *
 * @module
 */
import type { UserDriver } from "./driver.ts";


// deno-lint-ignore no-explicit-any
const drivers = new Map<string, UserDriver<any, any, any>>(); // the built-ins are registered by drivers/mod.ts

/**
 * Registers a user-space driver for its `device_api`. A second driver for the same api
 * replaces nothing: it throws, so two libraries cannot silently fight over one api.
 *
 * @throws {TypeError} when `deviceApi` is empty or not one printable word, or a method is missing.
 * @throws {Error} when a driver for that api is already registered.
 * @example
 * ```ts
 * registerDriver({
 *   deviceApi: "my_accel_v1",
 *   description: "prototype driver",
 *   open: (ctx) => ({ regs: ctx.mapRegion(0) }),
 *   submit: (h, reqs) => 0,
 *   poll: (h, max) => [],
 *   close: (h) => {},
 * });
 * ```
 */
// deno-lint-ignore no-explicit-any
export function registerDriver(driver: UserDriver<any, any, any>): void {
  const api = driver?.deviceApi;
  if (typeof api !== "string" || !/^[\x21-\x7e]+$/.test(api)) {
    throw new TypeError(`Cannot register a driver for device_api ${JSON.stringify(api)}: it must be one printable word`);
  }
  for (const m of ["open", "submit", "poll", "close"] as const) {
    if (typeof driver[m] !== "function") {
      throw new TypeError(`Cannot register the driver for device_api "${api}": it has no ${m}() method`);
    }
  }
  const encoded = [driver.descriptorWords !== undefined, typeof driver.encode === "function", typeof driver.submitEncoded === "function"];
  if (encoded.some((x) => x) && !encoded.every((x) => x)) {
    throw new TypeError(`Cannot register the driver for device_api "${api}": descriptorWords, encode() and submitEncoded() go together (it has only some)`);
  }
  if ((driver.completionIrq !== undefined) !== (typeof driver.arm === "function")) {
    throw new TypeError(`Cannot register the driver for device_api "${api}": completionIrq and arm() go together (it has only one)`);
  }
  const irq = driver.completionIrq;
  if (irq !== undefined && (!Number.isInteger(irq) || irq < 0)) {
    throw new TypeError(`Cannot register the driver for device_api "${api}": completionIrq ${JSON.stringify(irq)} must be a VFIO IRQ index (a non-negative integer)`);
  }
  const dw = driver.descriptorWords;
  if (dw !== undefined && (!Number.isInteger(dw) || dw < 1)) {
    throw new TypeError(`Cannot register the driver for device_api "${api}": descriptorWords ${JSON.stringify(dw)} must be a positive integer`);
  }
  if (drivers.has(api)) {
    throw new Error(`Cannot register a driver for device_api "${api}": one is already registered (unregister it first)`);
  }
  drivers.set(api, driver);
}

/**
 * Removes the driver of a `device_api`; returns whether one was registered.
 *
 * @example
 * ```ts
 * unregisterDriver("my_accel_v1");
 * ```
 */
export function unregisterDriver(deviceApi: string): boolean {
  return drivers.delete(deviceApi);
}

/**
 * Returns the driver registered for a `device_api`, or `undefined`.
 *
 * @example
 * ```ts
 * const d = findDriver("wd_dummy_v1");
 * ```
 */
// deno-lint-ignore no-explicit-any
export function findDriver(deviceApi: string): UserDriver<any, any, any> | undefined {
  return drivers.get(deviceApi);
}

/**
 * The `device_api` strings that have a registered driver, sorted: the default set of
 * accepted apis in selection.
 *
 * @example
 * ```ts
 * console.log(registeredDeviceApis()); // e.g. ["wd_dummy_v1"]
 * ```
 */
export function registeredDeviceApis(): string[] {
  return [...drivers.keys()].sort();
}

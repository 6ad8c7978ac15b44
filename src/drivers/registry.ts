/**
 * The registry of user-space drivers, keyed by the `device_api` string a mediated-device
 * type reports. Step 4 of the inquiry accepts only types whose `device_api` has a driver
 * here (or that the caller accepts explicitly).
 *
 * @module
 */

/**
 * A user-space driver: what speaks the queue protocol of one `device_api`.
 * Queue operations are added to this interface by the queue layer; the registry only
 * needs the key.
 */
export interface UserDriver {
  /** The `device_api` string this driver speaks, e.g. `"wd_dummy_v1"`. */
  readonly deviceApi: string;
  /** One line saying what the driver is for. */
  readonly description: string;
}

const drivers = new Map<string, UserDriver>();

/**
 * Registers a user-space driver for its `device_api`. A second driver for the same api
 * replaces nothing: it throws, so two libraries cannot silently fight over one api.
 *
 * @throws {TypeError} when `deviceApi` is empty or not one printable word.
 * @throws {Error} when a driver for that api is already registered.
 * @example
 * ```ts
 * registerDriver({ deviceApi: "my_accel_v1", description: "prototype driver" });
 * ```
 */
export function registerDriver(driver: UserDriver): void {
  const api = driver?.deviceApi;
  if (typeof api !== "string" || !/^[\x21-\x7e]+$/.test(api)) {
    throw new TypeError(`Cannot register a driver for device_api ${JSON.stringify(api)}: it must be one printable word`);
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
export function findDriver(deviceApi: string): UserDriver | undefined {
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

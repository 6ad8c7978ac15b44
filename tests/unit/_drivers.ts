import type { UserDriver } from "../../src/drivers/mod.ts";

/** A driver object for registry tests: only its api matters there; it never opens a queue. */
export function driverFor(deviceApi: string, description = "registry test driver"): UserDriver<null, never, never> {
  return {
    deviceApi,
    description,
    open: () => {
      throw new Error(`${deviceApi}: the registry test driver opens nothing`);
    },
    submit: () => 0,
    poll: () => [],
    close: () => {},
  };
}

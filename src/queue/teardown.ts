/**
 * The order in which a queue gives its device back, the one real DMA hardware survives:
 * stop the device first, so no DMA is in flight; then close it; only then unmap the memory
 * it could reach. Unmapping first would let a device still working write to IOVAs that
 * are no longer mapped.
 *
 * @module
 */
import type { UserDriver } from "../drivers/driver.ts";
import { closeAll } from "../sys/error.ts";
import type { DeviceMemory } from "./memory.ts";
import type { DevicePort } from "./port.ts";

/** What a queue hands over to be torn down. */
export interface TeardownParts {
  // deno-lint-ignore no-explicit-any
  readonly driver: UserDriver<unknown, any, any>;
  readonly handle: unknown;
  readonly port: DevicePort;
  /** The queue's device memory (DMA buffers, shared or arena buffers), in the order it was allocated. */
  readonly dma: readonly DeviceMemory[];
  /** For the error message: `"queue <uuid>"`. */
  readonly label: string;
}

/**
 * Tears a queue's device down: the driver stops it (`quiesce`); it is reset where it
 * offers a reset; the driver forgets it; the device is closed (its mappings, interrupts,
 * then its fd: the kernel reclaims the queue); then the DMA buffers are unmapped, newest
 * first; then the group and the container close. Goes on past a failure.
 *
 * @returns The failure (an AggregateError when several steps failed), or undefined.
 * @example
 * ```ts
 * import type { DevicePort, UserDriver } from "warpdrive";
 * import { tearDown } from "./teardown.ts";
 * declare const driver: UserDriver; declare const port: DevicePort;
 * const failure = tearDown({ driver, handle: {}, port, dma: [], label: "queue 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" });
 * ```
 */
export function tearDown(parts: TeardownParts): unknown {
  const { driver: d, handle, port } = parts;
  const steps: (() => void)[] = [];
  if (d.quiesce !== undefined) steps.push(() => d.quiesce!(handle));
  steps.push(
    () => port.reset(),
    () => d.close(handle),
    () => port.closeDevice(),
    ...[...parts.dma].reverse().map((b) => () => b.close()),
    () => port.close(),
  );
  try {
    closeAll(parts.label, steps);
    return undefined;
  } catch (e) {
    return e;
  }
}

/**
 * What comes after the device is given back: the removal of a mediated device the queue
 * created (off the main thread), then every failure of the whole release, reported once.
 *
 * @param failure What `tearDown` returned.
 * @param after The removal, when the queue created its mediated device.
 * @returns Settles when the removal is done; rejects with the failures (an AggregateError
 *   when both the teardown and the removal failed).
 * @example
 * ```ts
 * import { afterTeardown } from "./teardown.ts";
 * await afterTeardown(undefined, undefined, "queue 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
 * ```
 */
export async function afterTeardown(failure: unknown, after: (() => void | Promise<void>) | undefined, label: string): Promise<void> {
  let removal: unknown;
  if (after !== undefined) {
    try {
      await after();
    } catch (e) {
      removal = e;
    }
  }
  if (failure !== undefined && removal !== undefined) throw new AggregateError([failure, removal], `Cannot close ${label} cleanly: 2 steps failed`);
  if (failure !== undefined) throw failure;
  if (removal !== undefined) throw removal;
}

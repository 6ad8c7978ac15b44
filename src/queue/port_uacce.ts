/**
 * The queue's port onto a UACCE device: one open of `/dev/<name>-<id>` is one queue
 * (`src/uacce/queue_fd.ts`). Regions 0 and 1 are the MMIO and DUS regions, each mapped
 * once; completions are awaited on the fd's readiness through the reactor; every driver
 * call first checks the driver is still there; the device is given back with PUT_Q,
 * unmap, close. Memory: with SVA, process memory handed by address (untested on hardware:
 * no device here offers SVA); without, the driver's arena in a region.
 *
 * @module
 */
import { UACCE_MAX_REGION } from "../abi/uacce.ts";
import type { Accelerator } from "../sysfs/model.ts";
import { UacceQueueFd, type UacceSyscalls } from "../uacce/queue_fd.ts";
import { HostBuffer } from "./memory.ts";
import type { DevicePort } from "./port.ts";

/** Where UACCE devices are. */
export interface UacceOpenOptions {
  /** Where the char devices are; `/dev` by default. */
  readonly devRoot: string;
}

/** Opens a queue on a UACCE device; throws SyscallError (EBUSY, or the driver's errno) when it is full. */
export type UacceOpener = (device: Accelerator, options: UacceOpenOptions) => DevicePort;

/**
 * Makes a UACCE opener.
 *
 * @param options @internal stand-in system calls and liveness period, for tests.
 * @example
 * ```ts
 * import { createUacceOpener } from "./port_uacce.ts";
 * const open = createUacceOpener();
 * ```
 */
export function createUacceOpener(options: { readonly syscalls?: UacceSyscalls; readonly livenessMs?: number } = {}): UacceOpener {
  return (device, o) => {
    const u = device.uacce;
    if (device.class !== "uacce" || u === null) throw new TypeError(`Cannot open ${device.id} as a UACCE queue: it is a ${device.class} device`);
    const fd = UacceQueueFd.open(u.devName, {
      devRoot: o.devRoot,
      classEntry: device.path,
      regionSizes: [u.regionMmioSize, u.regionDusSize],
      syscalls: options.syscalls,
      livenessMs: options.livenessMs,
    });
    return {
      regionCount: UACCE_MAX_REGION,
      mapRegion: (i) => fd.map(i),
      // With SVA the device reads process memory by address; without, only its regions.
      allocDma: u.sva ? (size) => new HostBuffer(size) : undefined,
      sva: u.sva,
      readiness: () => ({ wait: (w) => fd.ready(w), waitSync: (w) => fd.readySync(w) }),
      check: (action) => fd.check(action),
      // PUT_Q in closeDevice stops the queue; there is no reset beyond it.
      reset: () => {},
      closeDevice: () => fd.release(),
      close: () => {},
    };
  };
}

/** The UACCE opener on the real system calls. */
export const uacceOpener: UacceOpener = createUacceOpener();

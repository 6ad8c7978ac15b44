/**
 * The whole queue inquiry: enumerate, match, select, take a free mediated device (or
 * create one) and open it through VFIO, or open a UACCE device's char device, and hand
 * it to the driver of its `device_api` (UACCE: its `api`).
 *
 * @module
 */
import { findDriver, registeredDeviceApis, type UserDriver } from "../drivers/mod.ts";
import { errorCode } from "../sys/errno.ts";
import { createMdevAsync, removeMdevAsync } from "../mdev/mdev.ts";
import { type Candidate, type Criteria, NoAcceleratorError, select, type Selection } from "../select/select.ts";
import { DEFAULT_SYSFS_ROOT, enumerate } from "../sysfs/enumerate.ts";
import type { Accelerator, AcceleratorType } from "../sysfs/model.ts";
import { type DeviceOpener, probeIommuTypes, vfioOpener } from "./port.ts";
import { type UacceOpener, uacceOpener } from "./port_uacce.ts";
import { Queue } from "./queue.ts";
import type { QueueTuning } from "./types.ts";

/** One step of the inquiry, for a debug callback (the library itself never prints). */
export type InquiryStep =
  | { readonly step: "enumerated"; readonly devices: number; readonly types: number }
  | { readonly step: "selected"; readonly selection: Selection }
  | { readonly step: "busy"; readonly device: string; readonly type: string; readonly mdev: string; readonly reason: string }
  | { readonly step: "created"; readonly device: string; readonly type: string; readonly mdev: string }
  | { readonly step: "create-failed"; readonly device: string; readonly type: string; readonly reason: string }
  | { readonly step: "opened"; readonly device: string; readonly type: string; readonly mdev: string; readonly deviceApi: string };

/** What {@link requestQueue} is asked for: the selection criteria plus where and how. */
export interface QueueOptions extends Criteria, QueueTuning {
  /** The sysfs root; `/sys` by default. */
  readonly root?: string;
  /** Where `vfio/` device nodes are; `/dev` by default. */
  readonly devRoot?: string;
  /** Aborts the inquiry between steps. */
  readonly signal?: AbortSignal;
  /** Called at each step (found, selected, busy, created, opened). */
  readonly onStep?: (step: InquiryStep) => void;
  /** Remove a mediated device this queue created when it is released (default true). */
  readonly removeCreated?: boolean;
  /**
   * The IOMMU types the kernel offers; asked of the kernel (VFIO_CHECK_EXTENSION) when
   * unset and the devices are opened through VFIO. A device declaring another type in
   * `wdev/iommu` is rejected, and each container is set to the type its device declares.
   */
  readonly iommuTypes?: readonly number[];
  /**
   * Milliseconds to wait for the kernel to create or remove a mediated device (the writes
   * run off the main thread); `MDEV_WRITE_TIMEOUT_MS` by default.
   */
  readonly mdevTimeout?: number;
  /** @internal Opens a mediated device; VFIO by default (tests pass a stand-in). */
  readonly opener?: DeviceOpener;
  /** @internal Opens a UACCE device; the char device by default (tests pass a stand-in). */
  readonly uacceOpener?: UacceOpener;
}


function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Finds, opens and returns a queue for an algorithm: the spec's inquiry from end to end.
 *
 * Nothing in it blocks the event loop longer than a syscall the kernel answers at once:
 * creating a mediated device runs on a worker thread with a timeout (`mdevTimeout`).
 *
 * Candidates are tried in the order `select` ranks them. For each, every existing
 * mediated device is tried; one whose VFIO group is busy (EBUSY: another process holds
 * it) is skipped. A UACCE device is opened through its char device (one open is one
 * queue); a full one (its open fails, EBUSY for the dummy driver) is skipped the same way. When none is free and `allowCreate` is set, one is created (root only)
 * where `available_instances` allows. The queue is handed to the driver registered for
 * the type's `device_api`.
 *
 * @throws {NoAcceleratorError} (`ENODEV`) when nothing can be had; the message lists each
 *   candidate and why (wrong flags, disabled, no driver, busy, no capacity, create refused),
 *   and `cause` keeps the failures themselves (the `SyscallError` of an open refused with
 *   EACCES, …): the one error, or an `AggregateError` of several.
 * @throws {SysfsError} (`ENOENT`) when there is no `class/warpdrive` directory.
 * @throws {TypeError | RangeError} on malformed options.
 * @throws The signal's reason when aborted.
 * @example
 * ```ts
 * import { requestQueue, WD_CAPA_SGL_MEM } from "warpdrive";
 * await using q = await requestQueue({ alg: "copy", flags: WD_CAPA_SGL_MEM, allowCreate: true });
 * console.log(q.device, q.mdev);
 * ```
 */
export async function requestQueue<Req = unknown, Cpl = unknown>(options: QueueOptions): Promise<Queue<Req, Cpl>> {
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const devRoot = options.devRoot ?? "/dev";
  const step = options.onStep ?? (() => {});
  options.signal?.throwIfAborted();

  const inventory = enumerate({ root, alg: options.alg });
  step({ step: "enumerated", devices: inventory.devices.length, types: inventory.devices.reduce((n, d) => n + d.types.length, 0) });
  const vfio = options.opener === undefined && inventory.devices.some((d) => d.class === "warpdrive");
  const iommuTypes = options.iommuTypes ?? (vfio ? probeIommuTypes(devRoot) : undefined);
  const apis = options.apis ?? registeredDeviceApis();
  const selection = select(inventory, { ...options, apis, ...(iommuTypes === undefined ? {} : { iommuTypes }) });
  step({ step: "selected", selection });
  return await openSelection<Req, Cpl>(selection, options);
}

/**
 * The second half of {@link requestQueue}: opens the first candidate of a selection that
 * can be had, in rank order. A mediated device busy in another process (EBUSY) or a UACCE
 * device whose queues are all taken (its open fails, EBUSY in the dummy driver) moves on
 * to the next; a mediated device is created where allowed.
 *
 * @throws {NoAcceleratorError} (`ENODEV`) when no candidate opens, listing each and why.
 * @internal For callers (and tests) that made the selection themselves.
 * @example
 * ```ts
 * import { enumerate, registeredDeviceApis, select } from "warpdrive";
 * import { openSelection } from "./request.ts";
 * const s = select(enumerate({ alg: "copy" }), { alg: "copy", apis: registeredDeviceApis() });
 * await using q = await openSelection(s, { alg: "copy" });
 * ```
 */
export async function openSelection<Req = unknown, Cpl = unknown>(selection: Selection, options: QueueOptions): Promise<Queue<Req, Cpl>> {
  const root = options.root ?? DEFAULT_SYSFS_ROOT;
  const devRoot = options.devRoot ?? "/dev";
  const opener = options.opener ?? vfioOpener;
  const step = options.onStep ?? (() => {});
  const outcome = new Map<string, string>();
  // Every failure behind a refused candidate, kept as the final error's cause.
  const failures: unknown[] = [];
  const key = (d: Accelerator, t: AcceleratorType) => `${d.id}\0${t.type}`;
  for (const { device, type } of selection.ranked) {
    options.signal?.throwIfAborted();
    const driver = findDriver(type.deviceApi as string);
    if (driver === undefined) {
      outcome.set(key(device, type), `no user-space driver is registered for device_api "${type.deviceApi}"`);
      continue;
    }
    const drv: UserDriver<unknown, Req, Cpl> = driver;
    const busy: string[] = [];
    const identity = { device: device.id, type: type.type, alg: options.alg, deviceApi: type.deviceApi as string };
    if (device.class === "uacce") {
      const q = openUacce();
      if (q !== undefined) return q;
      outcome.set(key(device, type), busy.join("; "));
      continue;
    }
    for (const mdev of type.mdevs) {
      const q = await tryOpen(mdev, false);
      if (q !== undefined) return q;
    }
    if (options.allowCreate && (type.availableInstances ?? 0) > 0) {
      let uuid: string;
      try {
        uuid = await createMdevAsync(device.id, type.type, { root, timeout: options.mdevTimeout });
      } catch (e) {
        failures.push(e);
        const reason = `creating a mediated device failed: ${reasonOf(e)}`;
        step({ step: "create-failed", device: device.id, type: type.type, reason });
        outcome.set(key(device, type), [...busy, reason].join("; "));
        continue;
      }
      step({ step: "created", device: device.id, type: type.type, mdev: uuid });
      options.signal?.throwIfAborted();
      const q = await tryOpen(uuid, true);
      if (q !== undefined) return q;
    } else if (busy.length > 0 && options.allowCreate) {
      busy.push("no capacity to create another (available_instances is 0)");
    }
    outcome.set(key(device, type), busy.join("; ") || "no mediated device could be opened");

    async function tryOpen(mdev: string, created: boolean): Promise<Queue<Req, Cpl> | undefined> {
      let port;
      try {
        port = opener(mdev, { root, devRoot, iommuType: device.iommu ?? undefined, allowNoIommu: options.allowNoIommu === true });
      } catch (e) {
        failures.push(e);
        const reason = errorCode(e) === "EBUSY"
          ? `mediated device ${mdev} is busy: another process holds its VFIO group`
          : `mediated device ${mdev} could not be opened: ${reasonOf(e)}`;
        step({ step: "busy", device: device.id, type: type.type, mdev, reason });
        busy.push(reason);
        if (created) await removeQuietly(mdev);
        return undefined;
      }
      try {
        const q = new Queue<Req, Cpl>({ ...identity, mdev, created }, {
          driver: drv,
          port,
          onRelease: created && options.removeCreated !== false ? () => removeMdevAsync(mdev, { root, timeout: options.mdevTimeout }) : undefined,
          tuning: options,
        });
        step({ step: "opened", device: device.id, type: type.type, mdev, deviceApi: identity.deviceApi });
        return q;
      } catch (e) {
        failures.push(e);
        // The driver refused the device: close what was opened and say why.
        try {
          port.closeDevice();
          port.close();
        } catch { /* the driver's refusal is the one to report */ }
        if (created) await removeQuietly(mdev);
        busy.push(`the ${identity.deviceApi} driver refused ${mdev}: ${reasonOf(e)}`);
        return undefined;
      }
    }
    /** One open of the char device is one queue; a full device refuses the open. */
    function openUacce(): Queue<Req, Cpl> | undefined {
      const node = `${devRoot}/${device.uacce?.devName ?? device.id}`;
      let port;
      try {
        port = (options.uacceOpener ?? uacceOpener)(device, { devRoot });
      } catch (e) {
        failures.push(e);
        const code = errorCode(e);
        const reason = code === "EBUSY" || code === "ENOSPC"
          ? `UACCE device ${node} is full: every queue is taken (open: ${code})`
          : `UACCE device ${node} could not be opened: ${reasonOf(e)}`;
        step({ step: "busy", device: device.id, type: type.type, mdev: node, reason });
        busy.push(reason);
        return undefined;
      }
      try {
        const q = new Queue<Req, Cpl>({ ...identity, mdev: node, created: false, class: "uacce" }, { driver: drv, port, tuning: options });
        step({ step: "opened", device: device.id, type: type.type, mdev: node, deviceApi: identity.deviceApi });
        return q;
      } catch (e) {
        failures.push(e);
        try {
          port.closeDevice();
        } catch { /* the driver's refusal is the one to report */ }
        busy.push(`the ${identity.deviceApi} driver refused ${node}: ${reasonOf(e)}`);
        return undefined;
      }
    }
    async function removeQuietly(mdev: string): Promise<void> {
      try {
        await removeMdevAsync(mdev, { root, timeout: options.mdevTimeout });
      } catch { /* best effort: the mdev stays as a free one for a later request */ }
    }
  }

  const candidates: Candidate[] = selection.candidates.map((c) => {
    const why = outcome.get(`${c.device}\0${c.type}`);
    return why === undefined ? c : { ...c, accepted: false, reason: why, rank: 0 };
  });
  const lines = candidates
    .filter((c) => c.name === options.alg || c.name === null)
    .map((c) => `  ${c.device}${c.type ? `/${c.type}` : ""}: ${c.reason}`);
  throw new NoAcceleratorError(
    `No queue for ${JSON.stringify(options.alg)} could be opened: every candidate is taken or was rejected\n${lines.join("\n")}`,
    candidates,
    options,
    {
      cause: failures.length === 1
        ? failures[0]
        : failures.length > 1
        ? new AggregateError(failures, `${failures.length} attempts to open a queue for "${options.alg}" failed`)
        : undefined,
    },
  );
}

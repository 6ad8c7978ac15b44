/**
 * The queue's public vocabulary: what a queue is, its wait and tuning options, the
 * defaults, `run`'s request shape and id range, and the queue's errors.
 *
 * @module
 */
import type { AcceleratorClass } from "../sysfs/model.ts";

/** What the queue is, once opened. */
export interface QueueIdentity {
  /** The accelerator's device id (class directory entry). */
  readonly device: string;
  /** The type directory, `<dev_drv>-<algo_type>`. */
  readonly type: string;
  /** The algorithm. */
  readonly alg: string;
  /** The `device_api`, which chose the driver. */
  readonly deviceApi: string;
  /** The mediated device's UUID; for a UACCE device, the char device's path (`/dev/<name>-<id>`). */
  readonly mdev: string;
  /** Whether this queue created the mediated device (it is removed again on release). */
  readonly created: boolean;
  /** The class of the device: `"warpdrive"` (a mediated device through VFIO) or `"uacce"`. */
  readonly class: AcceleratorClass;
}

/** A queue's identity as fields set once when it opens: the base of `Queue`. */
export class QueueFields implements QueueIdentity {
  readonly device: string;
  readonly type: string;
  readonly alg: string;
  readonly deviceApi: string;
  readonly mdev: string;
  readonly created: boolean;
  readonly class: AcceleratorClass;

  /** @internal */
  constructor(identity: Omit<QueueIdentity, "class"> & { readonly class?: AcceleratorClass }) {
    this.device = identity.device;
    this.type = identity.type;
    this.alg = identity.alg;
    this.deviceApi = identity.deviceApi;
    this.mdev = identity.mdev;
    this.created = identity.created;
    this.class = identity.class ?? "warpdrive";
  }
}

/** Options of {@link Queue.wait}, {@link Queue.run} and {@link Queue.completions}. */
export interface QueueWaitOptions {
  /** Milliseconds before rejecting with `TimeoutError` (`code` `"ETIMEDOUT"`); no limit by default. */
  readonly timeout?: number;
  /** Rejects with `signal.reason` when aborted (at once when it already is). */
  readonly signal?: AbortSignal;
}

/** How a queue waits and queues; {@link requestQueue} takes the same options. */
export interface QueueTuning {
  /**
   * Microseconds a wait spins on the completion ring, after a reap found it empty and
   * before it arms the interrupt and sleeps. It blocks the JS thread that long at most.
   * Default {@link DEFAULT_SPIN_US}.
   */
  readonly spin?: number;
  /**
   * How many `run` requests may wait to be sent (for ring room, or for the end of the
   * current turn), in order; past it `run` rejects with `QueueFullError`. Default
   * {@link DEFAULT_BACKLOG}.
   */
  readonly backlog?: number;
  /** Use the device's completion interrupt when the driver names one (default true); false polls. */
  readonly interrupts?: boolean;
}

/**
 * The default spin of a wait, in microseconds. A spin pays off when it outlasts the
 * device's answer: the dummy device's engine looks at the doorbell every 5-20 µs while it
 * is busy, so natively a request to a busy device completes within a few tens of µs, and
 * waking through the interrupt and the reactor costs much more. Measured in the QEMU rig
 * (TCG, everything 10-20 times slower), doorbell to resolved `run`, p50: 4.5-8 ms with no
 * spin, 0.5-0.7 ms with a 300 µs spin that covers the emulated device's answer (the C
 * client's eventfd wake-up: 0.35-0.55 ms). 50 µs covers a native device's busy answer with
 * room to spare and bounds what an idle wait burns before it sleeps to 50 µs of the JS
 * thread; raise `spin` for a slower device.
 */
export const DEFAULT_SPIN_US = 50;
/** The default bound of `run`'s backlog (requests waiting for ring room). */
export const DEFAULT_BACKLOG = 16384;

/**
 * A queue's spin and backlog, defaults filled in, checked.
 *
 * @throws {RangeError} naming the bad value.
 * @example
 * ```ts
 * import { checkedTuning } from "./types.ts";
 * checkedTuning({ spin: 300 }); // { spin: 300, backlog: 16384 }
 * ```
 */
export function checkedTuning(tuning: QueueTuning | undefined): { spin: number; backlog: number } {
  const spin = tuning?.spin ?? DEFAULT_SPIN_US;
  const backlog = tuning?.backlog ?? DEFAULT_BACKLOG;
  if (!(typeof spin === "number" && spin >= 0 && spin <= 1_000_000)) {
    throw new RangeError(`Cannot open a queue with spin ${JSON.stringify(spin)}: it must be 0 to 1000000 microseconds`);
  }
  if (!Number.isSafeInteger(backlog) || backlog < 0) {
    throw new RangeError(`Cannot open a queue with backlog ${JSON.stringify(backlog)}: it must be a non-negative integer`);
  }
  return { spin, backlog };
}
/** The first id `run` assigns; ids from here to 0xfffffffe belong to `run`. */
export const RUN_ID_BASE = 0x80000000;

/** The ring is full: reap completions, then send again. `code` is `"EAGAIN"`. */
export class QueueFullError extends Error {
  /** Always `"EAGAIN"`. */
  readonly code: string = "EAGAIN";
  constructor(message: string) {
    super(message);
    this.name = "QueueFullError";
  }
}

/** The queue was released; `code` is `"ERR_RELEASED"`. */
export class QueueReleasedError extends Error {
  /** Always `"ERR_RELEASED"`. */
  readonly code: string = "ERR_RELEASED";
  constructor(action: string, what: string) {
    super(`Cannot ${action}: queue ${what} was released`);
    this.name = "QueueReleasedError";
  }
}

/** A request as `run` takes it: the driver's request without its `id`, which `run` assigns. */
export type RunRequest<Req> = Req extends { readonly id: number } ? Omit<Req, "id"> & { readonly id?: undefined } : Req;

/**
 * Device interrupts: VFIO_DEVICE_GET_IRQ_INFO, and VFIO_DEVICE_SET_IRQS routing each vector
 * of an index (INTx, MSI, MSI-X, …) to an eventfd that `wait()` awaits.
 *
 * @module
 */

import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
} from "../abi/vfio.ts";
import { encodeIrqSet, type IrqInfo } from "../abi/vfio_codec.ts";
import { ClosedError, closeAll } from "../sys/error.ts";
import { EventFd, type WaitOptions } from "../sys/eventfd.ts";
import type { IoctlTarget } from "../sys/fd.ts";
import { vfioIoctl } from "./_ioctl.ts";

/** Options of `Irq.enable()`. */
export interface IrqEnableOptions {
  /** Number of vectors to route (1 by default; at most `info.count`). */
  readonly count?: number;
  /** First vector (0 by default). */
  readonly start?: number;
}

/** Options of `Irq.wait()`. */
export interface IrqWaitOptions extends WaitOptions {
  /** Which enabled vector to wait on (relative to `start`); 0 by default. */
  readonly vector?: number;
}

/**
 * One IRQ index of a device. `enable()` creates one eventfd per vector and hands them to
 * the kernel; `wait()` resolves when the device raises the vector. INTx is automasked by
 * VFIO: after each interrupt, acknowledge it in the device, then `unmask()`.
 *
 * Closing (or `disable()`) detaches the eventfds from the kernel first, then closes them.
 *
 * @example
 * ```ts
 * import { Container, VFIO_PCI_MSI_IRQ_INDEX } from "warpdrive/vfio";
 *
 * using container = Container.open();
 * const device = container.openDevice("0000:00:03.0");
 * const msi = device.irq(VFIO_PCI_MSI_IRQ_INDEX);
 * msi.enable();
 * // … make the device interrupt …
 * await msi.wait({ timeout: 1000 });
 * ```
 */
export class Irq {
  #target: IoctlTarget;
  #info: IrqInfo;
  #label: string;
  #alive: () => boolean;
  #eventfds: EventFd[] = [];
  #start = 0;
  #closed = false;

  private constructor(target: IoctlTarget, info: IrqInfo, label: string, alive: () => boolean) {
    this.#target = target;
    this.#info = info;
    this.#label = label;
    this.#alive = alive;
  }

  /**
   * An IRQ index over any ioctl target (the device fd, or a fake in tests).
   *
   * @param target Answers VFIO_DEVICE_SET_IRQS.
   * @param info The index's description.
   * @param options `label` for messages; `alive` says whether the owner is still open.
   */
  static fromTarget(target: IoctlTarget, info: IrqInfo, options: { readonly label?: string; readonly alive?: () => boolean } = {}): Irq {
    return new Irq(target, info, options.label ?? `IRQ index ${info.index}`, options.alive ?? (() => true));
  }

  /** The description read from the kernel. */
  get info(): IrqInfo {
    return this.#info;
  }

  /** IRQ index. */
  get index(): number {
    return this.#info.index;
  }

  /** Whether vectors are routed to eventfds. */
  get enabled(): boolean {
    return this.#eventfds.length > 0;
  }

  /** Whether the IRQ (or its device) is closed. */
  get closed(): boolean {
    return this.#closed || !this.#alive();
  }

  /**
   * The eventfds of the enabled vectors (for callers that poll them themselves).
   *
   * @throws {ClosedError} After close.
   */
  get eventfds(): readonly EventFd[] {
    this.#check("list eventfds");
    return [...this.#eventfds];
  }

  #check(action: string): void {
    if (this.closed) throw new ClosedError(action, this.#label);
  }

  #set(flags: number, start: number, count: number, eventfds?: number[], detail?: string): void {
    const buf = encodeIrqSet({ flags, index: this.#info.index, start, count, eventfds });
    vfioIoctl(this.#target, VFIO_DEVICE_SET_IRQS, buf, detail);
  }

  /**
   * Routes `count` vectors from `start` to new eventfds (VFIO_IRQ_SET_DATA_EVENTFD |
   * VFIO_IRQ_SET_ACTION_TRIGGER).
   *
   * @throws {RangeError} When already enabled, or the range exceeds `info.count`.
   * @throws {TypeError} When the index does not support eventfds.
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl (EINVAL, …); the eventfds are then closed.
   */
  enable(options: IrqEnableOptions = {}): void {
    this.#check("enable interrupts");
    const start = options.start ?? 0;
    const count = options.count ?? 1;
    if (this.enabled) throw new RangeError(`Cannot enable ${this.#label}: it is already enabled; disable() it first`);
    if (!this.#info.eventfd) throw new TypeError(`Cannot enable ${this.#label}: it does not signal eventfds (flags 0x${this.#info.flags.toString(16)})`);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > this.#info.count) {
      throw new RangeError(`Cannot enable vectors "${start}+${count}" of ${this.#label}: it has ${this.#info.count}`);
    }
    const efds: EventFd[] = [];
    try {
      for (let i = 0; i < count; i++) efds.push(EventFd.create({ label: `${this.#label} vector ${start + i}` }));
      this.#set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, start, count, efds.map((e) => e.fd));
    } catch (e) {
      for (const efd of efds) efd.close();
      throw e;
    }
    this.#eventfds = efds;
    this.#start = start;
  }

  /**
   * Waits for an interrupt on one enabled vector.
   *
   * @param options `vector`, `timeout` (ms), `signal`.
   * @returns The number of interrupts since the last wait (≥ 1).
   * @throws {RangeError} When the vector is not enabled.
   * @throws {TimeoutError} `ETIMEDOUT` after `timeout`; the signal's reason when aborted.
   * @throws {ClosedError} When closed before or during the wait.
   * @example
   * ```ts
   * import { Container, VFIO_PCI_MSI_IRQ_INDEX } from "warpdrive/vfio";
   *
   * using container = Container.open();
   * const irq = container.openDevice("0000:00:03.0").irq(VFIO_PCI_MSI_IRQ_INDEX);
   * irq.enable();
   * await irq.wait({ timeout: 1000 });
   * ```
   */
  wait(options: IrqWaitOptions = {}): Promise<number> {
    try {
      this.#check("wait for an interrupt");
      const v = options.vector ?? 0;
      const efd = this.#eventfds[v];
      if (efd === undefined) {
        throw new RangeError(`Cannot wait for vector "${v}" of ${this.#label}: ${this.enabled ? `only ${this.#eventfds.length} enabled` : "enable() it first"}`);
      }
      return efd.wait(options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Unmasks vectors (needed after each INTx interrupt, which VFIO masks automatically).
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl.
   */
  unmask(options: { readonly start?: number; readonly count?: number } = {}): void {
    this.#check("unmask interrupts");
    this.#set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, options.start ?? this.#start, options.count ?? 1, undefined, "unmask");
  }

  /**
   * Masks vectors.
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl (EINVAL when the index is not maskable).
   */
  mask(options: { readonly start?: number; readonly count?: number } = {}): void {
    this.#check("mask interrupts");
    this.#set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, options.start ?? this.#start, options.count ?? 1, undefined, "mask");
  }

  /**
   * Makes the kernel signal a vector's eventfd as if the device had interrupted (loopback).
   *
   * @throws {ClosedError} After close.
   * @throws {SyscallError} From the ioctl.
   */
  trigger(vector = 0): void {
    this.#check("trigger an interrupt");
    this.#set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, this.#start + vector, 1, undefined, "trigger");
  }

  /**
   * Detaches the eventfds from the kernel (DATA_NONE | ACTION_TRIGGER, count 0), then closes
   * them; pending waits reject with `ClosedError`.
   *
   * @throws {ClosedError} After close.
   * @throws The failures, after trying every step.
   */
  disable(): void {
    this.#check("disable interrupts");
    this.#teardown();
  }

  #teardown(): void {
    if (this.#eventfds.length === 0) return;
    const efds = this.#eventfds;
    this.#eventfds = [];
    const steps: (() => void)[] = [];
    if (this.#alive()) steps.push(() => this.#set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, undefined, "disable"));
    for (const e of efds) steps.push(() => e.close());
    closeAll(this.#label, steps);
  }

  /**
   * Disables the vectors and closes the eventfds (idempotent).
   *
   * @throws The failures, after trying every step.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

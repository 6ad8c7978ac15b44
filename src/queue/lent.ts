/**
 * A queue's rings lent to the caller for use in place ({@link Queue.lendRing}): requests
 * are written straight into the request ring's slots and published with one doorbell,
 * completions are read where the device wrote them and given back. Nothing is copied or
 * allocated per request; each move is checked against what the ring said it holds, so a
 * caller cannot publish a slot it was not given or free a completion not yet written.
 *
 * @module
 */
import type { RingParts, UserDriver } from "../drivers/driver.ts";
import { TimeoutError } from "../sys/error.ts";
import type { Readiness } from "./port.ts";
import type { QueueWaitOptions } from "./types.ts";
import { checkWaitOptions, NO_OPTIONS } from "./_waiters.ts";
import { sleepReadable, sleepReadableSync, type WaitSide } from "./_lent_wait.ts";

/** What a lent ring is made of, from its queue. */
export interface LendParts<Req> {
  readonly parts: RingParts;
  /** The queue's driver (guarded, for UACCE) and handle, to arm the interrupt. */
  readonly driver: UserDriver<unknown, Req, unknown>;
  readonly handle: unknown;
  /** What signals completions, or undefined to poll with timers. */
  readonly irq: Readiness | undefined;
  readonly spinMs: number;
  /** Throws when the device can no longer be used (a port's `check`), if it can go away. */
  readonly check: ((action: string) => void) | undefined;
  /** The queue's mediated device, for messages. */
  readonly label: string;
  /** Called once when the ring is given back. */
  readonly onGiveBack: () => void;
}

/**
 * The rings of a queue, lent for use in place. While lent, the queue's own data path
 * (`send`, `sendBatch`, `sendEncoded`, `poll`, `pollEncoded`, `wait`, `run`,
 * `completions`) refuses to run; `giveBack()` (or `using`) returns the ring, and
 * `release()` of the queue ends the loan.
 *
 * Requests: `reserve(want)` says how many slots may be written now; `slot(i)` is the word
 * of `sq` where the `i`-th of them starts (`descriptorWords` words, the driver's layout);
 * `publish(n)` makes the first `n` the device's, with one doorbell. Completions:
 * `ready()` says how many are written; `completion(i)` is the word of `cq` where the
 * `i`-th starts (`completionWords` words); `consume(n)` gives the first `n` slots back.
 * `readable()` waits for a completion without spinning forever: it spins briefly, then
 * sleeps on the device's interrupt (or polls with timers); `readableSync()` sleeps in the
 * calling thread instead, as a C client does (for a thread given to the data path).
 *
 * @example
 * ```ts
 * import { type DummyCompletion, type DummyRequest, requestQueue } from "warpdrive";
 * const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
 * using ring = q.lendRing();
 * if (ring.reserve(2) === 2) {
 *   ring.put(0, { op: "nop", id: 41 }); // checked, in the driver's layout
 *   const w = ring.slot(1); // or the words written by hand (wd_dummy_v1: opcode, id, ...)
 *   ring.sq.fill(0, w, w + ring.descriptorWords);
 *   ring.sq[w] = 3; // nop
 *   ring.sq[w + 1] = 42;
 *   ring.publish(2);
 * }
 * const n = await ring.readable({ timeout: 1000 });
 * const id = ring.cq[ring.completion(0)]; // 41
 * ring.consume(n);
 * ```
 */
export class LentRing<Req = unknown> {
  /** The request ring as u32 words (the driver's descriptor layout). */
  readonly sq: Uint32Array;
  /** The completion ring as u32 words (the driver's completion layout). */
  readonly cq: Uint32Array;
  /** One request's size in words. */
  readonly descriptorWords: number;
  /** One completion's size in words. */
  readonly completionWords: number;
  #p: RingParts;
  #x: LendParts<Req>;
  #regs: Uint32Array;
  #doorbell: number;
  #ring: ((tail: number) => void) | undefined;
  #cqTailReg: number;
  #cqHeadReg: number;
  #sqEntries: number;
  #cqEntries: number;
  #sqMask: number;
  #cqMask: number;
  /** The next request slot, the next completion, and the device's request head as last read (free-running). */
  #tail: number;
  #head: number;
  #sqHead: number;
  /**
   * The completion head as the device last saw it. `consume` moves `#head` only; the store
   * follows at the next `publish` (after its doorbell), `ready` or the loan's end.
   */
  #headOut: number;
  /** Slots from the tail that may be written (from the last `reserve`, less what was published since). */
  #reserved = 0;
  /** Completions from the head that may be read (from the last `ready`, less what was consumed since). */
  #ready = 0;
  /** Why the ring is no longer lent (an error for the action), once given back or released. */
  #over: ((action: string) => Error) | undefined;
  /**
   * What each move calls first, when anything: the port's check (a device that can go
   * away), or, once the loan is over, a throw of its error. One load on the fast path.
   */
  #guard: ((action: string) => void) | undefined;
  /** The controller of a pending `readable()`. */
  #waiting: AbortController | undefined;
  /** What the sleeps need of this ring (`_lent_wait.ts`). */
  #side: WaitSide;

  /** @internal Made by `Queue.lendRing`. */
  constructor(x: LendParts<Req>) {
    const p = x.parts;
    this.#p = p;
    this.#x = x;
    this.sq = p.sq;
    this.cq = p.cq;
    this.descriptorWords = p.descriptorWords;
    this.completionWords = p.completionWords;
    this.#regs = p.regs;
    this.#doorbell = p.doorbell;
    this.#ring = p.ring;
    this.#cqTailReg = p.cqTailReg;
    this.#cqHeadReg = p.cqHeadReg;
    this.#sqEntries = p.sqEntries;
    this.#cqEntries = p.cqEntries;
    this.#sqMask = p.sqEntries - 1;
    this.#cqMask = p.cqEntries - 1;
    this.#tail = p.tail;
    this.#head = this.#headOut = p.head;
    this.#sqHead = p.sqHead;
    this.#guard = x.check;
    this.#side = {
      ready: () => this.ready(),
      arm: () => {
        if (this.#guard !== undefined) this.#guard("wait for completions");
        x.driver.arm?.(x.handle);
      },
      irq: x.irq,
      label: x.label,
    };
  }

  /**
   * How many request slots, from the next one, may be written now: up to `want`, bounded
   * by the room in the request ring and by the completion ring (never more requests out
   * than it holds, so the device always has a slot for a completion); 0 when full:
   * consume completions first. Room is counted against the request head last read; the
   * register is read again (an acquire load: the device read those slots before it stored
   * the head) only when that is not enough.
   *
   * @throws {RangeError} A `want` that is not a non-negative integer.
   */
  reserve(want: number = this.#sqEntries): number {
    if (this.#guard !== undefined) this.#guard("reserve request slots");
    if (want >>> 0 !== want) this.#badCount("reserve", want, "request slots");
    const tail = this.#tail;
    let sqFree = this.#sqEntries - ((tail - this.#sqHead) >>> 0);
    if (sqFree < want) sqFree = this.#sqRoom(tail);
    const cqFree = this.#cqEntries - ((tail - this.#head) >>> 0);
    const n = want < sqFree ? want : sqFree;
    return (this.#reserved = cqFree < n ? cqFree : n);
  }

  /** The room in the request ring below `tail`, from the request head read again (out of line: rarely needed). */
  #sqRoom(tail: number): number {
    const head = (this.#sqHead = Atomics.load(this.#regs, this.#p.sqHeadReg));
    const free = this.#sqEntries - ((tail - head) >>> 0);
    if (free < 0) this.#corruptHead(head, tail);
    return free;
  }

  /**
   * The word of `sq` where reserved slot `i` starts.
   *
   * @throws {RangeError} When `i` is not below what `reserve` gave (less what was published since).
   */
  slot(i: number): number {
    if (!(i >= 0 && i < this.#reserved)) this.#outside("write request slot", i, "reserved; call reserve() first", this.#reserved);
    return ((this.#tail + i) & this.#sqMask) * this.descriptorWords;
  }

  /**
   * Writes `request` into reserved slot `i` in the device's layout, checked as `send`
   * checks it (the driver's `encode`; nothing is written when a check fails).
   *
   * @throws {RangeError} When `i` is not a reserved slot; the driver's TypeError or
   *   RangeError for a request it refuses; an Error when the driver has no `encode`.
   */
  put(i: number, request: Req): void {
    const encode = this.#x.driver.encode;
    if (encode === undefined) throw new Error(`Cannot put a request on the ring of ${this.#x.label}: the ${this.#x.driver.deviceApi} driver has no encode; write the slot's words instead`);
    encode.call(this.#x.driver, request, this.sq, this.slot(i));
  }

  /**
   * Hands the first `n` reserved slots, written, to the device with one doorbell (none for
   * 0). The slots after them stay reserved, renumbered from 0.
   *
   * @throws {RangeError} When `n` is more than what is reserved, or not a non-negative integer.
   */
  publish(n: number): void {
    if (this.#guard !== undefined) this.#guard("publish requests");
    if (!(n >>> 0 === n && n <= this.#reserved)) this.#outside("publish", n, "slots reserved; call reserve() first", this.#reserved, "requests");
    if (n === 0) return;
    this.#reserved -= n;
    const tail = (this.#tail = (this.#tail + n) >>> 0);
    // Barrier: the descriptor stores come before the device can see the tail: Atomics.store
    // is sequentially consistent (a release store at least), or the driver's own doorbell.
    const ring = this.#ring;
    if (ring === undefined) Atomics.store(this.#regs, this.#doorbell, tail);
    else ring(tail);
    if (this.#headOut !== this.#head) this.#giveHead();
  }

  /**
   * How many completions, from the next one, the device has written (and may be read).
   * Barrier: an acquire load of the completion tail; the entries are read after it.
   *
   * @throws {Error} When the device's completion tail is further ahead than the ring holds.
   */
  ready(): number {
    if (this.#guard !== undefined) this.#guard("look for completions");
    if (this.#headOut !== this.#head) this.#giveHead();
    const tail = Atomics.load(this.#regs, this.#cqTailReg);
    const n = (tail - this.#head) >>> 0;
    if (n > this.#cqEntries) this.#corruptTail(tail, n);
    return (this.#ready = n);
  }

  /**
   * The word of `cq` where ready completion `i` starts.
   *
   * @throws {RangeError} When `i` is not below what `ready` or `readable` gave (less what was consumed since).
   */
  completion(i: number): number {
    if (!(i >= 0 && i < this.#ready)) this.#outside("read completion", i, "ready; call ready() or readable() first", this.#ready);
    return ((this.#head + i) & this.#cqMask) * this.completionWords;
  }

  /**
   * Gives the first `n` ready completions' slots back to the device (read them first). The
   * ones after them stay ready, renumbered from 0. The device sees the slots free at the next
   * `publish` (just after its doorbell), `ready`, `readable` or `giveBack`: a store to the
   * device is a full barrier in JavaScript (Atomics.store; a locked exchange on x86), which
   * holds the CPU while the device's cache line comes back, so it is made where nothing
   * waits on it rather than between a completion and the next request's doorbell.
   *
   * @throws {RangeError} When `n` is more than what is ready, or not a non-negative integer.
   */
  consume(n: number): void {
    if (this.#guard !== undefined) this.#guard("consume completions");
    if (!(n >>> 0 === n && n <= this.#ready)) this.#outside("consume", n, "ready; call ready() or readable() first", this.#ready, "completions");
    this.#ready -= n;
    this.#head = (this.#head + n) >>> 0;
  }

  /** Whether the device can still be written (a port's check passes, or there is none). */
  #deviceThere(): boolean {
    try {
      this.#x.check?.("give completions back");
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stores the completion head for the device. Barrier: a release store (Atomics.store is
   * sequentially consistent); the reads of the entries come before the device can see their
   * slots free and overwrite them.
   */
  #giveHead(): void {
    Atomics.store(this.#regs, this.#cqHeadReg, (this.#headOut = this.#head));
  }

  /**
   * Resolves with how many completions are ready, once at least one is: it looks, spins for
   * the queue's spin time, then arms the interrupt and sleeps in the reactor (or polls with
   * timers that back off), so an idle wait costs no CPU. One at a time.
   *
   * @throws {TimeoutError} code `"ETIMEDOUT"` when `timeout` passes; the signal's reason when
   *   aborted; an Error when another `readable()` is pending or the ring is given back first.
   */
  async readable(options: QueueWaitOptions = NO_OPTIONS): Promise<number> {
    checkWaitOptions("wait for completions", options);
    options.signal?.throwIfAborted();
    const n = this.#spin();
    if (n > 0) return n;
    if (options.timeout === 0) throw new TimeoutError(`wait for completions on the ring of ${this.#x.label}`, 0);
    const ac = (this.#waiting = new AbortController());
    try {
      return await sleepReadable(this.#side, options, ac);
    } finally {
      this.#waiting = undefined;
    }
  }

  /**
   * Like `readable()`, but the sleep blocks the calling thread, in poll(2) on the device's
   * interrupt (or its UACCE fd), as a C client sleeps: no hand-over to the reactor's thread
   * and back, so a wake-up costs what it costs C. The thread runs nothing else meanwhile,
   * its event loop included, and only `timeout` ends the wait early: for a thread given to
   * the data path (a Worker). Without an interrupt, the thread sleeps in timed steps.
   *
   * @throws {TimeoutError} code `"ETIMEDOUT"` when `timeout` passes; an Error when a
   *   `readable()` is pending or the ring is given back first.
   */
  readableSync(options: { readonly timeout?: number } = NO_OPTIONS): number {
    checkWaitOptions("wait for completions", options);
    const n = this.#spin();
    if (n > 0) return n;
    if (options.timeout === 0) throw new TimeoutError(`wait for completions on the ring of ${this.#x.label}`, 0);
    return sleepReadableSync(this.#side, options.timeout);
  }

  /** A look, then looks for the queue's spin time: how many completions are ready (0: none yet). */
  #spin(): number {
    if (this.#waiting !== undefined) throw new Error(`Cannot wait for completions on the ring of ${this.#x.label}: a readable() is already pending on it`);
    let n = this.ready();
    if (n > 0) return n;
    const until = performance.now() + this.#x.spinMs;
    while (performance.now() < until) if ((n = this.ready()) > 0) return n;
    return 0;
  }

  /** Whether the ring is still lent (false once given back or its queue released). */
  get lent(): boolean {
    return this.#over === undefined;
  }

  /**
   * Gives the ring back to its queue (idempotent): reserved slots not published are
   * forgotten; completions not consumed stay on the ring for the queue's `poll` and
   * `wait`. A pending `readable()` rejects.
   */
  giveBack(): void {
    this.end((action) => new Error(`Cannot ${action}: the ring of ${this.#x.label} was given back; lend it again with lendRing()`));
  }

  /** Same as `giveBack()`. */
  [Symbol.dispose](): void {
    this.giveBack();
  }

  /** @internal Ends the loan with the error every later call throws (the queue's, on release). */
  end(error: (action: string) => Error): void {
    if (this.#over !== undefined) return;
    this.#over = error;
    this.#guard = (action) => {
      throw error(action);
    };
    this.#reserved = 0;
    this.#ready = 0;
    this.#waiting?.abort(error("wait for completions"));
    if (this.#headOut !== this.#head && this.#deviceThere()) this.#giveHead();
    this.#p.settle(this.#tail, this.#head, this.#sqHead);
    this.#x.onGiveBack();
  }

  // The throws of the moves, out of line: a move stays small enough for the JIT to inline
  // it into the caller's loop (the messages' template literals would keep it from that).

  /**
   * Throws for a slot, completion or count outside what the ring gave: the loan's end, or
   * a RangeError (`Cannot <verb> <value> [<what>] on the ring of …: <have> <why>`).
   */
  #outside(verb: string, value: number, why: string, have: number, what?: string): never {
    const action = what === undefined ? `${verb} ${value}` : `${verb} ${value} ${what}`;
    if (this.#over !== undefined) throw this.#over(action);
    throw new RangeError(`Cannot ${action} on the ring of ${this.#x.label}: ${have} ${why}`);
  }

  /** Throws the RangeError of a count that is not a non-negative integer. */
  #badCount(verb: string, value: unknown, what: string): never {
    throw new RangeError(`Cannot ${verb} ${JSON.stringify(value)} ${what}: it must be a non-negative integer`);
  }

  /** Throws the error of a request head the device moved outside its ring. */
  #corruptHead(head: number, tail: number): never {
    throw new Error(`The ring of ${this.#x.label} is corrupt: request head ${head} is not within the ${this.#sqEntries} slots below tail ${tail}`);
  }

  /** Throws the error of a completion tail the device moved further ahead than its ring holds. */
  #corruptTail(tail: number, n: number): never {
    throw new Error(`The ring of ${this.#x.label} is corrupt: completion tail ${tail} is ${n} ahead of head ${this.#head} (ring of ${this.#cqEntries})`);
  }
}

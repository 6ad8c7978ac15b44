/**
 * Reused storage of the queue's dispatcher, so the hot path allocates nothing per request:
 * the table of `run` requests on the ring by id, and a FIFO of completions kept as the
 * device wrote them (u32 words). Private to `src/queue/`.
 *
 * @module
 */

import type { UserDriver } from "../drivers/driver.ts";

/** A driver's whole encoded path, as the dispatcher uses it (see `UserDriver.idWord`). */
export interface EncodedPath<Cpl> {
  readonly descriptorWords: number;
  readonly idWord: number;
  readonly completionWords: number;
  readonly completionIdWord: number;
  /** The driver, whose `decode` is called as its method (no bound function on the hot path). */
  readonly decoder: { decode(words: Uint32Array, at: number): Cpl };
}

/** The driver's encoded path when it has all of it, else undefined. */
export function encodedPathOf<Cpl>(d: UserDriver<unknown, unknown, Cpl>): EncodedPath<Cpl> | undefined {
  if (
    d.descriptorWords === undefined || d.encode === undefined || d.submitEncoded === undefined || d.idWord === undefined ||
    d.completionWords === undefined || d.completionIdWord === undefined || d.pollEncoded === undefined || d.decode === undefined
  ) return undefined;
  const { descriptorWords, idWord, completionWords, completionIdWord } = d;
  return { descriptorWords, idWord, completionWords, completionIdWord, decoder: d as { decode(words: Uint32Array, at: number): Cpl } };
}

/** The largest slot table; ids that collide beyond it go to a Map. */
const TABLE_MAX = 1 << 16;

/**
 * Entries by u32 id, in a power-of-two slot table indexed by `id & mask`: `run` assigns ids
 * in sequence, so the ids on the ring share no slot while the table is larger than the
 * ring. A collision doubles the table, up to {@link TABLE_MAX}; past it a Map holds the rest.
 */
export class RunTable<E extends { readonly id: number }> {
  #slots: (E | undefined)[];
  #mask: number;
  #overflow = new Map<number, E>();
  #size = 0;

  constructor(slots = 256) {
    this.#slots = new Array<E | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  /** How many entries are in the table. */
  get size(): number {
    return this.#size;
  }

  get(id: number): E | undefined {
    const e = this.#slots[id & this.#mask];
    if (e !== undefined && e.id === id) return e;
    return this.#overflow.size > 0 ? this.#overflow.get(id) : undefined;
  }

  add(e: E): void {
    while (this.#slots[e.id & this.#mask] !== undefined && this.#slots.length < TABLE_MAX) this.#grow();
    const i = e.id & this.#mask;
    if (this.#slots[i] === undefined) this.#slots[i] = e;
    else this.#overflow.set(e.id, e);
    this.#size++;
  }

  delete(id: number): boolean {
    const i = id & this.#mask;
    const e = this.#slots[i];
    if (e !== undefined && e.id === id) {
      this.#slots[i] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow.size > 0 && this.#overflow.delete(id)) {
      this.#size--;
      return true;
    }
    return false;
  }

  /** Every entry (a new array, for the slow paths). */
  values(): E[] {
    const out: E[] = [];
    for (const e of this.#slots) if (e !== undefined) out.push(e);
    for (const e of this.#overflow.values()) out.push(e);
    return out;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#overflow.clear();
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array<E | undefined>(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    const spilled = [...this.#overflow.values()];
    this.#overflow.clear();
    for (const e of old) if (e !== undefined) this.#place(e);
    for (const e of spilled) this.#place(e);
  }

  #place(e: E): void {
    const i = e.id & this.#mask;
    if (this.#slots[i] === undefined) this.#slots[i] = e;
    else this.#overflow.set(e.id, e);
  }
}

/** A FIFO of fixed-size records of u32 words (completions as the device wrote them), grown by doubling. */
export class WordQueue {
  readonly recordWords: number;
  #words: Uint32Array;
  #mask: number;
  #head = 0;
  #tail = 0;

  constructor(recordWords: number, records = 256) {
    this.recordWords = recordWords;
    this.#words = new Uint32Array(records * recordWords);
    this.#mask = records - 1;
  }

  /** How many records are queued. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /** The storage; record `k` from the front starts at `offset(k)`. */
  get words(): Uint32Array {
    return this.#words;
  }

  offset(k: number): number {
    return ((this.#head + k) & this.#mask) * this.recordWords;
  }

  /** Appends the record at `src[at]`. */
  push(src: Uint32Array, at: number): void {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    const w = this.recordWords;
    const to = (this.#tail & this.#mask) * w;
    const words = this.#words;
    for (let i = 0; i < w; i++) words[to + i] = src[at + i] as number;
    this.#tail++;
  }

  /** Drops `n` records from the front. */
  shift(n: number): void {
    this.#head += n;
    if (this.#head === this.#tail) this.#head = this.#tail = 0;
  }

  clear(): void {
    this.#head = this.#tail = 0;
  }

  #grow(): void {
    const n = this.length;
    const w = this.recordWords;
    const bigger = new Uint32Array(this.#words.length * 2);
    for (let k = 0; k < n; k++) bigger.set(this.#words.subarray(this.offset(k), this.offset(k) + w), k * w);
    this.#words = bigger;
    this.#mask = bigger.length / w - 1;
    this.#head = 0;
    this.#tail = n;
  }
}

/**
 * The completions reaped and not yet taken by poll, wait or completions: objects, or on
 * the encoded path words, made objects only when taken as objects.
 */
export class Pending<Cpl> {
  #objects: Cpl[] = [];
  #words: WordQueue | undefined;
  #decoder: { decode(words: Uint32Array, at: number): Cpl } | undefined;

  constructor(encoded: EncodedPath<Cpl> | undefined) {
    if (encoded !== undefined) {
      this.#words = new WordQueue(encoded.completionWords);
      this.#decoder = encoded.decoder;
    }
  }

  get length(): number {
    return this.#words === undefined ? this.#objects.length : this.#words.length;
  }

  pushObject(c: Cpl): void {
    this.#objects.push(c);
  }

  pushWords(words: Uint32Array, at: number): void {
    (this.#words as WordQueue).push(words, at);
  }

  /** The oldest, as an object (there is one). */
  take(): Cpl {
    const p = this.#words;
    if (p === undefined) return this.#objects.shift() as Cpl;
    const c = (this.#decoder as { decode(words: Uint32Array, at: number): Cpl }).decode(p.words, p.offset(0));
    p.shift(1);
    return c;
  }

  /** Up to `max` of the oldest, as objects. */
  takeMany(max: number): Cpl[] {
    const p = this.#words;
    if (p === undefined) return this.#objects.splice(0, max);
    const out: Cpl[] = [];
    const n = Math.min(max, p.length);
    const d = this.#decoder as { decode(words: Uint32Array, at: number): Cpl };
    const src = p.words;
    for (let k = 0; k < n; k++) out.push(d.decode(src, p.offset(k)));
    p.shift(n);
    return out;
  }

  /** Copies up to `max` of the oldest as words into `out` from word 0 (encoded path); returns how many. */
  takeWords(out: Uint32Array, max: number): number {
    const p = this.#words as WordQueue;
    const n = Math.min(max, p.length);
    const w = p.recordWords;
    const src = p.words;
    for (let k = 0; k < n; k++) {
      const from = p.offset(k);
      for (let i = 0; i < w; i++) out[k * w + i] = src[from + i] as number;
    }
    p.shift(n);
    return n;
  }

  clear(): void {
    this.#objects = [];
    this.#words?.clear();
  }
}

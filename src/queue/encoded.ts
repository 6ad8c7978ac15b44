/**
 * The queue's encoded path, as functions over the driver: requests encoded once into the
 * device's descriptor format, and the checked range of descriptors to send as they are.
 *
 * @module
 */
import type { UserDriver } from "../drivers/driver.ts";

function noEncoded(driver: UserDriver<unknown, unknown, unknown>, action: string): Error {
  return new Error(`Cannot ${action}: the ${driver.deviceApi} driver has no encoded path (descriptorWords, encode, submitEncoded); use send() or sendBatch()`);
}

/**
 * Encodes `requests` into one array of descriptors, request `i` at word `i * descriptorWords`.
 *
 * @throws {TypeError | RangeError} when the driver refuses a request (the message names it).
 * @throws {Error} when the driver has no encoded path.
 * @example
 * ```ts
 * import { wdDummyV1Driver } from "warpdrive";
 * import { encodeAll } from "./encoded.ts";
 * const words = encodeAll(wdDummyV1Driver, [{ op: "nop", id: 1 }]); // 8 words
 * ```
 */
export function encodeAll<Req>(driver: UserDriver<unknown, Req, unknown>, requests: readonly Req[]): Uint32Array {
  const dw = driver.descriptorWords;
  if (dw === undefined || driver.encode === undefined) throw noEncoded(driver as UserDriver<unknown, unknown, unknown>, "encode requests");
  const words = new Uint32Array(requests.length * dw);
  for (let i = 0; i < requests.length; i++) {
    try {
      driver.encode(requests[i] as Req, words, i * dw);
    } catch (e) {
      if (e instanceof Error) e.message = `request ${i}: ${e.message}`;
      throw e;
    }
  }
  return words;
}

/**
 * Checks a range of encoded descriptors for `submitEncoded` and returns how many to send.
 *
 * @throws {TypeError} when `words` is not a Uint32Array of whole descriptors.
 * @throws {RangeError} when the range is not inside `words`.
 * @throws {Error} when the driver has no encoded path.
 * @example
 * ```ts
 * import { wdDummyV1Driver } from "warpdrive";
 * import { encodedCount } from "./encoded.ts";
 * encodedCount(wdDummyV1Driver, new Uint32Array(32), 1, undefined); // 3
 * ```
 */
export function encodedCount<Req>(driver: UserDriver<unknown, Req, unknown>, words: Uint32Array, first: number, count: number | undefined): number {
  const dw = driver.descriptorWords;
  if (dw === undefined || driver.submitEncoded === undefined) throw noEncoded(driver as UserDriver<unknown, unknown, unknown>, "send encoded requests");
  if (!(words instanceof Uint32Array) || words.length % dw !== 0) {
    throw new TypeError(`Cannot send encoded requests: words must be a Uint32Array of whole ${dw}-word descriptors (got ${words instanceof Uint32Array ? `${words.length} words` : typeof words})`);
  }
  const total = words.length / dw;
  const n = count === undefined ? total - first : count;
  if (!Number.isInteger(first) || !Number.isInteger(n) || first < 0 || n < 0 || first + n > total) {
    throw new RangeError(`Cannot send encoded requests from descriptor ${first}, count ${count}: the array holds descriptors 0..${total - 1}`);
  }
  return n;
}

/**
 * Checks `words` for `pollEncoded` and returns how many completions to copy into it at
 * most: `max`, bounded by the whole completions it holds.
 *
 * @throws {RangeError} when `words` is not a Uint32Array with room for one completion.
 * @throws {Error} when the queue has no encoded completions (`completionWords` undefined).
 * @example
 * ```ts
 * import { wdDummyV1Driver } from "warpdrive";
 * import { encodedRoom } from "./encoded.ts";
 * encodedRoom(wdDummyV1Driver, 4, new Uint32Array(64), 100); // 16
 * ```
 */
export function encodedRoom<Req>(driver: UserDriver<unknown, Req, unknown>, completionWords: number | undefined, words: Uint32Array, max: number): number {
  if (completionWords === undefined) {
    throw new Error(`Cannot poll for encoded completions: the ${driver.deviceApi} driver has none (completionWords, pollEncoded, decode); use poll()`);
  }
  if (!(words instanceof Uint32Array) || words.length < completionWords) {
    throw new RangeError(`Cannot poll for encoded completions: words must be a Uint32Array with room for at least one ${completionWords}-word completion`);
  }
  if (!(typeof max === "number" && max >= 0)) throw new RangeError(`Cannot poll for encoded completions with max ${JSON.stringify(max)}: it must be a non-negative number`);
  return Math.min(Math.floor(max), Math.floor(words.length / completionWords));
}

/**
 * errno numbers and names (`"EBUSY"`), from the runtime's table of the machine's values.
 *
 * @module
 */

import { builtin } from "../_runtime.ts";

/** Aliases that share a number with a better-known name; the better-known one wins. */
const PREFERRED: readonly string[] = ["EAGAIN", "EDEADLK", "EOPNOTSUPP"];

/** The runtime's errno table, read on first use (reading sysfs never needs it). */
let table: Readonly<Record<string, number>> | undefined;
let byNumber: Map<number, string> | undefined;

function errnoTable(): Readonly<Record<string, number>> {
  return (table ??= builtin("node:os").constants.errno as Record<string, number>);
}

function names(): Map<number, string> {
  if (byNumber === undefined) {
    byNumber = new Map();
    for (const [name, value] of Object.entries(errnoTable())) {
      if (!byNumber.has(value) || PREFERRED.includes(name)) byNumber.set(value, name);
    }
  }
  return byNumber;
}

/**
 * The symbolic name of an errno value.
 *
 * @param errno A positive errno value.
 * @returns `"EBUSY"` for 16 on Linux; `"E<number>"` for values the table does not know.
 * @example
 * ```ts
 * import { errnoName } from "warpdrive/sys";
 *
 * errnoName(2); // "ENOENT"
 * ```
 */
export function errnoName(errno: number): string {
  return names().get(errno) ?? `E${errno}`;
}

/**
 * The errno value of a symbolic name.
 *
 * @param name `"ENOENT"`, `"EBUSY"`, …
 * @returns The number on this machine.
 * @throws {RangeError} When the name is unknown.
 * @example
 * ```ts
 * import { errnoValue } from "warpdrive/sys";
 *
 * errnoValue("EBUSY"); // 16
 * ```
 */
export function errnoValue(name: string): number {
  const v = (errnoTable() as Record<string, number | undefined>)[name];
  if (v === undefined) throw new RangeError(`Cannot find errno "${name}": not a known errno name`);
  return v;
}

/**
 * The errno name carried by an error, the way Node's `fs` and this library's
 * `SyscallError` carry it in `code`; `undefined` when the error has none (a runtime's own
 * refusal, such as Deno's `NotCapable`, or a plain `Error`).
 *
 * @example
 * ```ts
 * import fs from "node:fs";
 * import { errorCode } from "warpdrive/sys";
 *
 * try { fs.readFileSync("/nope"); } catch (e) { errorCode(e); } // "ENOENT"
 * ```
 */
export function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

/**
 * Which JavaScript runtime runs this code. The only place that looks at runtime globals.
 *
 * @module
 */

/** The runtimes this library supports. */
export type RuntimeName = "bun" | "deno" | "node";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

/** The runtime running this code. */
export const runtime: RuntimeName = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** The Node built-in modules this library takes through {@link builtin}. */
interface Builtins {
  "node:fs": typeof import("node:fs");
  "node:os": typeof import("node:os");
  "node:buffer": typeof import("node:buffer");
}

/**
 * A Node built-in module, taken when first needed rather than imported: an `import` of
 * `node:fs` costs Node its ESM wrapper of the whole module at start-up, and Deno its
 * `node:` compatibility layer (about 50 ms) even on paths that never call it.
 *
 * @throws {Error} On a runtime without `process.getBuiltinModule` (Node before 20.16).
 */
export function builtin<K extends keyof Builtins>(name: K): Builtins[K] {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const m = p?.getBuiltinModule?.(name);
  if (m === undefined || m === null) throw new Error(`${name}: this runtime has no process.getBuiltinModule; use Node 20.16 or later, Bun or Deno`);
  return m as Builtins[K];
}

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

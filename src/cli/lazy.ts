/**
 * A lazy import that stays lazy under Deno. `deno run` builds its module graph before the
 * program starts and follows every `import("…")` whose specifier is a string literal, so a
 * literal lazy import is loaded at start-up all the same (the whole library, for `wd
 * --version`: about 10 ms). The specifier given here is not a literal, so the module loads
 * when it is asked for, in every runtime.
 *
 * `spec` is written as the sources name the module (`"../sysfs/enumerate.ts"`); run from
 * the build (`import.meta.url` ending in `.js`) it names the compiled `.js`.
 *
 * Written `await lazy<typeof import("../sysfs/enumerate.ts")>("../sysfs/enumerate.ts",
 * import.meta.url)`: the type names the module for the compiler (a type is not loaded).
 *
 * @module
 */

/** Imports `spec`, relative to the module at `from` (its `import.meta.url`), when called. */
export function lazy<T>(spec: string, from: string): Promise<T> {
  const url = new URL(from.endsWith(".js") ? spec.replace(/\.ts$/, ".js") : spec, from);
  return import(url.href) as Promise<T>;
}

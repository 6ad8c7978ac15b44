// The architecture's rules, read from the sources themselves: imports point one way (the
// layer diagram below, after ../shared/STYLE.md), no import loop, nothing re-exported from a
// private `_` file, files a reader can hold (at most 400 lines), koffi loaded by one file,
// and a curated root entry.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SRC = join(ROOT, "src");
const MAX_LINES = 400;
const MAX_ROOT_EXPORTS = 80;

/**
 * Which layers each layer may import (besides itself and the two root files every layer
 * may use, src/version.ts and src/_runtime.ts). The diagram, top to bottom:
 *
 *   cli/ ──► queue/ ──► vfio/ ──► sys/ ──► abi/
 *              ├──► uacce/ ──► sys/, abi/   (a UACCE queue's char device)
 *   testing/ ──► sysfs/   (warpdrive/testing: fixtures for the user's tests)
 *              ├──► select/ ──► sysfs/ ──► sys/
 *              ├──► mdev/   ──► sysfs/
 *              └──► drivers/ ──► sys/
 */
const ALLOWED: Record<string, readonly string[]> = {
  cli: ["queue", "select", "mdev", "drivers", "sysfs", "vfio", "sys", "abi"],
  queue: ["select", "mdev", "drivers", "sysfs", "vfio", "uacce", "sys", "abi"],
  select: ["sysfs", "abi"],
  mdev: ["sysfs", "sys"],
  drivers: ["sys", "abi"],
  sysfs: ["sys"],
  vfio: ["sys", "abi"],
  uacce: ["sys", "abi"],
  sys: ["abi"],
  abi: [],
  testing: ["sysfs"],
};
const SHARED = new Set(["src/version.ts", "src/_runtime.ts"]);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

type Edge = { from: string; to: string; reexport: boolean };

/** Every relative import and re-export of a file (static, type-only and dynamic alike). */
function importsOf(file: string): { edges: Edge[]; bare: string[] } {
  const text = readFileSync(file, "utf8");
  const edges: Edge[] = [];
  const bare: string[] = [];
  const re = /^\s*(import|export)\b[^;]*?\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[2] ?? m[3] ?? "";
    if (!spec.startsWith(".")) {
      bare.push(spec);
      continue;
    }
    edges.push({ from: relative(ROOT, file), to: relative(ROOT, resolve(dirname(file), spec)), reexport: m[1] === "export" });
  }
  return { edges, bare };
}

const layerOf = (f: string): string | null => (f.startsWith("src/") && f.split("/").length > 2 ? f.split("/")[1]! : null);

const FILES = [...walk(SRC), join(ROOT, "mod.ts")];
const GRAPH = new Map(FILES.map((f) => [relative(ROOT, f), importsOf(f)]));

describe("house rules", () => {
  test("imports follow the layer diagram", () => {
    const wrong: string[] = [];
    for (const { edges } of GRAPH.values()) {
      for (const e of edges) {
        const a = layerOf(e.from);
        const b = layerOf(e.to);
        if (a === null || b === null || a === b || SHARED.has(e.to)) continue;
        if (!(ALLOWED[a] ?? []).includes(b)) wrong.push(`${e.from} -> ${e.to} (${a}/ may import ${(ALLOWED[a] ?? []).join(", ") || "nothing"})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("no import loop, type imports included", () => {
    const loops: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, "open");
      stack.push(f);
      for (const e of GRAPH.get(f)?.edges ?? []) {
        if (!GRAPH.has(e.to)) continue;
        const s = state.get(e.to);
        if (s === "open") loops.push([...stack.slice(stack.indexOf(e.to)), e.to].join(" -> "));
        else if (s === undefined) visit(e.to);
      }
      stack.pop();
      state.set(f, "done");
    };
    for (const f of GRAPH.keys()) if (!state.has(f)) visit(f);
    expect(loops).toEqual([]);
  });

  test("nothing is re-exported from a private _ file", () => {
    const leaks: string[] = [];
    for (const { edges } of GRAPH.values()) {
      for (const e of edges) if (e.reexport && e.to.split("/").pop()!.startsWith("_")) leaks.push(`${e.from} re-exports ${e.to}`);
    }
    expect(leaks).toEqual([]);
  });

  test(`every file in src/ has at most ${MAX_LINES} lines`, () => {
    const long = FILES.filter((f) => f.startsWith(SRC))
      .map((f) => [relative(ROOT, f), readFileSync(f, "utf8").split("\n").length - 1] as const)
      .filter(([, n]) => n > MAX_LINES)
      .map(([f, n]) => `${f}: ${n} lines`);
    expect(long).toEqual([]);
  });

  test("only src/sys/_ffi.ts imports koffi", () => {
    const users = [...GRAPH].filter(([, g]) => g.bare.includes("koffi")).map(([f]) => f);
    expect(users).toEqual(["src/sys/_ffi.ts"]);
  });

  test(`the root entry is the user's API: under ${MAX_ROOT_EXPORTS} runtime names`, async () => {
    const names = Object.keys(await import("../../mod.ts"));
    expect(names.length).toBeLessThan(MAX_ROOT_EXPORTS);
  });
});

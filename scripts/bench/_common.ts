/**
 * What the benchmarks share: medians, the C compiler, the runtimes, the machine, tables
 * and the JSON results in `bench-results/`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where benchmark binaries and builds go (git-ignored). */
export const CACHE: string = path.join(ROOT, ".cache", "bench");
/** Where results go (git-ignored). */
export const RESULTS: string = path.join(ROOT, "bench-results");

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs a command, returns stdout; throws with its stderr when it fails. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined>; timeout?: number } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: options.timeout ?? 600_000,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The C compiler, or a thrown error saying how to get one. */
export function cc(): string {
  const c = process.env["CC"] ?? "gcc";
  const r = spawnSync(c, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`The benchmarks need a C compiler for their C reference: "${c}" is not there (apt-get install build-essential, or set CC)`);
  return c;
}

/** Compiles one C file with -O2 into `.cache/bench/<name>` (again when the source is newer). */
export function compileC(source: string, name: string, extra: readonly string[] = []): string {
  fs.mkdirSync(CACHE, { recursive: true });
  const out = path.join(CACHE, name);
  const src = path.join(ROOT, source);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    run(cc(), ["-O2", "-Wall", "-Wextra", "-o", out, src, ...extra]);
  }
  return out;
}

/** Builds the C barrier library into `.cache/bench/` and returns its path. */
export function buildBarrierLib(): string {
  cc();
  const dir = path.join(CACHE, "wd_barrier");
  return run("bash", [path.join(ROOT, "scripts", "build_barrier.sh"), dir]).trim().split("\n").pop() as string;
}

/** A runtime to run JavaScript workers in. */
export interface Runtime {
  readonly name: "bun" | "deno" | "node";
  /** The command and the arguments before the script. */
  readonly argv: readonly string[];
  /** The directory that holds `src/` for this runtime, and the extension to import. */
  readonly srcDir: string;
  readonly ext: "ts" | "js";
  readonly version: string;
}

function bunPath(): string {
  const g = globalThis as { Bun?: unknown };
  if (g.Bun !== undefined) return process.execPath;
  return path.join(ROOT, "node_modules", ".bin", "bun");
}

/**
 * The runtimes that are there: Bun and Deno run the sources; Node runs a build of them made
 * with the package's own build settings into `.cache/bench/dist` (Node 20 cannot run
 * TypeScript), so the shipped `dist/` is left alone.
 */
export function runtimes(wanted: readonly string[]): { found: Runtime[]; missing: Record<string, string> } {
  const found: Runtime[] = [];
  const missing: Record<string, string> = {};
  for (const name of wanted) {
    try {
      if (name === "bun") {
        const bin = bunPath();
        found.push({ name, argv: [bin], srcDir: ROOT, ext: "ts", version: run(bin, ["--version"]).trim() });
      } else if (name === "deno") {
        const bin = path.join(ROOT, "node_modules", ".bin", "deno");
        if (!fs.existsSync(bin)) throw new Error("deno is not installed (it is a dev dependency: npm install)");
        const version = (run(bin, ["--version"]).split("\n")[0] ?? "").replace(/^deno /, "").split(" ")[0] ?? "";
        found.push({ name, argv: [bin, "run", "--allow-ffi", "--allow-read", "--allow-env", "--allow-run", "--allow-write"], srcDir: ROOT, ext: "ts", version });
      } else if (name === "node") {
        const version = run("node", ["--version"]).trim();
        const dist = path.join(CACHE, "dist");
        run("node", [
          path.join(ROOT, "node_modules", "typescript", "bin", "tsc"),
          "-p",
          path.join(ROOT, "tsconfig.build.json"),
          "--outDir",
          dist,
        ]);
        found.push({ name, argv: ["node"], srcDir: dist, ext: "js", version });
      } else {
        missing[name] = "unknown runtime";
      }
    } catch (e) {
      missing[name] = (e as Error).message.split("\n")[0] ?? "failed";
    }
  }
  return { found, missing };
}

/** What the results were measured on. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cpus: cpus.length,
    arch: os.arch(),
    kernel: os.release(),
    load: os.loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
}

/** Writes `file` (default `bench-results/<name>.json`) and returns its path. */
export function writeResults(name: string, data: unknown, file: string = path.join(RESULTS, `${name}.json`)): string {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Lays out rows as aligned columns (first row is the header). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")).join("\n");
}

/** A number with `d` decimals, or "n/a". */
export function fmt(x: number | undefined, d = 1): string {
  return x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d);
}

/** A ratio with its verdict against a goal (`≤ goal` passes). */
export function verdict(ratio: number | undefined, goal: number): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return "n/a";
  return `${ratio.toFixed(2)}x ${ratio <= goal ? "ok" : "MISS"}`;
}

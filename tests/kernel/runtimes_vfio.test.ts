// The VFIO layer under Node and Deno, not only Bun: each runtime runs tests/smoke/edu_open.js,
// which opens QEMU's edu device through VFIO, maps BAR0 and reads its registers. Node loads
// the JavaScript build in dist/ through the package's "exports" (build it on the host first:
// `npm run build`, which `npm run test:kernel` does), Deno the TypeScript sources through
// the import map that mirrors jsr.json. Deno is given --allow-all: it gates every read
// under /sys (and /dev, /proc) behind it, and locating a VFIO device reads sysfs links.
// Runs as root inside the kernel rig (scripts/rig.sh); fails outside it. Starting a runtime
// from the 9p-shared root takes seconds in the guest, hence the long timeouts.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { EDU, eduBdf } from "./edu_device.ts";

const REPO = join(import.meta.dir, "..", "..");
const PROBE = join("tests", "smoke", "edu_open.js");
/** The import map that points the package's entry points at the TypeScript sources (as jsr.json does). */
const SOURCES_MAP = join("tests", "smoke", "deno_sources.json");
const TIMEOUT_MS = 120_000;

interface ProbeResult {
  readonly module: string;
  readonly device: string;
  readonly id: number;
  readonly liveness: number;
  readonly closed: string;
}

/** Runs the probe with `argv` from the repository root and returns its one JSON line. */
function probe(argv: readonly string[]): ProbeResult {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, { cwd: REPO, encoding: "utf8", timeout: TIMEOUT_MS, env: process.env });
  if (r.error) throw new Error(`Cannot run ${JSON.stringify(cmd)}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status}:\n${r.stderr}${r.stdout}`);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as ProbeResult;
}

function expectEdu(result: ProbeResult, bdf: string): void {
  expect(result.device).toBe(bdf);
  expect(result.id).toBe(EDU.ID_VALUE);
  expect(result.liveness).toBe(~0x12345678 >>> 0);
  expect(result.closed).toBe("ClosedError");
}

describe("VFIO from each runtime", () => {
  test("the host's node is visible in the guest and is Node 20 or later", () => {
    eduBdf();
    const r = spawnSync("node", ["--version"], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout.trim()).toMatch(/^v(2\d|[3-9]\d)\./);
  }, TIMEOUT_MS);

  test("Node opens edu through the build in dist/ and reads its id register", () => {
    const bdf = eduBdf();
    expect(existsSync(join(REPO, "dist", "src", "vfio", "mod.js")), "dist/ is missing: run `npm run build` on the host").toBe(true);
    const result = probe(["node", PROBE]);
    expect(result.module).toEndWith("/dist/src/vfio/mod.js");
    expectEdu(result, bdf);
  }, TIMEOUT_MS);

  test("Deno opens edu through the sources and reads its id register", () => {
    const bdf = eduBdf();
    const result = probe(["deno", "run", "--allow-all", `--import-map=${SOURCES_MAP}`, PROBE]);
    expect(result.module).toEndWith("/src/vfio/mod.ts");
    expect(result.module).not.toContain("/dist/");
    expectEdu(result, bdf);
  }, TIMEOUT_MS);
});

/**
 * Builds `c/wd_barrier.c` with `scripts/build_barrier.sh` into a temporary directory, once
 * per test file, for the barrier tests. Without a C compiler it throws (the tests fail with
 * that message; they do not skip).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";

const ROOT = path.resolve(import.meta.dir, "..", "..");
let dir: string | undefined;

/** The path of a freshly built libwd_barrier.so. */
export function barrierLibrary(): string {
  const cc = process.env["CC"] ?? "cc";
  if (spawnSync(cc, ["--version"]).status !== 0) {
    throw new Error(`The barrier tests build c/wd_barrier.c and need a C compiler, but "${cc}" is not there: install one (apt-get install build-essential) or set CC`);
  }
  if (dir === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-barrier-"));
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "build_barrier.sh"), dir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/build_barrier.sh failed:\n${r.stderr}`);
  }
  return path.join(dir, "libwd_barrier.so");
}

/** Removes the temporary build (the loaded library stays mapped in this process). */
export function removeBarrierLibrary(): void {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

// The rig's preflight: before it builds or boots anything, a missing host program stops
// it with one line naming the program and the Debian package that has it.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const RIG = fileURLToPath(new URL("../../scripts/rig.sh", import.meta.url));
const COMMON = fileURLToPath(new URL("../../scripts/rig/common.sh", import.meta.url));

function which(cmd: string): string | null {
  const r = spawnSync("bash", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Runs `rig.sh preflight` with a PATH holding only the named programs. */
function preflightWith(programs: readonly string[]): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "wd-preflight-"));
  try {
    for (const p of programs) {
      const at = which(p);
      if (at === null) throw new Error(`this test needs ${p} on the host to build its PATH`);
      symlinkSync(at, join(dir, p));
    }
    const r = spawnSync(which("bash")!, [RIG, "preflight"], { encoding: "utf8", env: { PATH: dir } });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("rig preflight", () => {
  test("a missing program stops it with one line naming the program and its package", () => {
    // dirname for the script's own start; apt-get is the first program it checks.
    const r = preflightWith(["dirname"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("kernel rig: preflight: apt-get is missing: install the Debian package apt (apt-get install apt)\n");
  });

  test("the module tools are not needed on the host (the guest brings busybox's), QEMU is", () => {
    // Every program of the list but QEMU: the line names QEMU, and no kmod program is asked for.
    const r = spawnSync("bash", ["-c", `sed -n '/^HOST_PROGRAMS=(/,/^)/p' ${JSON.stringify(COMMON)}`], { encoding: "utf8" });
    const programs = [...r.stdout.matchAll(/([\w.-]+):[\w.-]+/g)].map((m) => m[1]!);
    expect(programs).not.toContain("insmod");
    expect(programs).not.toContain("rmmod");
    expect(programs).toContain("qemu-system-x86_64");
    const present = programs.filter((p) => p !== "qemu-system-x86_64" && which(p) !== null);
    const res = preflightWith(["dirname", ...present]);
    expect(res.status).toBe(1);
    // The first of the list that is absent from that PATH: QEMU, or one this host lacks.
    const first = programs.find((p) => p === "qemu-system-x86_64" || which(p) === null);
    expect(res.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(res.stderr).toContain(`preflight: ${first} is missing: install the Debian package`);
  });
});

// The rig takes kernel source files a module build names but the project does not hold
// (UACCE's uacce.c) from Debian's linux-source package: only when the Kbuild makefile
// names the object and the source directory lacks the file.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const RIG_DIR = fileURLToPath(new URL("../../scripts/rig/", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Runs the rig's needed_ksrc on a module source directory with the given files. */
function neededWith(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), "wd-ksrc-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const script = `set -euo pipefail; REPO=${JSON.stringify(REPO)}; . ${JSON.stringify(RIG_DIR + "common.sh")}; WD_KMOD_SRC=${JSON.stringify(dir)}; . ${JSON.stringify(RIG_DIR + "kmod.sh")}; needed_ksrc`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`needed_ksrc failed: ${r.stderr}`);
    return r.stdout.split("\n").filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("rig: kernel sources taken from linux-source", () => {
  test("the project's module makefile asks for uacce.c", () => {
    const r = spawnSync("bash", ["-c", `set -euo pipefail; REPO=${JSON.stringify(REPO)}; . ${JSON.stringify(RIG_DIR + "common.sh")}; . ${JSON.stringify(RIG_DIR + "kmod.sh")}; needed_ksrc`], { encoding: "utf8" });
    expect([r.status, r.stdout]).toEqual([0, "drivers/misc/uacce/uacce.c\n"]);
  });

  test("a makefile naming uacce.o in any obj-m form asks for it; one that does not, or a directory with uacce.c, does not", () => {
    expect(neededWith({ Makefile: "obj-m := foo.o uacce.o\n" })).toEqual(["drivers/misc/uacce/uacce.c"]);
    expect(neededWith({ Kbuild: "obj-m += uacce.o\n" })).toEqual(["drivers/misc/uacce/uacce.c"]);
    expect(neededWith({ Makefile: "obj-m := uacce_dummy.o wd_dummy.o\n" })).toEqual([]);
    expect(neededWith({ Makefile: "obj-m := uacce.o\n", "uacce.c": "/* own copy */\n" })).toEqual([]);
  });
});

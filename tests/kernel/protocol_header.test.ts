// The wd_dummy_v1 protocol is written down twice, as a C header (for the module and the
// C client) and as prose (scripts/rig/kmod/PROTOCOL.md, for the TypeScript driver). These
// tests keep the two equal and check the header's layout with the C compiler.
// Part of the kernel tier: runs inside the rig (gcc is there); fails outside it.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headerConstants, KMOD_DIR, requireRig, run } from "./kmod_harness.ts";

/** `| \`NAME\` | value | ...` rows of PROTOCOL.md's tables. */
function docConstants(): Map<string, number | string> {
  const out = new Map<string, number | string>();
  const text = readFileSync(join(KMOD_DIR, "PROTOCOL.md"), "utf8");
  for (const m of text.matchAll(/^\| `(WD_DUMMY_V1_\w+)` \| ([^|]+?) \|/gm)) {
    const raw = (m[2] ?? "").trim();
    out.set(m[1] ?? "", raw.startsWith('`"') ? raw.slice(2, -2) : Number(raw));
  }
  return out;
}

describe("protocol: wd_dummy_v1.h and PROTOCOL.md agree", () => {
  test("PROTOCOL.md lists every constant of wd_dummy_v1.h with the same value", () => {
    requireRig();
    const header = headerConstants();
    const doc = docConstants();
    expect(header.size).toBeGreaterThan(60);
    expect(Object.fromEntries(doc)).toEqual(Object.fromEntries(header));
  });

  test("the header's structs have the documented sizes and field offsets (gcc)", () => {
    requireRig();
    const dir = mkdtempSync(join(tmpdir(), "wd-proto-"));
    try {
      const src = join(dir, "layout.c");
      writeFileSync(
        src,
        `#include <stdio.h>
#include <stddef.h>
#include "wd_dummy_v1.h"
#define F(s, f) printf("%s.%s %zu %zu\\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))
int main(void) {
  printf("req %zu cpl %zu\\n", sizeof(struct wd_dummy_v1_req), sizeof(struct wd_dummy_v1_cpl));
  F(wd_dummy_v1_req, opcode); F(wd_dummy_v1_req, flags); F(wd_dummy_v1_req, id);
  F(wd_dummy_v1_req, src); F(wd_dummy_v1_req, dst); F(wd_dummy_v1_req, len);
  F(wd_dummy_v1_req, rsvd);
  F(wd_dummy_v1_cpl, id); F(wd_dummy_v1_cpl, status); F(wd_dummy_v1_cpl, opcode);
  F(wd_dummy_v1_cpl, result); F(wd_dummy_v1_cpl, sq_index);
  return 0;
}
`,
      );
      const exe = join(dir, "layout");
      const cc = run("gcc", ["-Wall", "-Werror", "-I", KMOD_DIR, "-o", exe, src]);
      expect(cc.stderr).toBe("");
      const out = run(exe, []).stdout.trim().split("\n");
      expect(out).toEqual([
        "req 32 cpl 16",
        "wd_dummy_v1_req.opcode 0 2",
        "wd_dummy_v1_req.flags 2 2",
        "wd_dummy_v1_req.id 4 4",
        "wd_dummy_v1_req.src 8 8",
        "wd_dummy_v1_req.dst 16 8",
        "wd_dummy_v1_req.len 24 4",
        "wd_dummy_v1_req.rsvd 28 4",
        "wd_dummy_v1_cpl.id 0 4",
        "wd_dummy_v1_cpl.status 4 2",
        "wd_dummy_v1_cpl.opcode 6 2",
        "wd_dummy_v1_cpl.result 8 4",
        "wd_dummy_v1_cpl.sq_index 12 4",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

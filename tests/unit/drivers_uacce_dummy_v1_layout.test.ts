// The uacce_dummy_v1 protocol is written down three times: as a C header for the kernel
// module (scripts/rig/kmod/uacce_dummy_v1.h), as TypeScript constants for the user-space
// driver (src/drivers/uacce_dummy_v1_layout.ts) and as prose (PROTOCOL_UACCE.md). These
// tests keep the three equal, constant by constant.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as layout from "../../src/drivers/uacce_dummy_v1_layout.ts";

const KMOD = path.resolve(import.meta.dir, "..", "..", "scripts", "rig", "kmod");

function headerDefines(): Map<string, string | number> {
  const defs = new Map<string, string | number>();
  for (const line of fs.readFileSync(path.join(KMOD, "uacce_dummy_v1.h"), "utf8").split("\n")) {
    const m = /^#define (UACCE_DUMMY_V1_\w+) (.+?)\s*$/.exec(line);
    if (!m || m[1] === "UACCE_DUMMY_V1_H") continue;
    const v = m[2] as string;
    defs.set(m[1] as string, v.startsWith('"') ? JSON.parse(v) : Number(v));
  }
  return defs;
}

/** `| \`NAME\` | value | ...` rows of PROTOCOL_UACCE.md's tables. */
function docConstants(): Map<string, string | number> {
  const out = new Map<string, string | number>();
  const text = fs.readFileSync(path.join(KMOD, "PROTOCOL_UACCE.md"), "utf8");
  for (const m of text.matchAll(/^\| `(UACCE_DUMMY_V1_\w+)` \| ([^|]+?) \|/gm)) {
    const raw = (m[2] ?? "").trim();
    out.set(m[1] ?? "", raw.startsWith('`"') ? raw.slice(2, -2) : Number(raw));
  }
  return out;
}

test("the TypeScript layout equals the kernel module's header, constant by constant", () => {
  const defs = headerDefines();
  expect(defs.size).toBeGreaterThan(60);
  const ts = new Map(Object.entries(layout));
  for (const [name, value] of defs) expect([name, ts.get(name)]).toEqual([name, value]);
  for (const name of ts.keys()) expect([name, defs.has(name)]).toEqual([name, true]);
});

test("PROTOCOL_UACCE.md lists every constant of the header with the same value", () => {
  const defs = headerDefines();
  const doc = docConstants();
  expect(doc.size).toBeGreaterThan(60);
  expect(Object.fromEntries(doc)).toEqual(Object.fromEntries(defs));
});

test("the derived sizes hold: rings and arena fill the DUS region, registers fit the MMIO page", () => {
  expect(layout.UACCE_DUMMY_V1_CQ_OFFSET).toBe(
    layout.UACCE_DUMMY_V1_SQ_OFFSET + layout.UACCE_DUMMY_V1_SQ_ENTRIES * layout.UACCE_DUMMY_V1_REQ_SIZE,
  );
  expect(layout.UACCE_DUMMY_V1_ARENA_OFFSET).toBe(
    layout.UACCE_DUMMY_V1_CQ_OFFSET + layout.UACCE_DUMMY_V1_CQ_ENTRIES * layout.UACCE_DUMMY_V1_CPL_SIZE,
  );
  expect(layout.UACCE_DUMMY_V1_DUS_SIZE).toBe(layout.UACCE_DUMMY_V1_ARENA_OFFSET + layout.UACCE_DUMMY_V1_ARENA_SIZE);
  expect(layout.UACCE_DUMMY_V1_DUS_SIZE % 4096).toBe(0);
  expect(layout.UACCE_DUMMY_V1_MAX_LEN).toBeLessThanOrEqual(layout.UACCE_DUMMY_V1_ARENA_SIZE);
  expect(layout.UACCE_DUMMY_V1_REG_FAILED + 8).toBeLessThanOrEqual(layout.UACCE_DUMMY_V1_MMIO_SIZE);
});

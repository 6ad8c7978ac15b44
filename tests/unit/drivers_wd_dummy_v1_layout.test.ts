import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as layout from "../../src/drivers/wd_dummy_v1_layout.ts";

const HEADER = path.resolve(import.meta.dir, "..", "..", "scripts", "rig", "kmod", "wd_dummy_v1.h");

function headerDefines(): Map<string, string | number> {
  const defs = new Map<string, string | number>();
  for (const line of fs.readFileSync(HEADER, "utf8").split("\n")) {
    const m = /^#define (WD_DUMMY_V1_\w+) (.+?)\s*$/.exec(line);
    if (!m || m[1] === "WD_DUMMY_V1_H") continue;
    const v = m[2] as string;
    defs.set(m[1] as string, v.startsWith('"') ? JSON.parse(v) : Number(v));
  }
  return defs;
}

test("the TypeScript ring layout equals the kernel module's header, constant by constant", () => {
  const defs = headerDefines();
  expect(defs.size).toBeGreaterThan(40);
  const ts = new Map(Object.entries(layout));
  for (const [name, value] of defs) expect([name, ts.get(name)]).toEqual([name, value]);
  for (const name of ts.keys()) expect([name, defs.has(name)]).toEqual([name, true]);
});

test("the derived sizes hold: rings fit the queue region, registers fit the control page", () => {
  expect(layout.WD_DUMMY_V1_CQ_OFFSET).toBe(layout.WD_DUMMY_V1_SQ_OFFSET + layout.WD_DUMMY_V1_SQ_ENTRIES * layout.WD_DUMMY_V1_REQ_SIZE);
  expect(layout.WD_DUMMY_V1_QUEUE_SIZE).toBe(layout.WD_DUMMY_V1_CQ_OFFSET + layout.WD_DUMMY_V1_CQ_ENTRIES * layout.WD_DUMMY_V1_CPL_SIZE);
  expect(layout.WD_DUMMY_V1_REG_FAILED + 8).toBeLessThanOrEqual(layout.WD_DUMMY_V1_CTRL_SIZE);
});

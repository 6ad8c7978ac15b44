// The emulator's shared-memory layout is written twice, in C (scripts/emu/emu_layout.h)
// and in TypeScript (EMU in scripts/emu/emulator.ts): every value must agree.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EMU, ROOT } from "../../scripts/emu/emulator.ts";

test("every #define of emu_layout.h has the same value in EMU, and EMU has nothing else", () => {
  const text = readFileSync(join(ROOT, "scripts", "emu", "emu_layout.h"), "utf8");
  const header: Record<string, number> = {};
  for (const m of text.matchAll(/^#define EMU_([A-Z0-9_]+) (0x[0-9a-f]+|\d+)$/gm)) header[m[1]!] = Number(m[2]);
  expect(Object.keys(header).length).toBeGreaterThan(15);
  expect(header).toEqual({ ...EMU });
  // The page map fills the host area up to the arena.
  expect(EMU.ARENA_OFFSET - EMU.HOST_OFFSET - EMU.HOST_PAGE_MAP).toBe(EMU.HOST_PAGE_MAP_MAX);
});

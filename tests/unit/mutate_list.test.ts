// The mutation list of scripts/mutate.ts must keep applying as the sources change: each
// mutation's text is in its file exactly once, and applying it changes the file.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apply, MUTATIONS } from "../../scripts/mutate.ts";

const ROOT = join(import.meta.dir, "..", "..");

test("every mutation of scripts/mutate.ts applies once and changes its file", () => {
  expect(MUTATIONS.length).toBeGreaterThanOrEqual(20);
  expect(new Set(MUTATIONS.map((m) => m.id)).size).toBe(MUTATIONS.length);
  for (const m of MUTATIONS) {
    const text = readFileSync(join(ROOT, m.file), "utf8");
    const mutated = apply(text, m);
    expect(mutated, m.id).not.toBe(text);
  }
});

test("a mutation whose text is gone is reported, not skipped", () => {
  const m = { ...MUTATIONS[0]!, find: "no such text anywhere" };
  expect(() => apply("some file", m)).toThrow(/no longer in/);
});

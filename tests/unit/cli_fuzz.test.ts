// The wd command under random argument vectors (fast-check): it exits 0, 1 or 2 only,
// prints at most one line on stderr (pick --explain adds its candidate list on purpose),
// and never a stack trace. In-process for many cases, and as a real process for a few.
// Seeded and bounded: WD_FC_SEED=<n> replays a run, WD_FC_RUNS=<n> runs more cases.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as path from "node:path";
import { loadCommands, main, wantsJson } from "../../src/cli/wd.ts";

const COMMANDS = await loadCommands();
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { check } from "./_fc.ts";

const WD = path.resolve(import.meta.dir, "..", "..", "bin", "wd.ts");
const M1 = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";


const tree = makeSysfs({
  devices: [
    { id: "acc0", types: [{ name: "copy", mdevs: [M1] }, { name: "csum", flags: 0x1 }] },
    { id: "acc1", zoneId: 1, priority: -1, types: [{ name: "copy", flags: 0x1, availableInstances: 0 }] },
    { id: "acc2", priority: "x", types: [{ name: "copy" }] },
  ],
});
afterAll(() => tree.close());

const word = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("list", "pick", "create", "remove", "priority", "disable", "zone", "save", "help", "completion", "frobnicate") },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "--json",
      "--verbose",
      "-v",
      "--alg",
      "--wd-type",
      "--flags",
      "--api",
      "--zone",
      "--prefer",
      "--min-throughput",
      "--max-latency",
      "--allow-create",
      "--explain",
      "--device",
      "--type",
      "--uuid",
      "--sysfs",
      "--help",
      "-h",
      "--version",
      "-V",
      "--bogus",
      "-x",
      "--",
      "-",
      "--sysfs=",
      "--alg=copy",
      "--flags=0x2",
      "--json=1",
      "--dry-run",
      "--prune",
    ),
  },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "copy",
      "csum",
      "acc0",
      "acc1",
      "acc9",
      "wd_dummy-copy",
      "latency",
      M1,
      M1.toUpperCase(),
      "-1",
      "-7",
      "-0",
      "+5",
      "1e3",
      "0x10",
      "99999999999999999999",
      "",
      " ",
      "../acc0",
      "nonexistent-root",
      tree.root,
      "\u0000",
      "acc0\n",
      "bash",
      "zsh",
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);
const argvArb = fc.array(word, { maxLength: 8 });

function expectWellBehaved(argv: readonly string[], code: number | null, err: string, out: string): void {
  const label = JSON.stringify(argv);
  expect([label, [0, 1, 2].includes(code as number)]).toEqual([label, true]);
  expect([label, /^\s+at /m.test(err)]).toEqual([label, false]);
  if (wantsJson(argv, COMMANDS)) {
    // Under --json every outcome is one JSON document on stdout; a failure is {"error": …}
    // with the same exit code, and nothing on stderr.
    const doc = JSON.parse(out);
    expect([label, doc.schema]).toEqual([label, 1]);
    if (code !== 0 && !argv.includes("list")) {
      expect([label, typeof doc.error?.code, typeof doc.error?.message]).toEqual([label, "string", "string"]);
      expect([label, doc.error.code === "EUSAGE"]).toEqual([label, code === 2]);
      expect([label, err]).toEqual([label, ""]);
    }
    return;
  }
  const lines = err === "" ? [] : err.replace(/\n$/, "").split("\n");
  if (!argv.includes("--explain")) expect([label, lines.length <= 1]).toEqual([label, true]);
  if (code !== 0) expect([label, lines[0]?.startsWith("wd: ")]).toEqual([label, true]);
}

describe("wd under random argument vectors", () => {
  test("in process: exit 0, 1 or 2; at most one line on stderr; no stack trace", async () => {
    await check(
      "cli",
      fc.asyncProperty(argvArb, async (argv) => {
        const err: string[] = [];
        const out: string[] = [];
        let code: number;
        try {
          code = await main(argv, { out: (t) => out.push(`${t}\n`), err: (t) => err.push(`${t}\n`), env: { WD_SYSFS_ROOT: tree.root } });
        } catch (e) {
          throw new Error(`main threw for ${JSON.stringify(argv)}: ${e}`);
        }
        expectWellBehaved(argv, code, err.join(""), out.join(""));
      }),
      1500,
    );
  }, 30_000);

  test("as a process: the same, with the runtime's own handling of what main returns", async () => {
    await check(
      "cli process",
      fc.property(argvArb.filter((a) => !a.some((x) => x.includes("\u0000"))), (argv) => {
        const r = Bun.spawnSync([process.execPath, WD, ...argv], {
          env: { ...process.env, WD_SYSFS_ROOT: tree.root, WD_DEBUG: "" },
          timeout: 10_000,
        });
        expectWellBehaved(argv, r.exitCode, r.stderr.toString(), r.stdout.toString());
      }),
      15,
    );
  }, 30_000);
});

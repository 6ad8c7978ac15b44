// The command line's tokenizer (src/cli/args.ts) against Node's own parseArgs
// (node:util, strict, positionals allowed), whose rules it follows: the same values,
// positionals and refusals over random argument vectors, with parseArgs given what wd
// used to give it (negative whole numbers masked so that they read as words). The
// reference runs in a Node process: Bun's port of parseArgs differs in corner cases
// (it names an unknown short option without its dash, and reads "-v-" differently).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { type ArgSpec, ArgsError, parseArgv } from "../../src/cli/args.ts";
import { RUNS, SEED } from "./_fc.ts";
const SPEC: Record<string, ArgSpec> = {
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  alg: { type: "string" },
  sysfs: { type: "string" },
  class: { type: "string", multiple: true },
  tag: { type: "boolean", multiple: true, short: "t" },
  out: { type: "string", short: "o" },
};

type Outcome = { values: Record<string, unknown>; positionals: string[] } | { error: string; option: string };

/**
 * What Node's parseArgs says of each argument vector, as wd read it before: negative
 * numbers masked, the refused option and the kind of refusal taken from the message.
 */
const ORACLE = `
const { parseArgs } = require("node:util");
const { spec, cases } = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const NEG = "\\u0001";
const unmask = (x) => (typeof x === "string" && x.startsWith(NEG) ? x.slice(1) : x);
const out = cases.map((argv) => {
  try {
    const r = parseArgs({ args: argv.map((a) => (/^-\\d+$/.test(a) ? NEG + a : a)), options: spec, allowPositionals: true, strict: true });
    const values = {};
    for (const [k, x] of Object.entries(r.values)) values[k] = Array.isArray(x) ? x.map(unmask) : unmask(x);
    return { values, positionals: r.positionals.map(unmask) };
  } catch (e) {
    const m = /^Unknown option '(.*)'\\. To specify/s.exec(e.message) ?? /^Option '(.*?)(?: <value>)?' (?:argument|does not)/s.exec(e.message);
    if (m === null) return { error: "other: " + e.message, option: "" };
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return { error: "unknown", option: m[1] };
    const kind = /ambiguous/.test(e.message) ? "ambiguous" : /argument missing/.test(e.message) ? "missing" : "unexpected";
    return { error: kind, option: m[1] };
  }
});
process.stdout.write(JSON.stringify(out));
`;

/** A known option by its long name: parseArgs writes a refused value's option as "-o" or "-o, --out". */
function longName(option: string): string {
  const last = option.split(", ").at(-1) as string;
  const bare = last.replace(/^-+/, "");
  const short = Object.entries(SPEC).find(([, o]) => o.short === bare);
  return `--${short === undefined ? bare : short[0]}`;
}

function oracle(cases: string[][]): Outcome[] {
  const r = spawnSync("node", ["-e", ORACLE], { input: JSON.stringify({ spec: SPEC, cases }), maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`node (the reference parseArgs) failed: ${r.stderr?.toString() ?? r.error?.message}`);
  return (JSON.parse(r.stdout.toString()) as Outcome[]).map((o) => ("error" in o && o.error !== "unknown" ? { ...o, option: longName(o.option) } : o));
}

function ours(argv: string[]): Outcome {
  try {
    const r = parseArgv(argv, SPEC);
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    return { error: e.kind, option: e.kind === "unknown" ? e.option : longName(e.option) };
  }
}

const word = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      "--json", "--verbose", "-v", "-h", "-V", "-vh", "-hV", "--alg", "--sysfs", "--class", "--tag", "-t", "-tt", "-vt", "-o", "-ofile", "-vofile",
      "--out", "--alg=copy", "--alg=", "--alg=-x", "--json=1", "--json=", "--bogus", "--bogus=1", "-x", "-vx", "-xv", "--", "-", "-7", "-12",
      "-7x", "--no-json", "---", "--=x", "--class=a,b", "-o-", "--out=-3",
    ),
  },
  { weight: 3, arbitrary: fc.constantFrom("list", "copy", "acc0", "0x2", "/tmp/x", "", " ", "a=b") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }).map((s) => `-${s}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }).map((s) => `--${s}`) },
);

describe("parseArgv", () => {
  test("reads every argument vector as Node's parseArgs does", () => {
    const cases = fc.sample(fc.array(word, { maxLength: 8 }), { seed: SEED, numRuns: RUNS > 0 ? RUNS : 4000 });
    const want = oracle(cases);
    expect(want.length).toBe(cases.length);
    const differ = cases.flatMap((argv, i) => (Bun.deepEquals(ours(argv), want[i]) ? [] : [{ argv, ours: ours(argv), node: want[i] }]));
    if (differ.length > 0) console.error(`seed ${SEED}: ${differ.length} of ${cases.length} differ; first:`, JSON.stringify(differ.slice(0, 3)));
    expect(differ).toEqual([]);
    // The samples reach every outcome, so the comparison covers each rule.
    const kinds = new Set(want.map((o) => ("error" in o ? o.error : "accepted")));
    expect([...kinds].sort()).toEqual(["accepted", "ambiguous", "missing", "unexpected", "unknown"]);
  });

  test("examples: values, groups, negatives, the terminator, repeated options", () => {
    expect(ours(["list", "-v", "--class", "uacce", "--class=warpdrive", "--alg", "-7", "x", "--", "--json", "-v"])).toEqual({
      values: { verbose: true, class: ["uacce", "warpdrive"], alg: "-7" },
      positionals: ["list", "x", "--json", "-v"],
    });
    expect(ours(["-vofile", "-", "--out=b", "-12"])).toEqual({ values: { verbose: true, out: "b" }, positionals: ["-", "-12"] });
  });

  test("refusals name the option and say what to do", () => {
    const refuse = (argv: string[]): string => {
      try {
        parseArgv(argv, SPEC);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error(`${JSON.stringify(argv)} was accepted`);
    };
    expect(refuse(["--bogus=1"])).toBe("unknown option --bogus");
    expect(refuse(["-vx"])).toBe("unknown option -x");
    expect(refuse(["--alg"])).toBe("--alg takes a value, and none was given");
    expect(refuse(["--alg", "--json"])).toBe("--alg needs a value (for a value that starts with a dash, write --alg=VALUE)");
    expect(refuse(["--json=yes"])).toBe("--json takes no value");
    expect(refuse(["--constructor"])).toBe("unknown option --constructor");
  });
});

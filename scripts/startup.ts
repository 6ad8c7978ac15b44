/**
 * Start-up time of the `wd` command in Node, Bun and Deno, against the bare runtime.
 *
 * For each runtime: an empty script (the floor), `wd --version`, `wd --help` and `wd list`
 * of a small tree (three devices), each run `--runs` times (default 21) after two warm-up
 * runs, wall clock around the whole process. Prints the medians and how far each is above
 * the floor, and above a second floor, a script that only loads `node:fs`, `node:process`
 * and `node:util` (what Deno's compatibility layer makes expensive); the goals are `--version`/`--help` within 15 ms of the floor and `wd list`
 * within 30 ms. Node and Deno run the build (`dist/bin/wd.js`, what an npm install runs),
 * Bun the sources (`bin/wd.ts`); `--repo DIR` measures another checkout (built, with its
 * node_modules). It only measures: nothing here asserts a time.
 *
 * The children run without NODE_EXTRA_CA_CERTS (a CA bundle Node would parse at every start,
 * the same for every case, but noisy); `--keep-ca-certs` keeps it.
 *
 *   bun scripts/startup.ts [--runs N] [--json] [--repo DIR] [--keep-ca-certs]
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { makeSysfs } from "../src/sysfs/fixture.ts";
import { median } from "./bench/_common.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { runs: { type: "string", default: "21" }, json: { type: "boolean" }, repo: { type: "string" }, "keep-ca-certs": { type: "boolean" } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`startup: --runs ${JSON.stringify(values.runs)}: give a whole number of runs, 1 or more\n`);
  process.exit(2);
}
const repo = path.resolve(values.repo ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
const bin = (p: string): string => path.join(repo, "node_modules", ".bin", p);
const distWd = path.join(repo, "dist", "bin", "wd.js");
if (!fs.existsSync(distWd)) {
  process.stderr.write(`startup: ${distWd} is missing: run npm run build in ${repo}\n`);
  process.exit(1);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wd-startup-"));
const empty = path.join(scratch, "empty.mjs");
fs.writeFileSync(empty, "");
// The second floor: a script that loads the node: modules any command line for these
// runtimes needs (Deno compiles its node: compatibility layer on first use, about 50 ms).
const nodeFloor = path.join(scratch, "node_floor.mjs");
fs.writeFileSync(nodeFloor, 'import * as fs from "node:fs";\nimport process from "node:process";\nimport { parseArgs } from "node:util";\nvoid fs, process, parseArgs;\n');
const tree = makeSysfs({
  devices: [
    { id: "acc0", priority: 0, types: [{ name: "copy", mdevs: ["83b8f4f2-509f-482f-8c1e-e6bfe0fa1001"] }, { name: "csum" }] },
    { id: "acc1", priority: -3, zoneId: 1, types: [{ name: "copy" }, { name: "csum" }] },
    { id: "acc2", priority: 7, types: [{ name: "copy" }] },
  ],
});

interface Runtime {
  readonly name: string;
  readonly exe: string;
  /** The argument vector that runs a script file. */
  readonly script: (file: string) => string[];
  /** The wd entry this runtime's users run. */
  readonly wd: string;
}

const runtimes: Runtime[] = [
  { name: "node", exe: process.env["WD_STARTUP_NODE"] ?? "node", script: (f) => [f], wd: distWd },
  { name: "bun", exe: bin("bun"), script: (f) => [f], wd: path.join(repo, "bin", "wd.ts") },
  // The permissions `wd list` needs since koffi loads lazily; a checkout without that gets -A.
  { name: "deno", exe: bin("deno"), script: (f) => ["run", "--allow-read", "--allow-env", f], wd: distWd },
];

// NODE_EXTRA_CA_CERTS makes Node read and parse a CA bundle at every start (about 80 ms
// here, varying by +-25 ms), which has nothing to do with the command measured and hides
// it in the noise: the children run without it unless --keep-ca-certs.
const childEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
if (!values["keep-ca-certs"]) delete childEnv["NODE_EXTRA_CA_CERTS"];

function time(exe: string, args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(exe, args, { cwd: repo, stdio: ["ignore", "ignore", "pipe"], env: childEnv });
  const ms = performance.now() - t0;
  if (r.error) throw new Error(`${exe}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${exe} ${args.join(" ")} exited with ${r.status}: ${r.stderr.toString().trim()}`);
  return ms;
}

function measure(exe: string, args: readonly string[]): number {
  for (let i = 0; i < 2; i++) time(exe, args);
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(time(exe, args));
  return median(xs);
}

const results: Record<string, Record<string, number>> = {};
try {
  for (const rt of runtimes) {
    const cases: Record<string, string[]> = {
      bare: rt.script(empty),
      "node:": rt.script(nodeFloor),
      "--version": [...rt.script(rt.wd), "--version"],
      "--help": [...rt.script(rt.wd), "--help"],
      list: [...rt.script(rt.wd), "list", "--sysfs", tree.root],
    };
    const row: Record<string, number> = {};
    for (const [k, args] of Object.entries(cases)) {
      try {
        row[k] = measure(rt.exe, args);
      } catch (e) {
        // An older checkout may need more Deno permissions: measure it as it runs.
        if (rt.name !== "deno") throw e;
        row[k] = measure(rt.exe, ["run", "-A", ...args.slice(3)]);
      }
    }
    results[rt.name] = row;
  }
} finally {
  tree.close();
  fs.rmSync(scratch, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ schema: 1, runs, repo, caCerts: values["keep-ca-certs"] === true, medianMs: results }, null, 2)}\n`);
} else {
  const f = (x: number): string => x.toFixed(1);
  process.stdout.write(`median of ${runs} runs, ms (above the bare runtime / above a script loading node:fs, node:process and node:util; goals: --version/--help +15, list +30)\n`);
  process.stdout.write(`${"runtime".padEnd(8)}${"bare".padStart(8)}${"node:".padStart(8)}${"--version".padStart(22)}${"--help".padStart(22)}${"list".padStart(22)}\n`);
  for (const [name, r] of Object.entries(results)) {
    const bare = r["bare"] as number;
    const floor = r["node:"] as number;
    const d = (x: number): string => `${x >= 0 ? "+" : ""}${f(x)}`;
    const cell = (k: string): string => `${f(r[k] as number)} (${d((r[k] as number) - bare)}/${d((r[k] as number) - floor)})`.padStart(22);
    process.stdout.write(`${name.padEnd(8)}${f(bare).padStart(8)}${f(floor).padStart(8)}${cell("--version")}${cell("--help")}${cell("list")}\n`);
  }
}

// Runs one tier of the tests with `bun test` and then accounts for every test file: how
// many tests ran, passed and failed in each, a suite whose setup (beforeAll) failed named
// with its cause, and a failure for any file that ran no test at all (one that did not
// load, or whose setup threw before anything ran). Bun's own summary counts a failed hook
// as an "(unnamed)" test and leaves a file that failed to load out of its report, so a
// tier could look nearly green while whole suites never ran.
//
//   bun tests/run_tier.ts DIR [FILTER...] [-- BUN_TEST_ARGS...]
//
// DIR is the tier's directory (tests/unit, tests/kernel); a FILTER keeps the test files
// whose path contains it. The exit status is non-zero when bun test failed, any test
// failed, any file ran zero tests, or a test was skipped.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import process from "node:process";

/** What became of one test file. */
export interface FileResult {
  readonly file: string;
  /** Tests that ran (passed or failed), hooks not counted. */
  readonly ran: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Messages of failed hooks (beforeAll/afterAll), which bun reports as "(unnamed)". */
  readonly setupFailures: readonly string[];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

function attrOf(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m === null ? undefined : unescapeXml(m[1] ?? "");
}

/**
 * Tallies a bun JUnit report per test file. `expected` lists every file that should have
 * run (paths relative to `base`); a file missing from the report gets zero counts.
 */
export function tally(xml: string, expected: readonly string[], base: string): FileResult[] {
  type Acc = { ran: number; passed: number; failed: number; skipped: number; setup: string[] };
  const acc = new Map<string, Acc>();
  const get = (f: string): Acc => {
    let a = acc.get(f);
    if (a === undefined) acc.set(f, (a = { ran: 0, passed: 0, failed: 0, skipped: 0, setup: [] }));
    return a;
  };
  for (const f of expected) get(f);
  // A testcase is either self-closing or has a body holding <failure> or <skipped>.
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const tag = m[1] ?? "";
    const body = m[3] ?? "";
    const file = relative(base, resolve(base, attrOf(tag, "file") ?? "(unknown file)"));
    const a = get(file);
    const name = attrOf(tag, "name") ?? "";
    const failure = /<(failure|error)\b([^>]*)>/.exec(body);
    if (/<skipped\b/.test(body)) {
      a.skipped++;
    } else if (name === "(unnamed)") {
      // A hook: counted only when it failed, as the cause of what did not run.
      if (failure !== null) a.setup.push(attrOf(failure[2] ?? "", "message")?.split("\n")[0] ?? "(no message)");
    } else {
      a.ran++;
      if (failure !== null) a.failed++;
      else a.passed++;
    }
  }
  return [...acc].map(([file, a]) => ({
    file,
    ran: a.ran,
    passed: a.passed,
    failed: a.failed,
    skipped: a.skipped,
    setupFailures: a.setup,
  }));
}

/** The lines of the per-file report and whether the tier passed. */
export function report(results: readonly FileResult[], bunStatus: number | null): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = bunStatus === 0;
  const width = Math.max(4, ...results.map((r) => r.file.length));
  lines.push(`${"file".padEnd(width)}   ran  pass  fail  skip`);
  let ran = 0, passed = 0, failed = 0, skipped = 0, empty = 0;
  for (const r of results) {
    const notes: string[] = [];
    for (const s of r.setupFailures) notes.push(`setup failed: ${s}`);
    if (r.ran === 0) {
      empty++;
      if (r.setupFailures.length === 0) notes.push("ran zero tests: the file did not load or declares none (see its output above)");
      else notes.push("ran zero tests");
    }
    if (r.skipped > 0) notes.push(`${r.skipped} skipped: a tier never skips`);
    if (notes.length > 0 || r.failed > 0) ok = false;
    const row = `${r.file.padEnd(width)} ${String(r.ran).padStart(5)} ${String(r.passed).padStart(5)} ${String(r.failed).padStart(5)} ${String(r.skipped).padStart(5)}`;
    lines.push(notes.length > 0 ? `${row}  FAIL: ${notes.join("; ")}` : row);
    ran += r.ran;
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
  }
  if (bunStatus !== 0 && failed === 0 && empty === 0) lines.push(`bun test exited with status ${bunStatus} although every file reported its tests`);
  lines.push(
    `${results.length} files: ${ran} tests ran, ${passed} passed, ${failed} failed, ${skipped} skipped` +
      (empty > 0 ? `; ${empty} file(s) ran zero tests` : ""),
  );
  return { lines, ok };
}

/** Test files under `dir` (recursively), relative to `base`, keeping those matching a filter. */
export function testFiles(dir: string, filters: readonly string[], base: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.test\.(ts|js|mjs)$/.test(e.name)) out.push(relative(base, p));
    }
  };
  walk(dir);
  out.sort();
  return filters.length === 0 ? out : out.filter((f) => filters.some((x) => f.includes(x.replace(/^\.\//, ""))));
}

function main(argv: readonly string[]): number {
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const extra = dash < 0 ? [] : argv.slice(dash + 1);
  const [dir, ...filters] = own;
  if (dir === undefined) {
    console.error("usage: bun tests/run_tier.ts DIR [FILTER...] [-- BUN_TEST_ARGS...]");
    return 2;
  }
  const base = process.cwd();
  const files = testFiles(dir, filters, base);
  const tier = relative(base, resolve(dir));
  if (files.length === 0) {
    console.error(`test tier ${tier}: no test file matches ${filters.length > 0 ? filters.join(", ") : "(any)"}`);
    return 1;
  }
  const tmp = mkdtempSync(join(tmpdir(), "wd-tier-"));
  try {
    const out = join(tmp, "junit.xml");
    const r = spawnSync(
      process.execPath,
      ["test", ...extra, "--reporter=junit", `--reporter-outfile=${out}`, ...files.map((f) => `./${f}`)],
      { stdio: "inherit" },
    );
    if (r.error) {
      console.error(`test tier ${tier}: cannot run bun test: ${r.error.message}`);
      return 1;
    }
    let xml = "";
    try {
      xml = readFileSync(out, "utf8");
    } catch (e) {
      console.error(`test tier ${tier}: bun test wrote no report (${(e as Error).message}); exit status ${r.status ?? r.signal}`);
      return 1;
    }
    const { lines, ok } = report(tally(xml, files, base), r.status);
    console.log(`\ntest tier ${tier}, per file:`);
    for (const l of lines) console.log(`  ${l}`);
    console.log(ok ? `test tier ${tier}: PASSED` : `test tier ${tier}: FAILED`);
    return ok ? 0 : 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));

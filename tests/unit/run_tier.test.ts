// The tier runner's accounting: a failed setup and a file that never loaded must show
// as failures with their cause, never vanish from the counts.
import { describe, expect, test } from "bun:test";
import { report, tally } from "../run_tier.ts";

// Shapes as bun 1.4 writes them: a failed beforeAll is an "(unnamed)" testcase, nested
// describes are nested testsuites, and a file that threw on import is absent.
const XML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="4" assertions="2" failures="2" skipped="0" time="0.1">
  <testsuite name="a.test.ts" file="t/a.test.ts" tests="1" failures="1">
    <testsuite name="outer" file="t/a.test.ts" tests="1" failures="1">
      <testcase name="(unnamed)" classname="outer" time="0.0002" file="t/a.test.ts" assertions="0">
        <failure type="Error" message="insmod failed: &quot;x&quot; &lt;ENOENT&gt;&#10;second line">Error: …</failure>
      </testcase>
    </testsuite>
  </testsuite>
  <testsuite name="b.test.ts" file="t/b.test.ts" tests="3" failures="1">
    <testcase name="ok" classname="" time="0.00005" file="t/b.test.ts" line="2" assertions="1" />
    <testcase name="bad" classname="" time="0.0001" file="t/b.test.ts" line="3" assertions="1">
      <failure type="AssertionError" message="expected 2">AssertionError</failure>
    </testcase>
    <testcase name="sk" classname="" time="0" file="t/b.test.ts" line="4" assertions="0">
      <skipped />
    </testcase>
  </testsuite>
  <testsuite name="c.test.ts" file="t/c.test.ts" tests="2" failures="0">
    <testcase name="one" classname="" file="t/c.test.ts" assertions="1" />
    <testcase name="two" classname="" file="t/c.test.ts" assertions="1" />
  </testsuite>
</testsuites>`;

describe("run_tier", () => {
  const files = ["t/a.test.ts", "t/b.test.ts", "t/c.test.ts", "t/d.test.ts"];
  const results = tally(XML, files, "/repo");
  const byFile = new Map(results.map((r) => [r.file, r]));

  test("a failed setup hook is not counted as a test run, and its cause is kept", () => {
    expect(byFile.get("t/a.test.ts")).toEqual({
      file: "t/a.test.ts", ran: 0, passed: 0, failed: 0, skipped: 0,
      setupFailures: ['insmod failed: "x" <ENOENT>'],
    });
  });

  test("passes, failures and skips are counted per file", () => {
    expect(byFile.get("t/b.test.ts")).toMatchObject({ ran: 2, passed: 1, failed: 1, skipped: 1 });
    expect(byFile.get("t/c.test.ts")).toMatchObject({ ran: 2, passed: 2, failed: 0, skipped: 0 });
  });

  test("a file absent from the report (it failed to load) is listed with zero tests", () => {
    expect(byFile.get("t/d.test.ts")).toMatchObject({ ran: 0, passed: 0, failed: 0, setupFailures: [] });
  });

  test("the report fails a file that ran zero tests, names its setup cause, and refuses skips", () => {
    const { lines, ok } = report(results, 1);
    expect(ok).toBe(false);
    const line = (f: string) => lines.find((l) => l.startsWith(f)) ?? "";
    expect(line("t/a.test.ts")).toContain('FAIL: setup failed: insmod failed: "x" <ENOENT>; ran zero tests');
    expect(line("t/d.test.ts")).toContain("FAIL: ran zero tests: the file did not load");
    expect(line("t/b.test.ts")).toContain("1 skipped: a tier never skips");
    expect(line("t/c.test.ts")).not.toContain("FAIL");
    expect(lines.at(-1)).toBe("4 files: 4 tests ran, 3 passed, 1 failed, 1 skipped; 2 file(s) ran zero tests");
  });

  test("every file with tests, all passing, and bun's status 0 pass the tier; a non-zero status alone fails it", () => {
    const good = results.filter((r) => r.file === "t/c.test.ts");
    expect(report(good, 0).ok).toBe(true);
    const bad = report(good, 1);
    expect(bad.ok).toBe(false);
    expect(bad.lines.join("\n")).toContain("bun test exited with status 1");
  });
});

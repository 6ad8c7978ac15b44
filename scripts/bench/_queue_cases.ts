/**
 * The cases of `bench-results/queue.json`, shared by the native queue benchmark
 * (scripts/bench_queue.ts, on the host emulator) and the rig one (scripts/bench/queue_rig.ts,
 * inside the QEMU rig). Each part replaces its own cases and keeps the other's, so running
 * one part never clobbers the other.
 *
 * @module
 */
import * as fs from "node:fs";
import { fmt, table } from "./_common.ts";

/** One case, exactly as the issue defines the file. */
export interface QueueCase {
  readonly where: "native" | "rig";
  readonly measure: "rps" | "latency_p50" | "latency_p99" | "cpu_per_request";
  readonly depth: number;
  readonly size: number;
  readonly checks: boolean;
  readonly mode: "poll" | "irq";
  /**
   * Beyond the fields: the queue API the TypeScript side used (`objects`:
   * `sendBatch` and `poll`; `encoded`: `sendEncoded` and `pollEncoded`; `lent`: the rings
   * lent in place (`lendRing`); `run`; for
   * latency also `encoded+promise`, the engine's floor for a promise-returning call; for
   * rps also `floor`, the C client's loop in JavaScript with no library).
   */
  readonly api: "objects" | "encoded" | "lent" | "run" | "encoded+promise" | "floor";
  /** TypeScript's median (requests/s, or microseconds for latency, or ns of CPU per request). */
  readonly ts: number;
  /** C's median, in the same unit. */
  readonly c: number;
  /** ts/c for rps, c/ts for costs: 1 or more means TypeScript is as good as C. */
  readonly ratio: number;
}

/** The goal of a measure as a ratio (≥ goal passes), or undefined when it is only reported. */
export function goalOf(c: Pick<QueueCase, "measure" | "where" | "depth" | "api">): number | undefined {
  if (c.api === "encoded+promise" || c.api === "floor") return undefined; // the engine's floors, not the library
  switch (c.measure) {
    case "rps":
      return 0.9;
    case "latency_p50":
      return 1 / 1.3;
    case "cpu_per_request":
      return 1 / 1.5;
    default:
      return undefined;
  }
}

/** The case for a measure from the two medians. */
export function makeCase(base: Omit<QueueCase, "ratio" | "ts" | "c">, ts: number, c: number): QueueCase {
  const ratio = base.measure === "rps" ? ts / c : c / ts;
  return { ...base, ts: Number(ts.toPrecision(6)), c: Number(c.toPrecision(6)), ratio: Number(ratio.toFixed(3)) };
}

/** Writes `cases` into `file`, replacing the cases of the same `where` and keeping the rest. */
export function mergeCases(file: string, where: QueueCase["where"], cases: readonly QueueCase[]): void {
  let kept: QueueCase[] = [];
  if (fs.existsSync(file)) {
    try {
      const old = JSON.parse(fs.readFileSync(file, "utf8")) as { cases?: QueueCase[] };
      kept = (old.cases ?? []).filter((c) => c.where !== where);
    } catch {
      kept = []; // an older file in another shape: replaced
    }
  }
  fs.writeFileSync(file, `${JSON.stringify({ cases: [...kept, ...cases] }, null, 2)}\n`);
}

const UNIT: Record<QueueCase["measure"], string> = { rps: "req/s", latency_p50: "us", latency_p99: "us", cpu_per_request: "ns" };

/** A readable table of cases with each goal's verdict. */
export function caseTable(cases: readonly QueueCase[]): string {
  const rows = [["where", "measure", "depth", "size", "checks", "mode", "api", "C", "TS", "ratio", "goal"]];
  for (const c of cases) {
    const goal = goalOf(c);
    const d = c.measure === "rps" ? 0 : 1;
    rows.push([
      c.where,
      `${c.measure} (${UNIT[c.measure]})`,
      String(c.depth),
      String(c.size),
      c.checks ? "on" : "off",
      c.mode,
      c.api,
      fmt(c.c, d),
      fmt(c.ts, d),
      `${c.ratio.toFixed(2)}x`,
      goal === undefined ? "reported" : `>= ${goal.toFixed(2)}x ${c.ratio >= goal ? "ok" : "MISS"}`,
    ]);
  }
  return table(rows);
}

// The property tests' shared runner (fast-check): one seed for the whole run, a fixed
// number of cases, bounded in time, and the seed printed so a failure can be replayed.
//   WD_FC_SEED=<n> replays a run; WD_FC_RUNS=<n> runs more (or fewer) cases.
import fc from "fast-check";
import process from "node:process";

/** The seed of this run. */
export const SEED: number = Number(process.env["WD_FC_SEED"] ?? 20261129);
/** Cases per property when set; otherwise each property's own count. */
export const RUNS: number = Number(process.env["WD_FC_RUNS"] ?? 0);

/** fc.assert with the project's seed, printing how to replay a failure. */
export async function check<T>(name: string, property: fc.IProperty<T> | fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  const runs = RUNS > 0 ? RUNS : numRuns;
  // Bounded in time, shrinking included; a loaded machine may stop early, but never
  // before a quarter of the runs, so the test cannot pass having checked next to nothing.
  const details = await fc.check(property as fc.IAsyncProperty<T>, { seed: SEED, numRuns: runs, interruptAfterTimeLimit: 15_000 });
  const report = fc.defaultReportMessage(details);
  if (details.failed) {
    console.error(`property "${name}" failed; replay with WD_FC_SEED=${SEED} (fast-check's seed and path are in the message)`);
    throw new Error(report ?? `property "${name}" failed`);
  }
  if (details.numRuns < Math.ceil(runs / 4)) {
    throw new Error(`property "${name}": only ${details.numRuns} of ${runs} runs within the time limit (seed ${SEED})`);
  }
}

/**
 * `wd apply FILE` and `wd save`: declarative pre-work (see `src/mdev/state.ts` for the
 * document), each defined once, help, options and handler together.
 *
 * @module
 */
import type { Step } from "../mdev/state.ts";
import { type Command, UsageError } from "./command.ts";
import { entry } from "./table.ts";
import { lazy } from "./lazy.ts";

const stepJson = (s: Step): Record<string, unknown> => ({ ...s });

const apply: Command = {
  ...entry("apply"),
  details: `FILE is JSON, as wd save prints it:
  {"schema": 1, "devices": {"DEV": {"priority": N|"disabled", "zone": N,
                                    "types": {"TYPE_DIR": {"mdevs": COUNT|[UUID, ...]}}}}}
Fields left out are left as they are. mdevs is how many mediated devices of that type
should exist (new ones get random UUIDs), or exactly which UUIDs. Mediated devices the file
does not ask for are left alone unless --prune. Applying twice changes nothing. When a step
fails, the steps this run took are undone (mediated devices it created are removed again,
priorities and zones restored) and the error names the failed step. "-" reads stdin.`,
  options: {
    "dry-run": { type: "boolean", help: "print the plan, change nothing" },
    prune: { type: "boolean", help: "also remove mediated devices the file does not ask for" },
  },
  args: [{ name: "FILE", help: "the state file (JSON)", complete: "file" }],
  sysfs: true,
  async run(ctx) {
    const file = ctx.args[0] as string;
    const [fs, { enumerate }, state] = await Promise.all([import("node:fs"), lazy<typeof import("../sysfs/enumerate.ts")>("../sysfs/enumerate.ts", import.meta.url), lazy<typeof import("../mdev/state.ts")>("../mdev/state.ts", import.meta.url)]);
    let text: string;
    try {
      text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code ?? "EIO";
      throw new UsageError(`apply ${JSON.stringify(file)}: cannot read it (${code}); give a readable JSON file, as wd save prints`);
    }
    let doc;
    try {
      doc = state.parseState(text, file);
    } catch (e) {
      if (e instanceof state.StateError) throw new UsageError(`apply: ${e.message}`);
      throw e;
    }
    const root = ctx.root();
    // A document that names what the tree lacks is a failure against the tree (exit 1).
    let plan;
    try {
      plan = state.planState(doc, enumerate({ root, classes: ["warpdrive"] }), { prune: ctx.values["prune"] === true });
    } catch (e) {
      if (e instanceof state.StateError) throw new state.StateError(`apply ${file}: ${e.message}`, e.code);
      throw e;
    }
    const dryRun = ctx.values["dry-run"] === true;
    const steps = dryRun ? plan.steps : state.applySteps(plan.steps, { root });
    const verb = dryRun ? "would " : "";
    const lines = steps.map((s) => `${verb}${state.describeStep(s)}`);
    lines.push(...plan.notes.map((n) => `note: ${n}`));
    lines.push(steps.length === 0 ? "nothing to change" : dryRun ? `${steps.length} change(s) planned` : `${steps.length} change(s) made`);
    return { json: { dryRun, changed: dryRun ? 0 : steps.length, steps: steps.map(stepJson), notes: plan.notes }, text: lines.join("\n") };
  },
};

const save: Command = {
  ...entry("save"),
  details: `Every device's priority ("disabled" when outside [-100, 99]) and zone, and every
type's mediated devices by UUID. wd apply of what wd save printed changes nothing; at boot
it recreates the same mediated devices with the same UUIDs. The output is JSON with or
without --json.`,
  options: {},
  args: [],
  sysfs: true,
  async run(ctx) {
    const [{ enumerate }, { saveState }] = await Promise.all([lazy<typeof import("../sysfs/enumerate.ts")>("../sysfs/enumerate.ts", import.meta.url), lazy<typeof import("../mdev/state.ts")>("../mdev/state.ts", import.meta.url)]);
    const doc = saveState(enumerate({ root: ctx.root(), classes: ["warpdrive"] }));
    return { json: { devices: doc.devices }, text: JSON.stringify(doc, null, 2) };
  },
};

/** `apply` and `save`. */
export const STATE_COMMANDS: readonly Command[] = [apply, save];

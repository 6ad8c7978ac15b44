/**
 * The command table: every `wd` command's name, one-line summary and the file that defines
 * it, the global options, and the overview help built from them. It imports no command
 * and no `node:` module, so `wd --help` loads this alone, and `wd list` loads only the
 * file that defines `list` (`wd.ts` loads them).
 *
 * Each command's definition takes its name and summary from here (`...entry("list")`), so
 * the overview cannot drift from the commands.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import type { OptionDef } from "./command.ts";

/** The file a command is defined in. */
export type CommandGroup = "tree" | "state" | "misc" | "bench";

/** One command as the overview lists it. */
export interface CommandEntry {
  readonly name: string;
  /** One line for `wd help`. */
  readonly summary: string;
  readonly group: CommandGroup;
}

/** Every command of `wd`, in the order `wd help` lists them. */
export const ENTRIES: readonly CommandEntry[] = [
  { name: "list", group: "tree", summary: "list the accelerators, their types and mediated devices" },
  { name: "pick", group: "tree", summary: "choose the accelerator a queue request would get, and say why" },
  { name: "create", group: "tree", summary: "create a mediated device (root)" },
  { name: "remove", group: "tree", summary: "remove a mediated device (root)" },
  { name: "priority", group: "tree", summary: "set a device's priority, in [-100, 99]; smaller is preferred (root)" },
  { name: "disable", group: "tree", summary: "take a device out of choice (a priority outside the range) (root)" },
  { name: "zone", group: "tree", summary: "set a device's zone (root)" },
  { name: "apply", group: "state", summary: "make the tree as a state file says: priorities, zones, mediated devices (root)" },
  { name: "save", group: "state", summary: "print the tree's state in the format wd apply reads" },
  { name: "bench", group: "bench", summary: "requests through a real queue: requests/s, MB/s, latency p50/p99" },
  { name: "sample", group: "misc", summary: "write a sample sysfs tree to try wd without an accelerator" },
  { name: "completion", group: "misc", summary: "print a shell completion script" },
  { name: "help", group: "misc", summary: "the overview, or one command's options" },
];

/**
 * The name and summary of a command, for its definition (`{ ...entry("list"), options, … }`).
 *
 * @throws {Error} When the table has no such command (a definition the table does not list).
 */
export function entry(name: string): { readonly name: string; readonly summary: string } {
  const e = ENTRIES.find((x) => x.name === name);
  if (e === undefined) throw new Error(`wd: the command table has no ${JSON.stringify(name)}; add it to ENTRIES in src/cli/table.ts`);
  return { name: e.name, summary: e.summary };
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionDef>> = {
  sysfs: { type: "string", value: "ROOT", help: "the sysfs root (default /sys, or env WD_SYSFS_ROOT)" },
  json: { type: "boolean", help: 'JSON on stdout, "schema": 1; errors as {"error": {"code", "message"}}' },
  help: { type: "boolean", short: "h", help: "help (of the command, when one is given)" },
  version: { type: "boolean", short: "V", help: "the version" },
};

const EXIT_TEXT = `Exit codes: 0 done; 1 nothing found, nothing matched, or the operation failed
(permission, kernel refusal; the message says why); 2 bad usage or a malformed value.
Every error is one line on stderr (with --json, an object on stdout, same exit code).`;

const ENV_TEXT = `Environment: WD_SYSFS_ROOT (the sysfs root when --sysfs is not given), WD_DEBUG=1
(stack traces with errors), WD_BARRIER_LIB (the C doorbell library, for queues).`;

/** Lays out rows of cells in columns two spaces apart. */
export function pad(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
}

/** The lines of an option list in help: `  -h, --help  text`. */
export function optionLines(options: Readonly<Record<string, OptionDef>>): string[] {
  return pad(Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.choices ? o.choices.join("|") : o.value ?? "VALUE"}` : ""}`;
    return [`  ${flag}`, o.help];
  }));
}

/** The overview `wd --help` and `wd help` print. */
export function overviewHelp(): string {
  return [
    `wd ${VERSION}: find and arrange WarpDrive accelerators (/sys/class/warpdrive)`,
    "",
    "Usage: wd COMMAND [ARGS] [OPTIONS]",
    "",
    "Commands:",
    ...pad(ENTRIES.map((c) => [`  ${c.name}`, c.summary])),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "wd help COMMAND (or wd COMMAND --help) shows a command's options.",
    "",
    EXIT_TEXT,
    ENV_TEXT,
  ].join("\n");
}

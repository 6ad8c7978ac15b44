/**
 * The command table and the help built from it: everything `wd --help` needs, and nothing
 * that loads a `node:` module, so `bin/wd.ts` can answer `--help` without the parser (and,
 * in Deno, without its `node:` compatibility layer).
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { type Command, type OptionDef, pad, usageOf } from "./command.ts";
import { MISC_COMMANDS } from "./commands_misc.ts";
import { STATE_COMMANDS } from "./commands_state.ts";
import { TREE_COMMANDS } from "./commands_tree.ts";

/** Every command of `wd`, in the order `wd help` lists them. */
export const COMMANDS: readonly Command[] = [...TREE_COMMANDS, ...STATE_COMMANDS, ...MISC_COMMANDS];

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

function optionLines(options: Readonly<Record<string, OptionDef>>): string[] {
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
    ...pad(COMMANDS.map((c) => [`  ${c.name}`, c.summary])),
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

/** Every command's name, summary and usage, as `wd help --json` prints them. */
export function helpJson(): Record<string, unknown> {
  return { version: VERSION, commands: COMMANDS.map((c) => ({ name: c.name, summary: c.summary, usage: usageOf(c) })) };
}

/** The help of one command, built from its definition. */
export function commandHelp(c: Command): string {
  const lines = [`wd ${c.name}: ${c.summary}`, "", `Usage: ${usageOf(c)}`];
  if (c.args.length > 0) lines.push("", "Arguments:", ...pad(c.args.map((a) => [`  ${a.name}`, a.help])));
  if (Object.keys(c.options).length > 0) lines.push("", "Options:", ...optionLines(c.options));
  const globals = Object.fromEntries(Object.entries(GLOBAL_OPTIONS).filter(([k]) => c.sysfs || k !== "sysfs"));
  lines.push("", "Global options:", ...optionLines(globals));
  if (c.details !== undefined) lines.push("", c.details);
  return lines.join("\n");
}


/**
 * Help built from the command definitions: one command's help, and the list `wd help
 * --json` prints. The overview needs only the table (`table.ts`).
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { type Command, usageOf } from "./command.ts";
import { GLOBAL_OPTIONS, optionLines, pad } from "./table.ts";

/** Every command's name, summary and usage, as `wd help --json` prints them. */
export function helpJson(commands: readonly Command[]): Record<string, unknown> {
  return { version: VERSION, commands: commands.map((c) => ({ name: c.name, summary: c.summary, usage: usageOf(c) })) };
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

/**
 * Loads command definitions from the files the table names, only when they are needed:
 * `wd list` loads the file that defines `list`; help of every command, shell completion
 * and JSON errors load them all.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { type CommandGroup, ENTRIES } from "./table.ts";
import { lazy } from "./lazy.ts";

async function group(g: CommandGroup): Promise<readonly Command[]> {
  switch (g) {
    case "tree":
      return (await lazy<typeof import("./commands_tree.ts")>("./commands_tree.ts", import.meta.url)).TREE_COMMANDS;
    case "state":
      return (await lazy<typeof import("./commands_state.ts")>("./commands_state.ts", import.meta.url)).STATE_COMMANDS;
    case "misc":
      return (await lazy<typeof import("./commands_misc.ts")>("./commands_misc.ts", import.meta.url)).MISC_COMMANDS;
    case "bench":
      return [(await lazy<typeof import("./commands_bench.ts")>("./commands_bench.ts", import.meta.url)).BENCH_COMMAND];
  }
}

/**
 * The definition of the command the table lists under `name`.
 *
 * @throws {Error} When the table lists a command its file does not define (a defect of wd).
 */
export async function loadCommand(name: string): Promise<Command> {
  const e = ENTRIES.find((x) => x.name === name);
  if (e === undefined) throw new Error(`wd: the command table has no ${JSON.stringify(name)}`);
  const c = (await group(e.group)).find((x) => x.name === name);
  if (c === undefined) throw new Error(`wd: the command table puts ${name} in the ${e.group} commands, which do not define it`);
  return c;
}

/** Every command, in the table's order. */
export async function loadCommands(): Promise<readonly Command[]> {
  return await Promise.all(ENTRIES.map((e) => loadCommand(e.name)));
}

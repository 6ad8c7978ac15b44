/**
 * `wd`: look at and arrange the WarpDrive accelerators of a machine.
 *
 * The only module that prints or reads argv. {@link main} resolves to the exit code, so
 * tests can run it in-process; `bin/wd.ts` is the executable that runs it for real. The
 * commands are listed in `table.ts` and each is defined once (help, options and handler
 * together) in the file the table names; the parser, the help and the shell completion are
 * built from those definitions, and a command line loads only the one it runs.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { ArgsError, parseArgv } from "./args.ts";
import {
  type CliIo,
  type Command,
  type Context,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  type OptionDef,
  UsageError,
  usageOf,
  type Values,
} from "./command.ts";
import { type CommandGroup, ENTRIES, GLOBAL_OPTIONS, overviewHelp } from "./table.ts";
import { lazy } from "./lazy.ts";

export { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./command.ts";
export { GLOBAL_OPTIONS, overviewHelp } from "./table.ts";

/**
 * The definitions of commands, loaded from the files the table names only when they are
 * needed: `wd list` loads the file that defines `list`; help of every command, shell
 * completion and JSON errors load them all.
 */
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

/** Edit distance (insert, delete, substitute), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] as number;
}

/** Loads a command by name, or throws a `UsageError` that suggests the nearest. */
export async function findCommand(name: string): Promise<Command> {
  if (ENTRIES.some((x) => x.name === name)) return await loadCommand(name);
  const near = ENTRIES.find((x) => distance(x.name, name) <= 2);
  throw new UsageError(`unknown command ${JSON.stringify(name)}${near ? ` (did you mean ${near.name}?)` : ""}; wd help lists them`);
}

/** Joins the lines of a message into one. */
function oneLine(text: string): string {
  return text.split(/\s*\n\s*/).filter((l) => l !== "").join("; ");
}

function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (command === undefined && !a.startsWith("-")) {
      command = a;
      continue;
    }
    rest.push(a);
    if (a === "--sysfs" && i + 1 < argv.length) rest.push(argv[++i] as string);
    if (a === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
  }
  return { command, rest };
}

function parse(rest: readonly string[], options: Readonly<Record<string, OptionDef>>, command: string | undefined): { values: Values; args: string[] } {
  try {
    const { values, positionals } = parseArgv(rest, options);
    return { values, args: positionals };
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    throw new UsageError(e.kind === "unknown" ? `${e.message}; wd help${command ? ` ${command}` : ""} lists the options` : e.message);
  }
}

function print(io: CliIo, doc: Readonly<Record<string, unknown>>): void {
  io.out(JSON.stringify({ schema: 1, ...doc }, null, 2));
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { command, rest } = splitCommand(argv);
  if (command === undefined) {
    const { values } = parse(rest, GLOBAL_OPTIONS, undefined);
    const json = values["json"] === true;
    if (values["version"]) {
      if (json) print(io, { version: VERSION });
      else io.out(VERSION);
      return EXIT_OK;
    }
    if (values["help"]) {
      if (json) print(io, (await lazy<typeof import("./help.ts")>("./help.ts", import.meta.url)).helpJson(await loadCommands()));
      else io.out(overviewHelp());
      return EXIT_OK;
    }
    throw new UsageError("no command given; wd help lists them");
  }
  const cmd = await findCommand(command);
  const { values, args } = parse(rest, { ...GLOBAL_OPTIONS, ...cmd.options }, command);
  const json = values["json"] === true;
  if (values["help"]) {
    const { commandHelp } = await lazy<typeof import("./help.ts")>("./help.ts", import.meta.url);
    if (json) print(io, { command: cmd.name, usage: usageOf(cmd), help: commandHelp(cmd) });
    else io.out(commandHelp(cmd));
    return EXIT_OK;
  }
  if (values["version"]) {
    if (json) print(io, { version: VERSION });
    else io.out(VERSION);
    return EXIT_OK;
  }
  const min = cmd.args.filter((a) => !a.optional).length;
  if (args.length < min || args.length > cmd.args.length) {
    const want = min === cmd.args.length ? `${min}` : `${min} to ${cmd.args.length}`;
    throw new UsageError(`${cmd.name} takes ${want} argument(s) (${cmd.args.map((a) => a.name).join(" ") || "none"}), got ${args.length}; see wd help ${cmd.name}`);
  }
  if (values["sysfs"] === "") throw new UsageError('--sysfs "": the sysfs root must not be empty');
  const ctx: Context = {
    values,
    args,
    io,
    json,
    commands: loadCommands,
    help: async (name) => (name === undefined ? overviewHelp() : (await lazy<typeof import("./help.ts")>("./help.ts", import.meta.url)).commandHelp(await findCommand(name))),
    globalOptions: GLOBAL_OPTIONS,
    root: () => {
      const given = values["sysfs"];
      if (typeof given === "string") return given;
      const env = io.env["WD_SYSFS_ROOT"];
      return env !== undefined && env !== "" ? env : "/sys";
    },
  };
  const outcome = await cmd.run(ctx);
  if (json) print(io, outcome.json);
  else {
    if (outcome.text !== undefined) io.out(outcome.text);
    if (outcome.err !== undefined) io.err(outcome.err);
  }
  return outcome.code ?? EXIT_OK;
}

/**
 * Whether the command line asks for JSON: a `--json` before any `--` that is not the
 * value of an option taking one (`wd pick --alg --json` is a missing value, reported as text).
 */
export function wantsJson(argv: readonly string[], commands: readonly Command[]): boolean {
  const valued = new Set<string>();
  for (const o of [GLOBAL_OPTIONS, ...commands.map((c) => c.options)]) {
    for (const [name, d] of Object.entries(o)) if (d.type === "string") valued.add(`--${name}`);
  }
  for (let i = 0; i < argv.length && argv[i] !== "--"; i++) {
    if (argv[i] === "--json" && !valued.has(argv[i - 1] ?? "")) return true;
  }
  return false;
}

/** The JSON `error.code` and exit code of a thrown error. */
export function classify(e: unknown): { code: string; exit: number } {
  if (e instanceof UsageError || e instanceof TypeError || e instanceof RangeError) return { code: "EUSAGE", exit: EXIT_USAGE };
  const code = (e as { code?: unknown } | null)?.code;
  return { code: typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : "EFAILED", exit: EXIT_FAILED };
}

/** Whether WD_DEBUG=1; a runtime that may not read the environment (Deno without --allow-env) is not debugging. */
function debugging(io: CliIo): boolean {
  try {
    return io.env["WD_DEBUG"] === "1";
  } catch {
    return false;
  }
}

/**
 * Runs the `wd` command line and resolves to its exit code: 0 done, 1 nothing found or the
 * operation failed, 2 bad usage.
 *
 * @example
 * ```ts
 * const code = await main(["list", "--sysfs", "/tmp/tree"], { out: console.log, err: console.error, env: {} });
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    const { code, exit } = classify(e);
    const explain = argv.includes("--explain");
    const message = e instanceof Error ? e.message : String(e);
    const candidates = (e as { candidates?: unknown } | null)?.candidates;
    const isNoAccel = (e as Error | null)?.name === "NoAcceleratorError" && Array.isArray(candidates);
    const [head = "", ...more] = message.split("\n");
    if (argv.includes("--json") && wantsJson(argv, await loadCommands())) {
      const error: Record<string, unknown> = { code, message: isNoAccel ? head : oneLine(message) };
      const step = (e as { step?: unknown } | null)?.step;
      if (step !== undefined) error["step"] = step;
      if (isNoAccel && explain) {
        const { candidatesJson } = await lazy<typeof import("./commands_tree.ts")>("./commands_tree.ts", import.meta.url);
        error["candidates"] = candidatesJson(candidates as Parameters<typeof candidatesJson>[0]);
      }
      io.out(JSON.stringify({ schema: 1, error }, null, 2));
    } else if (isNoAccel) {
      // The first line says what failed; the candidates, one a line, come with --explain.
      io.err(explain ? `wd: ${message}` : `wd: ${head}${more.length > 0 ? " (--explain says why for each)" : ""}`);
    } else {
      io.err(`wd: ${oneLine(message)}`);
    }
    if (debugging(io) && e instanceof Error && e.stack) io.err(e.stack);
    return exit;
  }
}

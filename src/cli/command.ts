/**
 * What a `wd` command is: its help, options, arguments and handler in one object, so the
 * three cannot drift apart. `wd.ts` parses argv from these definitions, prints help from
 * them, and `wd completion` generates the shell scripts from them.
 *
 * Handlers import the library lazily (`await import(…)`), so `wd --version` and `wd --help`
 * load nothing but the table.
 *
 * @module
 */
import { parseDecimal } from "../sysfs/parse.ts";

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  /** Writes one line (or several joined by `\n`) to standard output. */
  readonly out: (text: string) => void;
  /** Writes one line to standard error. */
  readonly err: (text: string) => void;
  /** The environment; read only for the variables a command needs. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Rewrites a live progress line; draws nothing unless standard output is a terminal. */
  readonly progress?: (text: string) => void;
}

/** One option of a command (`parseArgs` spec plus its help). */
export interface OptionDef {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's name in help (`NAME`, `HEX`). */
  readonly value?: string;
  /** The values it accepts, when they are a fixed list (for help and completion). */
  readonly choices?: readonly string[];
  /** Shown without brackets in the usage line; the handler checks it. */
  readonly required?: boolean;
  readonly help: string;
}

/** One positional argument. */
export interface ArgDef {
  readonly name: string;
  /** May be left out (only the last arguments). */
  readonly optional?: boolean;
  readonly help: string;
  readonly choices?: readonly string[];
  /** What a shell should complete it with. */
  readonly complete?: "file" | "dir" | "device" | "uuid";
}

/** Parsed option values. */
export type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** What a handler gets. */
export interface Context {
  readonly values: Values;
  readonly args: readonly string[];
  readonly io: CliIo;
  /** True under `--json`. */
  readonly json: boolean;
  /** The sysfs root: `--sysfs`, else `WD_SYSFS_ROOT`, else `/sys` (the environment is read only here). */
  readonly root: () => string;
  /** Every command, for `help` and `completion` (loaded when asked). */
  readonly commands: () => Promise<readonly Command[]>;
  /** The options every command takes. */
  readonly globalOptions: Readonly<Record<string, OptionDef>>;
  /** The overview help, or one command's (a `UsageError` for an unknown name). */
  readonly help: (command?: string) => Promise<string>;
}

/** What a handler returns: the JSON document (without `schema`), the text, the exit code. */
export interface Outcome {
  /** Exit code; 0 by default. */
  readonly code?: number;
  /** The JSON output's fields (`schema: 1` is added in front). */
  readonly json: Readonly<Record<string, unknown>>;
  /** The text output; nothing is printed when absent. */
  readonly text?: string;
  /** Text for standard error in text mode (`pick --explain`). */
  readonly err?: string;
}

/** One `wd` command. */
export interface Command {
  readonly name: string;
  /** One line for `wd help`. */
  readonly summary: string;
  /** Paragraphs for `wd help NAME`, after the options. */
  readonly details?: string;
  readonly options: Readonly<Record<string, OptionDef>>;
  readonly args: readonly ArgDef[];
  /** True when it reads or writes the sysfs tree (`--sysfs` applies). */
  readonly sysfs: boolean;
  readonly run: (ctx: Context) => Promise<Outcome>;
}

/** Bad usage or a malformed value on the command line: exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** Always `"EUSAGE"`. */
  readonly code = "EUSAGE";
}

/** Exit code: done. */
export const EXIT_OK = 0;
/** Exit code: nothing found, nothing matched, or the operation failed against the tree. */
export const EXIT_FAILED = 1;
/** Exit code: bad usage or a malformed value on the command line. */
export const EXIT_USAGE = 2;

/** A decimal integer from the command line, or a `UsageError` naming the option. */
export function int(option: string, text: string, range?: readonly [number, number]): number {
  const p = parseDecimal(text);
  if (!p.ok) throw new UsageError(`${option} ${JSON.stringify(text)}: ${p.reason}`);
  if (range !== undefined && (p.value < range[0] || p.value > range[1])) {
    throw new UsageError(`${option} ${JSON.stringify(text)}: give a whole number in [${range[0]}, ${range[1]}]`);
  }
  return p.value;
}

/** A string option's value, or `undefined`. */
export function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === "string" ? x : undefined;
}

/** The usage line of a command, built from its definition. */
export function usageOf(c: Command): string {
  const opts = Object.entries(c.options).map(([name, o]) => {
    const flag = `--${name}${o.type === "string" ? ` ${o.choices ? o.choices.join("|") : o.value ?? "VALUE"}` : ""}`;
    return o.required ? flag : `[${flag}]${o.multiple ? "..." : ""}`;
  });
  const args = c.args.map((a) => {
    const name = a.choices ? a.choices.join("|") : a.name;
    return a.optional ? `[${name}]` : name;
  });
  return ["wd", c.name, ...args, ...opts].join(" ");
}

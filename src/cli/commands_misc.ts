/**
 * `wd help`, `wd completion` and `wd sample`: each defined once, help, options and handler
 * together. `bench` lives in its own file.
 *
 * @module
 */
import { type Command, type OptionDef, UsageError } from "./command.ts";
import { entry } from "./table.ts";
import { lazy } from "./lazy.ts";

const help: Command = {
  ...entry("help"),
  options: {},
  args: [{ name: "COMMAND", optional: true, help: "the command to explain" }],
  sysfs: false,
  async run(ctx) {
    const name = ctx.args[0];
    const text = await ctx.help(name);
    const json = name === undefined
      ? { commands: (await ctx.commands()).map((c) => ({ name: c.name, summary: c.summary })) }
      : { command: name, help: text };
    return { json, text };
  },
};

type Options = Readonly<Record<string, OptionDef>>;

/** Words a value of an option or argument completes to, as a shell snippet. */
function bashValues(kind: { choices?: readonly string[]; complete?: string; value?: string } | undefined): string {
  if (kind === undefined) return "";
  if (kind.choices) return `COMPREPLY=($(compgen -W "${kind.choices.join(" ")}" -- "$cur"))`;
  if (kind.complete === "dir" || kind.value === "ROOT" || kind.value === "DIR") return `COMPREPLY=($(compgen -d -- "$cur"))`;
  if (kind.complete === "file" || kind.value === "FILE") return `COMPREPLY=($(compgen -f -- "$cur"))`;
  if (kind.complete === "device" || kind.value === "DEV") {
    return `COMPREPLY=($(compgen -W "$(ls "\${WD_SYSFS_ROOT:-/sys}/class/warpdrive" 2>/dev/null)" -- "$cur"))`;
  }
  if (kind.complete === "uuid") return `COMPREPLY=($(compgen -W "$(ls "\${WD_SYSFS_ROOT:-/sys}/bus/mdev/devices" 2>/dev/null)" -- "$cur"))`;
  return "";
}

function flags(options: Options): string[] {
  return Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

/** The bash completion script, generated from the command table. */
export function bashCompletion(commands: readonly Command[], globals: Options): string {
  const valued = new Map<string, string>();
  for (const c of commands) {
    for (const [name, o] of Object.entries({ ...globals, ...c.options })) {
      if (o.type === "string") valued.set(`--${name}`, bashValues(o) || "return");
    }
  }
  const lines = [
    "# bash completion for wd: eval \"$(wd completion bash)\", or save it as /etc/bash_completion.d/wd",
    "# shellcheck disable=SC2207 # compgen's words never contain spaces here",
    "_wd() {",
    "  local cur prev cmd i n",
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  cmd=""',
    "  n=0",
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    case "${COMP_WORDS[i]}" in',
    `      ${[...valued.keys()].join("|")}) ((i++)) ;;`,
    "      -*) ;;",
    '      *) if [[ -z "$cmd" ]]; then cmd="${COMP_WORDS[i]}"; else ((n++)); fi ;;',
    "    esac",
    "  done",
    '  case "$prev" in',
    ...[...valued].map(([flag, action]) => `    ${flag}) ${action === "return" ? "" : `${action}; `}return ;;`),
    "  esac",
    '  if [[ -z "$cmd" ]]; then',
    `    COMPREPLY=($(compgen -W "${[...commands.map((c) => c.name), ...flags(globals)].join(" ")}" -- "$cur"))`,
    "    return",
    "  fi",
    '  if [[ "$cur" == -* ]]; then',
    '    case "$cmd" in',
    ...commands.map((c) => `      ${c.name}) COMPREPLY=($(compgen -W "${flags({ ...c.options, ...globals }).join(" ")}" -- "$cur")) ;;`),
    "    esac",
    "    return",
    "  fi",
    '  case "$cmd" in',
  ];
  for (const c of commands) {
    const arms = c.args.map((a, k) => {
      const action = c.name === "help" ? `COMPREPLY=($(compgen -W "${commands.map((x) => x.name).join(" ")}" -- "$cur"))` : bashValues(a);
      return action === "" ? "" : `[[ $n -eq ${k} ]] && ${action}`;
    }).filter((x) => x !== "");
    if (arms.length > 0) lines.push(`    ${c.name}) ${arms.join("; ")} ;;`);
  }
  lines.push("  esac", "}", "complete -F _wd wd", "");
  return lines.join("\n");
}

/** Text safe inside a zsh `_arguments` spec's `[…]` within single quotes. */
function zq(text: string): string {
  return text.replace(/[[\]]/g, (b) => (b === "[" ? "(" : ")")).replace(/:/g, "\\:").replace(/'/g, "'\\''");
}

function zshValue(o: { choices?: readonly string[]; complete?: string; value?: string }, label: string): string {
  if (o.choices) return `:${label}:(${o.choices.join(" ")})`;
  if (o.complete === "dir" || o.value === "ROOT" || o.value === "DIR") return `:${label}:_files -/`;
  if (o.complete === "file" || o.value === "FILE") return `:${label}:_files`;
  if (o.complete === "device" || o.value === "DEV") return `:${label}:_wd_devices`;
  if (o.complete === "uuid") return `:${label}:_wd_mdevs`;
  return `:${label}: `;
}

function zshSpecs(options: Options): string[] {
  return Object.entries(options).map(([name, o]) => {
    const value = o.type === "string" ? zshValue(o, o.value ?? name) : "";
    const many = o.multiple ? "*" : "";
    const names = o.short ? `'(-${o.short} --${name})'{-${o.short},--${name}}` : `'${many}--${name}`;
    return o.short ? `${names}'[${zq(o.help)}]${value}'` : `${names}[${zq(o.help)}]${value}'`;
  });
}

/** The zsh completion script, generated from the command table. */
export function zshCompletion(commands: readonly Command[], globals: Options): string {
  const lines = [
    "#compdef wd",
    "# zsh completion for wd: save as _wd in a directory of $fpath, or eval \"$(wd completion zsh)\"",
    "_wd_devices() { compadd -- ${(f)\"$(ls \"${WD_SYSFS_ROOT:-/sys}/class/warpdrive\" 2>/dev/null)\"} }",
    "_wd_mdevs() { compadd -- ${(f)\"$(ls \"${WD_SYSFS_ROOT:-/sys}/bus/mdev/devices\" 2>/dev/null)\"} }",
    "_wd() {",
    "  local curcontext=\"$curcontext\" state line",
    "  local -a commands",
    "  commands=(",
    ...commands.map((c) => `    '${c.name}:${zq(c.summary)}'`),
    "  )",
    `  _arguments -C ${zshSpecs(globals).join(" ")} '1: :->command' '*:: :->args'`,
    "  case $state in",
    "    command) _describe -t commands 'wd command' commands ;;",
    "    args)",
    "      case $words[1] in",
  ];
  for (const c of commands) {
    const args = c.args.map((a, k) =>
      c.name === "help" ? `'${k + 1}:command:(${commands.map((x) => x.name).join(" ")})'` : `'${a.optional ? ":" : ""}${k + 1}${zshValue(a, a.name)}'`
    );
    lines.push(`        ${c.name}) _arguments ${[...zshSpecs({ ...globals, ...c.options }), ...args].join(" ")} ;;`);
  }
  lines.push("      esac ;;", "  esac", "}", 'if [[ "$funcstack[1]" == _wd ]]; then _wd "$@"; else compdef _wd wd; fi', "");
  return lines.join("\n");
}

const completion: Command = {
  ...entry("completion"),
  details: `bash: eval "$(wd completion bash)" in ~/.bashrc, or save it as
/etc/bash_completion.d/wd. zsh: save it as _wd in a directory of $fpath, or
eval "$(wd completion zsh)" after compinit. Devices and UUIDs complete from the tree.`,
  options: {},
  args: [{ name: "SHELL", choices: ["bash", "zsh"], help: "bash or zsh" }],
  sysfs: false,
  async run(ctx) {
    const shell = ctx.args[0];
    if (shell !== "bash" && shell !== "zsh") throw new UsageError(`completion ${JSON.stringify(shell)}: give bash or zsh`);
    const commands = await ctx.commands();
    const script = shell === "bash" ? bashCompletion(commands, ctx.globalOptions) : zshCompletion(commands, ctx.globalOptions);
    return { json: { shell, script }, text: script.trimEnd() };
  },
};

const sample: Command = {
  ...entry("sample"),
  details: `Three WarpDrive accelerators (one disabled), two algorithms, one malformed attribute,
and two UACCE devices (/sys/class/uacce: one offering copy and crc32, one with no free
queue), laid out as the kernel lays them out. DIR must be new or empty. Then: wd list
--sysfs DIR, wd pick --sysfs DIR --alg copy --allow-create --explain.`,
  options: {},
  args: [{ name: "DIR", help: "a new or empty directory", complete: "dir" }],
  sysfs: false,
  async run(ctx) {
    const dir = ctx.args[0] as string;
    const [fs, path, { writeSample }] = await Promise.all([import("node:fs"), import("node:path"), lazy<typeof import("./_sample.ts")>("./_sample.ts", import.meta.url)]);
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    }
    if (entries.length > 0) throw new UsageError(`sample ${JSON.stringify(dir)}: the directory is not empty; give a new or empty one`);
    const root = path.resolve(dir);
    writeSample(root);
    const text = `${root}\n  wd list --sysfs ${root}\n  wd pick --sysfs ${root} --alg copy --allow-create --explain`;
    return { json: { root }, text };
  },
};

/** `sample`, `completion` and `help`. */
export const MISC_COMMANDS: readonly Command[] = [sample, completion, help];

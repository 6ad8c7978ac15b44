/**
 * The command line's tokenizer: options and positionals from an argument vector, by the
 * rules of `node:util`'s `parseArgs` in strict mode with positionals allowed, written out
 * here so that `wd` loads no `node:` module to read its arguments (Deno's compatibility
 * layer alone costs it about 50 ms of start-up).
 *
 * The rules:
 * - `--name=VALUE` and `--name VALUE` for an option taking a value; `--name=` gives "".
 *   A following word that starts with a dash is not taken as the value (write `--name=-x`),
 *   except a negative whole number (`--priority -7`), and `-` alone.
 * - `-x` for a short option; `-xyz` is `-x -y -z` when `-x` takes no value, and `-xVALUE`
 *   when it takes one.
 * - A repeated option: the last one counts, or every one for a `multiple` option.
 * - `--` ends the options; everything after it is positional, as is `-` and a negative
 *   whole number (`wd priority acc0 -7`).
 * - An unknown option, a value given to an option that takes none, or a missing value is
 *   an {@link ArgsError} whose message names the option and says what to do.
 *
 * @module
 */

/** How one option is read. */
export interface ArgSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
}

/** What was read: option values by name and the positionals in order. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[]>;
  readonly positionals: string[];
}

/** Why the argument vector was refused; `option` is the option as written (`--alg`, `-x`). */
export class ArgsError extends Error {
  override readonly name = "ArgsError";
  readonly kind: "unknown" | "missing" | "ambiguous" | "unexpected";
  readonly option: string;

  constructor(kind: ArgsError["kind"], option: string) {
    super(
      kind === "unknown"
        ? `unknown option ${option}`
        : kind === "missing"
        ? `${option} takes a value, and none was given`
        : kind === "ambiguous"
        ? `${option} needs a value (for a value that starts with a dash, write ${option}=VALUE)`
        : `${option} takes no value`,
    );
    this.kind = kind;
    this.option = option;
  }
}

const NEGATIVE = /^-\d+$/;

/** A value that looks like an option: a dash and more, but not a negative whole number. */
function optionLike(word: string): boolean {
  return word.length > 1 && word[0] === "-" && !NEGATIVE.test(word);
}

/**
 * Reads an argument vector against option specs.
 *
 * @throws {ArgsError} For an unknown option, a missing value, or a value given to a flag.
 */
export function parseArgv(argv: readonly string[], options: Readonly<Record<string, ArgSpec>>): ParsedArgs {
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.short !== undefined) byShort.set(o.short, name);
  const specOf = (name: string): ArgSpec | undefined => (Object.hasOwn(options, name) ? options[name] : undefined);
  /** The long name of a short letter; an unknown letter stands for itself. */
  const longOf = (letter: string): string => byShort.get(letter) ?? letter;

  /** One option as written (`raw`), with its value when one was given or taken. */
  const use = (name: string, raw: string, value: string | undefined, inline: boolean): void => {
    const spec = specOf(name);
    if (spec === undefined) throw new ArgsError("unknown", raw);
    if (spec.type === "boolean") {
      if (value !== undefined) throw new ArgsError("unexpected", raw);
    } else {
      if (value === undefined) throw new ArgsError("missing", raw);
      if (!inline && optionLike(value)) throw new ArgsError("ambiguous", raw);
    }
    const v = value ?? true;
    if (spec.multiple) {
      const prior = values[name];
      values[name] = Array.isArray(prior) ? [...prior, v as string] : [v as string];
    } else {
      values[name] = v;
    }
  };

  // Words still to read; a short group (-xyz) is put back as the words it stands for.
  // `given` says whether it was on the command line as such: only then is -7 a number.
  const queue = argv.map((text) => ({ text, given: true }));
  while (queue.length > 0) {
    const { text: arg, given } = queue.shift() as { text: string; given: boolean };
    if (arg === "--") {
      positionals.push(...queue.map((w) => w.text));
      break;
    }
    if ((given && NEGATIVE.test(arg)) || arg.length < 2 || arg[0] !== "-") {
      positionals.push(arg);
      continue;
    }
    const next = queue[0]?.text;
    const takes = (name: string): boolean => specOf(name)?.type === "string" && next !== undefined;
    if (arg[1] !== "-") {
      const letter = arg[1] as string;
      const name = longOf(letter);
      if (arg.length === 2) {
        use(name, arg, takes(name) ? (queue.shift() as { text: string }).text : undefined, false);
      } else if (specOf(name)?.type === "string") {
        use(name, `-${letter}`, arg.slice(2), true); // -xVALUE
      } else {
        // -xyz: -x -y -z, up to a letter that takes a value, which gets the rest.
        const words: string[] = [];
        for (let j = 1; j < arg.length; j++) {
          const l = arg[j] as string;
          if (specOf(longOf(l))?.type !== "string" || j === arg.length - 1) words.push(`-${l}`);
          else {
            words.push(`-${arg.slice(j)}`);
            break;
          }
        }
        queue.unshift(...words.map((text) => ({ text, given: false })));
      }
      continue;
    }
    // --name, or --name=VALUE when an "=" comes after the first letter of the name.
    if (arg.indexOf("=", 3) === -1) {
      const name = arg.slice(2);
      use(name, arg, takes(name) ? (queue.shift() as { text: string }).text : undefined, false);
    } else {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq);
      use(name, `--${name}`, arg.slice(eq + 1), true);
    }
  }
  return { values, positionals };
}

#!/usr/bin/env node
/**
 * The `wd` executable: runs the command line in `src/cli/wd.ts` and sets the exit code.
 *
 * A separate entry so the command starts the same way under every runtime (Node 20 has no
 * `import.meta.main`) and so importing the CLI module never runs it. `wd --version` and
 * `wd --help` are answered here without loading the parser.
 *
 * A reader that goes away (`wd list | head`) closes the pipe: the rest of the output is
 * dropped without a word, and the exit code stays the command's own. A live progress line
 * is drawn only when stdout is a terminal.
 *
 * @module
 */
import { VERSION } from "../src/version.ts";

/** The Deno namespace, where there is one: `wd --version` answers through it without loading Deno's `node:` layer. */
type DenoLike = { readonly args: readonly string[]; readonly stdout: { writeSync(p: Uint8Array): number } };
const deno = (globalThis as { Deno?: DenoLike }).Deno;
const argv: readonly string[] = deno?.args ?? (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EPIPE" || (e as Error | null)?.name === "BrokenPipe";
const isEagain = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EAGAIN";

const only = argv.length === 1 ? argv[0] : undefined;
if (only === "--version" || only === "-V") {
  await answer(VERSION);
} else if (only === "--help" || only === "-h" || only === "help") {
  await answer((await import("../src/cli/table.ts")).overviewHelp());
} else {
  await runMain();
}

/**
 * The fast paths: the same answer as main() gives, with nothing else loaded (no parser,
 * no node:util, and in Deno no node: compatibility layer, so no permission is asked).
 * Every text is far below a pipe's capacity, so one write is the whole of it.
 */
async function answer(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(`${text}\n`);
  try {
    if (deno !== undefined) deno.stdout.writeSync(bytes);
    else (await import("node:fs")).writeSync(1, bytes);
  } catch (e) {
    if (!isEpipe(e)) throw e;
  }
}

async function runMain(): Promise<void> {
  const [fs, { default: process }, { main }] = await Promise.all([import("node:fs"), import("node:process"), import("../src/cli/wd.ts")]);

  /**
   * A writer to fd 1 or 2 that stops, quietly, once the reader is gone. Synchronous writes
   * rather than process.stdout: the stream costs Bun 15-20 ms of start-up. A pipe left
   * non-blocking by the parent can answer EAGAIN when full: the write is retried.
   */
  function writer(fd: number): (text: string) => void {
    let gone = false;
    return (text) => {
      if (gone) return;
      let buf = new TextEncoder().encode(text);
      while (buf.length > 0) {
        try {
          buf = buf.subarray(fs.writeSync(fd, buf));
        } catch (e) {
          if (isEagain(e)) continue;
          if (!isEpipe(e)) throw e;
          gone = true;
          return;
        }
      }
    };
  }

  const out = writer(1);
  let tty: boolean | undefined;
  process.exitCode = await main([...argv], {
    out: (text) => out(`${text}\n`),
    err: ((w) => (text: string) => w(`${text}\n`))(writer(2)),
    // process.env reads a variable only when the CLI asks for it (Deno asks permission per read).
    env: process.env,
    // A live progress line (wd bench) only when a person watches stdout; asked on first use.
    progress: (text) => {
      tty ??= process.stdout.isTTY === true;
      if (tty) out(`\r${text}\x1b[K`);
    },
  });
}

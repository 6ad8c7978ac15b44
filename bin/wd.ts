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
import { lazy } from "../src/cli/lazy.ts";

/** The Deno namespace, where there is one: wd answers through it without loading Deno's `node:` layer. */
type DenoLike = {
  readonly args: readonly string[];
  readonly stdout: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  readonly stderr: { writeSync(p: Uint8Array): number };
  readonly env: { get(name: string): string | undefined };
  exitCode: number;
};
/** What wd uses of Node's and Bun's `process`. */
type ProcessLike = {
  readonly argv: string[];
  readonly env: Record<string, string | undefined>;
  readonly stdout: { readonly isTTY?: boolean };
  exitCode?: number | string;
  getBuiltinModule(id: "node:fs"): { writeSync(fd: number, b: Uint8Array): number };
};
const deno = (globalThis as { Deno?: DenoLike }).Deno;
const proc = deno === undefined ? (globalThis as unknown as { process: ProcessLike }).process : undefined;
const argv: readonly string[] = deno?.args ?? (proc as ProcessLike).argv.slice(2);

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EPIPE" || (e as Error | null)?.name === "BrokenPipe";
const isEagain = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EAGAIN" || (e as Error | null)?.name === "WouldBlock";

const only = argv.length === 1 ? argv[0] : undefined;
if (only === "--version" || only === "-V") {
  answer(VERSION);
} else if (only === "--help" || only === "-h" || only === "help") {
  answer((await lazy<typeof import("../src/cli/table.ts")>("../src/cli/table.ts", import.meta.url)).overviewHelp());
} else {
  await runMain();
}

/** Writes to fd 1 or 2: through the Deno namespace, or node:fs taken without an import (no ESM wrapper to build). */
function rawWrite(fd: 1 | 2): (b: Uint8Array) => number {
  if (deno !== undefined) return fd === 1 ? (b) => deno.stdout.writeSync(b) : (b) => deno.stderr.writeSync(b);
  const fs = (proc as ProcessLike).getBuiltinModule("node:fs");
  return (b) => fs.writeSync(fd, b);
}

/**
 * The fast paths: the same answer as main() gives, with nothing else loaded (no parser,
 * and in Deno no node: compatibility layer, so no permission is asked).
 * Every text is far below a pipe's capacity, so one write is the whole of it.
 */
function answer(text: string): void {
  try {
    rawWrite(1)(new TextEncoder().encode(`${text}\n`));
  } catch (e) {
    if (!isEpipe(e)) throw e;
  }
}

async function runMain(): Promise<void> {
  const { main } = await lazy<typeof import("../src/cli/wd.ts")>("../src/cli/wd.ts", import.meta.url);

  /**
   * A writer to fd 1 or 2 that stops, quietly, once the reader is gone. Synchronous writes
   * rather than process.stdout: the stream costs Bun 15-20 ms of start-up. A pipe left
   * non-blocking by the parent can answer EAGAIN when full: the write is retried.
   */
  function writer(fd: 1 | 2): (text: string) => void {
    const write = rawWrite(fd);
    let gone = false;
    return (text) => {
      if (gone) return;
      let buf = new TextEncoder().encode(text);
      while (buf.length > 0) {
        try {
          buf = buf.subarray(write(buf));
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
  // The environment is read only for the variables the command asks for (Deno asks
  // permission per variable; with --sysfs given, wd list reads none).
  const env: Readonly<Record<string, string | undefined>> = deno === undefined
    ? (proc as ProcessLike).env
    : new Proxy({}, { get: (_, name) => (typeof name === "string" ? deno.env.get(name) : undefined) });
  const code = await main([...argv], {
    out: (text) => out(`${text}\n`),
    err: ((w) => (text: string) => w(`${text}\n`))(writer(2)),
    env,
    // A live progress line (wd bench) only when a person watches stdout; asked on first use.
    progress: (text) => {
      tty ??= deno !== undefined ? deno.stdout.isTerminal() : (proc as ProcessLike).stdout.isTTY === true;
      if (tty) out(`\r${text}\x1b[K`);
    },
  });
  if (deno !== undefined) deno.exitCode = code;
  else (proc as ProcessLike).exitCode = code;
}

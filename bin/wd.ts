#!/usr/bin/env node
/**
 * The `wd` executable: runs the command line in `src/cli/wd.ts` and sets the exit code.
 *
 * A separate entry so the command starts the same way under every runtime (Node 20 has no
 * `import.meta.main`) and so importing the CLI module never runs it.
 *
 * A reader that goes away (`wd list | head`) closes the pipe: the rest of the output is
 * dropped without a word, and the exit code stays the command's own. A live progress line
 * is drawn only when stdout is a terminal.
 *
 * @module
 */
import * as fs from "node:fs";
import process from "node:process";
import { main } from "../src/cli/wd.ts";

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EPIPE" || (e as Error | null)?.name === "BrokenPipe";
const isEagain = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EAGAIN";

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
process.exitCode = await main(process.argv.slice(2), {
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

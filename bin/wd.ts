#!/usr/bin/env node
/**
 * The `wd` executable: runs the command line in `src/cli/wd.ts` and sets the exit code.
 *
 * A separate entry so the command starts the same way under every runtime (Node 20 has no
 * `import.meta.main`) and so importing the CLI module never runs it.
 *
 * A reader that goes away (`wd list | head`) closes the pipe: the rest of the output is
 * dropped without a word, and the exit code stays the command's own.
 *
 * @module
 */
import process from "node:process";
import { main } from "../src/cli/wd.ts";

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === "EPIPE" || (e as Error | null)?.name === "BrokenPipe";

/** A writer that stops, quietly, once its stream's reader is gone. */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  // Node and Deno report a closed pipe as an "error" event after the write returned.
  stream.on("error", (e: unknown) => {
    if (!isEpipe(e)) throw e;
    gone = true;
  });
  return (text) => {
    if (gone) return;
    try {
      stream.write(`${text}\n`);
    } catch (e) {
      if (!isEpipe(e)) throw e;
      gone = true;
    }
  };
}

const out = writer(process.stdout);
// A live progress line (wd bench) only when a person watches stdout.
const progress = process.stdout.isTTY ? (text: string): void => void process.stdout.write(`\r${text}\x1b[K`) : undefined;
process.exitCode = await main(process.argv.slice(2), {
  out,
  err: writer(process.stderr),
  // process.env reads a variable only when the CLI asks for it (Deno asks permission per read).
  env: process.env,
  ...(progress === undefined ? {} : { progress }),
});

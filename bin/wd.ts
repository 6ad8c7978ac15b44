#!/usr/bin/env node
/**
 * The `wd` executable: runs the command line in `src/cli/wd.ts` and sets the exit code.
 *
 * A separate entry so the command starts the same way under every runtime (Node 20 has no
 * `import.meta.main`) and so importing the CLI module never runs it.
 *
 * @module
 */
import process from "node:process";
import { main } from "../src/cli/wd.ts";

process.exitCode = main(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
});

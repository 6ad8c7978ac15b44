/**
 * The reading side of the doorbell tearing test (`barrier_tearing.test.ts`), run as its own
 * process: it maps the writer's memfd page, says it is ready, reads the doorbell cell in a
 * tight loop with single loads, and counts every value that is neither of the two the writer
 * alternates between.
 *
 *   bun tests/unit/_barrier_reader.ts /proc/<pid>/fd/<n> 32|64 READS CHANGES A B
 *
 * It reads at least READS times and until it has seen the value change CHANGES times (the
 * two processes may not share a CPU moment at first on a busy machine), or 120 s have passed.
 *
 * Page layout: u32 0 = reader ready, u32 1 = reader done, u32 2 = writer writing (the
 * reader starts counting only then), u32 at 0x40 = the 32-bit cell, u64 at 0x80 = the
 * 64-bit cell. Prints one JSON line: reads, torn, seenA, seenB, changes,
 * and the first torn value (hex) if any.
 */
import * as fs from "node:fs";
import process from "node:process";
import { MappedMemory } from "../../src/sys/mman.ts";

const [file, widthArg, readsArg, changesArg, aArg, bArg] = process.argv.slice(2) as [string, string, string, string, string, string];
const minReads = Number(readsArg);
const minChanges = Number(changesArg);
const fd = fs.openSync(file, "r+");
const mem = MappedMemory.mapFile(fd, 0, 4096, { label: "doorbell page" });
fs.closeSync(fd);
const flags = mem.view(Uint32Array, 0, 3);
let reads = 0, torn = 0, seenA = 0, seenB = 0, changes = 0;
let firstTorn: string | null = null;

Atomics.store(flags, 0, 1);
const deadline = Date.now() + 120_000;
while (Atomics.load(flags, 2) === 0) {
  if (Date.now() > deadline) throw new Error("The writer never started");
}
if (widthArg === "32") {
  const cell = mem.view(Uint32Array, 0x40, 1);
  const a = Number(aArg), b = Number(bArg);
  let last = Atomics.load(cell, 0);
  while (reads < minReads || (changes < minChanges && Date.now() < deadline)) {
    reads++;
    const v = Atomics.load(cell, 0);
    if (v === a) seenA++;
    else if (v === b) seenB++;
    else if (torn++ === 0) firstTorn = v.toString(16);
    if (v !== last) changes++;
    last = v;
  }
} else {
  const cell = mem.view(BigUint64Array, 0x80, 1);
  const a = BigInt(aArg), b = BigInt(bArg);
  let last = Atomics.load(cell, 0);
  while (reads < minReads || (changes < minChanges && Date.now() < deadline)) {
    reads++;
    const v = Atomics.load(cell, 0);
    if (v === a) seenA++;
    else if (v === b) seenB++;
    else if (torn++ === 0) firstTorn = v.toString(16);
    if (v !== last) changes++;
    last = v;
  }
}
Atomics.store(flags, 1, 1);
process.stdout.write(`${JSON.stringify({ reads, torn, seenA, seenB, changes, firstTorn })}\n`);
mem.close();

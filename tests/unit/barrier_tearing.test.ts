import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { type BarrierBackend, configureBarrier, doorbell32, doorbell64 } from "../../src/sys/barrier.ts";
import { ftruncate, MappedMemory, memfdCreate } from "../../src/sys/mman.ts";
import { barrierLibrary, removeBarrierLibrary } from "./_barrier_lib.ts";

const READER = path.join(import.meta.dir, "_barrier_reader.ts");
const READS = 1_000_000;
// Enough changes to show the two raced; on a loaded 2-core machine they may share few CPU
// moments, so the reader keeps going (up to 120 s) until it has seen them.
const CHANGES = 5_000;
const PAIRS = {
  "32": [0x00000000n, 0xffffffffn],
  // Complements: every byte differs, so a tear at any byte boundary shows.
  "64": [0x0123456789abcdefn, 0xfedcba9876543210n],
} as const;

afterAll(() => {
  configureBarrier({ backend: "auto" });
  removeBarrierLibrary();
});

async function hammer(backend: BarrierBackend, width: "32" | "64"): Promise<{ reads: number; torn: number; seenA: number; seenB: number; changes: number; firstTorn: string | null; rings: number }> {
  if (backend === "c") configureBarrier({ backend: "c", library: barrierLibrary() });
  else configureBarrier({ backend: "js" });
  const fd = memfdCreate("wd-doorbell-tearing", 1 /* MFD_CLOEXEC */); // the reader opens it through /proc
  try {
    ftruncate(fd, 4096);
    const mem = MappedMemory.mapFile(fd, 0, 4096, { label: "doorbell page" });
    try {
      const flags = mem.view(Uint32Array, 0, 3);
      const [a, b] = PAIRS[width];
      const ring32 = doorbell32(mem, 0x40);
      const ring64 = doorbell64(mem, 0x80);
      ring32(Number(a));
      ring64(a);
      expect(ring32.backend).toBe(backend);
      expect(ring64.backend).toBe(backend);
      const child = spawn(process.execPath, [READER, `/proc/${process.pid}/fd/${fd}`, width, String(READS), String(CHANGES), String(a), String(b)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "", err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const deadline = Date.now() + 150_000;
      let rings = 0;
      // Write from now until the reader is done; tell it once it is mapped that the writes
      // are running, so every read it counts races with them.
      const x = Number(a), y = Number(b);
      while (Atomics.load(flags, 1) === 0 && Date.now() < deadline) {
        if (Atomics.load(flags, 0) === 1) Atomics.store(flags, 2, 1);
        for (let i = 0; i < 256; i++) {
          if (width === "32") {
            ring32(x);
            ring32(y);
          } else {
            ring64(a);
            ring64(b);
          }
        }
        rings += 512;
      }
      const code = await exited;
      if (code !== 0) throw new Error(`The reader exited with ${code}: ${err}`);
      return { ...JSON.parse(out), rings };
    } finally {
      mem.close();
    }
  } finally {
    fs.closeSync(fd);
  }
}

describe("a doorbell store is never seen torn by another process", () => {
  for (const backend of ["js", "c"] as const) {
    for (const width of ["32", "64"] as const) {
      test(`${width}-bit doorbell through the ${backend} backend: a concurrent reader of the memfd page sees only whole values`, async () => {
        const r = await hammer(backend, width);
        expect(r.reads).toBeGreaterThanOrEqual(READS);
        expect({ torn: r.torn, firstTorn: r.firstTorn }).toEqual({ torn: 0, firstTorn: null });
        // The two really raced: the reader saw both values and many changes between them.
        expect(r.changes).toBeGreaterThanOrEqual(CHANGES);
        expect(r.seenA).toBeGreaterThan(CHANGES / 2);
        expect(r.seenB).toBeGreaterThan(CHANGES / 2);
        expect(r.seenA + r.seenB).toBe(r.reads);
        expect(r.rings).toBeGreaterThan(0);
      }, 180_000);
    }
  }
});

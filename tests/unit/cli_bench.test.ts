// wd bench: which request it makes for each algorithm and driver, the run loop over a queue
// on the fake UACCE dummy device, and the refusals the command makes before opening anything.
import { describe, expect, test } from "bun:test";
import { benchApisFor, benchMaker, type BenchQueue, type BenchRequest, benchRun } from "../../src/cli/commands_bench.ts";
import { UsageError } from "../../src/cli/command.ts";
import { main } from "../../src/cli/wd.ts";
import * as L from "../../src/drivers/uacce_dummy_v1_layout.ts";
import type { UacceDummyCompletion, UacceDummyRequest } from "../../src/drivers/uacce_dummy_v1.ts";
import { createUacceOpener } from "../../src/queue/port_uacce.ts";
import { requestQueue } from "../../src/queue/request.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { crc32 } from "./_fake_wd_dummy.ts";
import { FakeUacceDevice, fakeSyscalls } from "./_fake_uacce_dummy.ts";

async function wd(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(`${t}\n`), err: (t) => err.push(`${t}\n`), env: {} });
  return { code, out: out.join(""), err: err.join("") };
}

describe("bench's request formats", () => {
  test("copy on both drivers, csum on wd_dummy_v1, crc32 on uacce_dummy_v1; a request with a destination takes two buffers a slot", () => {
    expect(benchApisFor("copy")).toEqual(["wd_dummy_v1", "uacce_dummy_v1"]);
    expect(benchApisFor("csum")).toEqual(["wd_dummy_v1"]);
    expect(benchApisFor("crc32")).toEqual(["uacce_dummy_v1"]);
    expect(benchApisFor("zlib")).toEqual([]);
    expect(benchApisFor("constructor")).toEqual([]);
    const cases: [string, string, number, BenchRequest][] = [
      ["copy", "wd_dummy_v1", 1024, { op: "copy", id: 7, src: 4096, dst: 4096 + 512, len: 512 }],
      ["csum", "wd_dummy_v1", 512, { op: "csum", id: 7, src: 4096, len: 512 }],
      ["copy", "uacce_dummy_v1", 1024, { op: "copy", id: 7, src: 4096, dst: 4096 + 512, len: 512 }],
      ["crc32", "uacce_dummy_v1", 512, { op: "crc32", id: 7, src: 4096, len: 512 }],
    ];
    for (const [alg, api, stride, req] of cases) {
      const m = benchMaker(alg, api, 512, "dev/type");
      expect([alg, api, m.stride, m.make(7, 4096)]).toEqual([alg, api, stride, req]);
    }
  });

  test("an algorithm the device's driver cannot bench is a usage error naming the device, its driver and what bench knows", () => {
    const known = "wd bench knows wd_dummy_v1 (copy, csum), uacce_dummy_v1 (copy, crc32)";
    expect(() => benchMaker("crc32", "wd_dummy_v1", 64, "wd_dummy0/wd_dummy-csum")).toThrow(UsageError);
    expect(() => benchMaker("crc32", "wd_dummy_v1", 64, "wd_dummy0/wd_dummy-csum")).toThrow(
      `bench: cannot bench "crc32" on wd_dummy0/wd_dummy-csum: its driver is wd_dummy_v1 and bench makes copy, csum requests for it; ${known}`,
    );
    expect(() => benchMaker("csum", "uacce_dummy_v1", 64, "uacce_dummy-0/csum")).toThrow("its driver is uacce_dummy_v1 and bench makes copy, crc32 requests for it");
    expect(() => benchMaker("copy", "hisi_qm_v2", 64, "hisi_zip-0/copy")).toThrow(`its driver is hisi_qm_v2 and bench has no request format for it at all; ${known}`);
  });
});

/** A UACCE dummy device in a fixture tree and its fake, and a queue on it for `alg`. */
async function uacceQueue(alg: string) {
  const tree = makeSysfs({ uacce: [{ id: "uacce_dummy-0", algorithms: ["copy", "crc32"], flags: 0, regionDusSize: L.UACCE_DUMMY_V1_DUS_SIZE, availableInstances: 2 }] });
  const dev = new FakeUacceDevice("uacce_dummy-0");
  const q = await requestQueue<UacceDummyRequest, UacceDummyCompletion>({
    alg,
    root: tree.root,
    apis: benchApisFor(alg),
    uacceOpener: createUacceOpener({ syscalls: fakeSyscalls([dev]) }),
  });
  return { tree, dev, q };
}

/** The queue as bench uses it, with the fake device doing its work before each poll; every request and completion kept. */
function served(q: Awaited<ReturnType<typeof uacceQueue>>["q"], dev: FakeUacceDevice) {
  const sent = new Map<number, UacceDummyRequest>();
  const done: UacceDummyCompletion[] = [];
  let buffer: { readonly iova: bigint; bytes(): Uint8Array } | undefined;
  const bq: BenchQueue = {
    alloc: (n) => (buffer = q.alloc(n)),
    sendBatch: (reqs) => {
      const n = q.sendBatch(reqs as UacceDummyRequest[]);
      for (const r of reqs.slice(0, n)) sent.set(r.id, r as UacceDummyRequest);
      return n;
    },
    poll: () => {
      dev.step();
      const got = q.poll();
      done.push(...got);
      return got;
    },
  };
  return { bq, sent, done, buffer: () => buffer! };
}

describe("a bench run on a UACCE dummy device", () => {
  test("crc32: every completion is ok and answers its own slot's bytes; latencies are counted per request", async () => {
    const { tree, dev, q } = await uacceQueue("crc32");
    using _ = tree;
    try {
      expect([q.class, q.deviceApi]).toEqual(["uacce", "uacce_dummy_v1"]);
      const s = served(q, dev);
      const size = 512, depth = 8;
      const run = benchRun(s.bq, benchMaker("crc32", q.deviceApi, size, q.device), { alg: "crc32", depth, seconds: 0.2 });
      expect(run.requests).toBeGreaterThan(depth);
      expect(run.failures.size).toBe(0);
      expect(run.latenciesMs.length).toBe(run.requests);
      expect(s.done.length).toBe(run.requests);
      const buf = s.buffer();
      const base = Number(buf.iova);
      expect(base).toBe(L.UACCE_DUMMY_V1_ARENA_OFFSET); // the arena's first buffer: depth x size of it
      const slots = new Set<number>();
      for (const c of s.done) {
        const r = s.sent.get(c.id)!;
        const at = Number(r.src) - base;
        slots.add(at);
        expect([r.op, r.len, r.dst, at % size]).toEqual(["crc32", size, undefined, 0]);
        expect(c.result).toBe(crc32(buf.bytes().subarray(at, at + size)));
      }
      expect(slots.size).toBe(depth);
    } finally {
      await q.release();
    }
  });

  test("copy: each slot's destination follows its source, and the bytes arrive", async () => {
    const { tree, dev, q } = await uacceQueue("copy");
    using _ = tree;
    try {
      const s = served(q, dev);
      const size = 256, depth = 4;
      const run = benchRun(s.bq, benchMaker("copy", q.deviceApi, size, q.device), { alg: "copy", depth, seconds: 0.1 });
      expect([run.requests > 0, run.failures.size]).toEqual([true, 0]);
      const bytes = s.buffer().bytes();
      for (let slot = 0; slot < depth; slot++) {
        const src = slot * 2 * size;
        expect(bytes.subarray(src + size, src + 2 * size)).toEqual(bytes.subarray(src, src + size));
      }
      expect(bytes.subarray(0, size).some((b) => b !== 0)).toBe(true); // random payload, not zeros
    } finally {
      await q.release();
    }
  });

  test("a run that asks for more than the arena holds fails naming the arena", async () => {
    const { tree, dev, q } = await uacceQueue("copy");
    using _ = tree;
    try {
      const s = served(q, dev);
      expect(() => benchRun(s.bq, benchMaker("copy", q.deviceApi, 65536, q.device), { alg: "copy", depth: 16, seconds: 0.1 })).toThrow(/no free span is large enough/);
    } finally {
      await q.release();
    }
  });
});

describe("wd bench refuses before opening anything", () => {
  test("an algorithm no driver bench knows, and a class that does not exist", async () => {
    const zlib = await wd(["bench", "--alg", "zlib", "--sysfs", "/nonexistent"]);
    expect([zlib.code, zlib.err]).toEqual([2, "wd: bench: no driver bench knows makes \"zlib\" requests; wd bench knows wd_dummy_v1 (copy, csum), uacce_dummy_v1 (copy, crc32)\n"]);
    const cls = await wd(["bench", "--alg", "crc32", "--class", "vfio", "--sysfs", "/nonexistent"]);
    expect(cls.code).toBe(2);
    expect(cls.err).toContain("--class");
  });
});

// The JavaScript side of the allocation count (scripts/alloc_count.ts), plain JavaScript so
// Bun, Deno and Node run the same code (Node runs the compiled build).
//
//   <runtime> scripts/bench/alloc_worker.mjs SRC_DIR EXT CASE CHUNKS
//
// A Queue over an in-process stand-in for the wd_dummy_v1 device: its driver's poll first
// serves every request up to the doorbell (nop completions written into the completion
// ring, without allocating), then reaps as the real driver does. CASE is one workload:
//   run       q.run({ op: "nop" }), 32 in flight (32 loops awaiting one run at a time)
//   send      q.sendBatch of 16 request objects, then q.poll()
//   encoded   q.sendEncoded of 16 descriptors encoded once, then q.poll()
//   raw       q.sendEncoded of 16 descriptors, then q.pollEncoded into reused words
//   wait      q.send of one request, then await q.wait()
//   baseline  no request at all: what the measurement itself allocates
//   lent      the ring lent in place: 16 descriptors copied into reserved slots, publish,
//             then ready, completion and consume (the device serves when its doorbell rings)
// Each chunk is 1000 requests, after a warm-up of 20,000 (WD_ALLOC_WARMUP: more, to profile). The heap is measured around each
// chunk with nothing collected in between:
//   Bun (JavaScriptCore): bun:jsc heapStats().objectTypeCounts counts every cell not yet
//     swept, so its growth over a chunk is what the chunk allocated, by type; a chunk
//     during which a collection ran (objectCount changed) is left out.
//   Deno and Node (V8, run with --expose-gc and a large young generation): gc() before the
//     chunk, then the growth of used_heap_size is the bytes the chunk allocated; a chunk
//     whose heap shrank (a collection ran) is left out.
// Prints one JSON line per chunk: {"lang","case","requests","objects"?,"bytes","types"?,"gc"}.
const [srcDir, ext, caseName, chunksArg] = process.argv.slice(2);
const CHUNKS = Number(chunksArg ?? 10);
const CHUNK = 1000;
const mod = (p) => import(new URL(`file://${srcDir}/${p}.${ext}`).href);
const { MappedMemory } = await mod("src/sys/mman");
const { wdDummyV1Driver } = await mod("src/drivers/wd_dummy_v1");
const { Queue } = await mod("src/queue/queue");
const L = await mod("src/drivers/wd_dummy_v1_layout");
const lang = typeof globalThis.Bun !== "undefined" ? "bun" : typeof globalThis.Deno !== "undefined" ? "deno" : "node";

const ctrl = MappedMemory.anonymous(L.WD_DUMMY_V1_CTRL_SIZE, { label: "alloc control page" });
const queueMem = MappedMemory.anonymous(L.WD_DUMMY_V1_QUEUE_SIZE, { label: "alloc queue region" });
const regs = ctrl.view(Uint32Array, 0, L.WD_DUMMY_V1_CTRL_SIZE / 4);
const sq = queueMem.view(Uint32Array, L.WD_DUMMY_V1_SQ_OFFSET, (L.WD_DUMMY_V1_SQ_ENTRIES * L.WD_DUMMY_V1_REQ_SIZE) / 4);
const cq = queueMem.view(Uint32Array, L.WD_DUMMY_V1_CQ_OFFSET, (L.WD_DUMMY_V1_CQ_ENTRIES * L.WD_DUMMY_V1_CPL_SIZE) / 4);
const R = (off) => off / 4;
regs[R(L.WD_DUMMY_V1_REG_MAGIC)] = L.WD_DUMMY_V1_MAGIC;
regs[R(L.WD_DUMMY_V1_REG_VERSION)] = L.WD_DUMMY_V1_VERSION;
regs[R(L.WD_DUMMY_V1_REG_SQ_ENTRIES)] = L.WD_DUMMY_V1_SQ_ENTRIES;
regs[R(L.WD_DUMMY_V1_REG_CQ_ENTRIES)] = L.WD_DUMMY_V1_CQ_ENTRIES;
regs[R(L.WD_DUMMY_V1_REG_MAX_LEN)] = L.WD_DUMMY_V1_MAX_LEN;
regs[R(L.WD_DUMMY_V1_REG_SQ_OFFSET)] = L.WD_DUMMY_V1_SQ_OFFSET;
regs[R(L.WD_DUMMY_V1_REG_CQ_OFFSET)] = L.WD_DUMMY_V1_CQ_OFFSET;
regs[R(L.WD_DUMMY_V1_REG_ALGO_OP)] = L.WD_DUMMY_V1_OP_COPY;
regs[R(L.WD_DUMMY_V1_REG_STATUS)] = L.WD_DUMMY_V1_STATUS_READY;

/** The device: every request up to the doorbell gets an ok nop completion (no allocation). */
function serve() {
  const doorbell = regs[R(L.WD_DUMMY_V1_REG_DOORBELL)];
  let head = regs[R(L.WD_DUMMY_V1_REG_SQ_HEAD)];
  let tail = regs[R(L.WD_DUMMY_V1_REG_CQ_TAIL)];
  const cqHead = regs[R(L.WD_DUMMY_V1_REG_CQ_HEAD)];
  while (head !== doorbell && ((tail - cqHead) >>> 0) < L.WD_DUMMY_V1_CQ_ENTRIES) {
    const d = (head & (L.WD_DUMMY_V1_SQ_ENTRIES - 1)) * 8;
    const c = (tail & (L.WD_DUMMY_V1_CQ_ENTRIES - 1)) * 4;
    cq[c] = sq[d + 1];
    cq[c + 1] = (sq[d] & 0xffff) << 16;
    cq[c + 2] = 0;
    cq[c + 3] = head;
    head = (head + 1) >>> 0;
    tail = (tail + 1) >>> 0;
  }
  regs[R(L.WD_DUMMY_V1_REG_SQ_HEAD)] = head;
  Atomics.store(regs, R(L.WD_DUMMY_V1_REG_CQ_TAIL), tail);
}
const driver = { ...wdDummyV1Driver };
for (const name of ["poll", "pollEncoded"]) {
  const base = wdDummyV1Driver[name];
  if (base !== undefined) driver[name] = function (...args) {
    serve();
    return base.apply(this, args);
  };
}
// A lent ring reads the registers itself: the device serves when its doorbell rings.
if (wdDummyV1Driver.lend !== undefined) {
  driver.lend = (h) => ({ ...wdDummyV1Driver.lend(h), ring: (tail) => (Atomics.store(regs, R(L.WD_DUMMY_V1_REG_DOORBELL), tail), serve()) });
}
const port = {
  regionCount: 2,
  mapRegion: (i) => (i === 0 ? ctrl : queueMem),
  allocDma: () => {
    throw new Error("no DMA in the allocation count");
  },
  reset() {},
  closeDevice() {},
  close() {},
};
const q = new Queue(
  { device: "alloc", type: "wd_dummy-copy", alg: "copy", deviceApi: "wd_dummy_v1", mdev: "alloc", created: false },
  { driver, port, tuning: { interrupts: false } },
);

const NOP = { op: "nop" };
const batch = Array.from({ length: 16 }, (_, i) => ({ op: "nop", id: i }));
const words = q.encode(batch);
const raw = new Uint32Array(256 * 4);

async function runCase(n) {
  let left = n;
  const lane = async () => {
    while (left > 0) {
      left--;
      await q.run(NOP);
    }
  };
  const lanes = [];
  for (let i = 0; i < 32; i++) lanes.push(lane());
  await Promise.all(lanes);
}
function sendCase(n) {
  for (let i = 0; i < n; i += 16) {
    q.sendBatch(batch);
    q.poll();
  }
}
function encodedCase(n) {
  for (let i = 0; i < n; i += 16) {
    q.sendEncoded(words);
    q.poll();
  }
}
function rawCase(n) {
  for (let i = 0; i < n; i += 16) {
    q.sendEncoded(words);
    q.pollEncoded(raw);
  }
}
async function waitCase(n) {
  const one = batch[0];
  for (let i = 0; i < n; i++) {
    q.send(one);
    await q.wait();
  }
}
let ring;
function lentCase(n) {
  ring ??= q.lendRing();
  const dw = ring.descriptorWords;
  for (let i = 0; i < n; i += 16) {
    const m = ring.reserve(16);
    for (let k = 0; k < m; k++) {
      const w = ring.slot(k);
      for (let j = 0; j < dw; j++) ring.sq[w + j] = words[k * dw + j];
    }
    ring.publish(m);
    const got = ring.ready();
    for (let k = 0; k < got; k++) if (ring.cq[ring.completion(k) + 1] & 0xffff) throw new Error("a nop failed");
    ring.consume(got);
  }
}
/** Nothing: what the measurement itself allocates per chunk, in every case's figure too. */
function baselineCase() {}
const cases = { run: runCase, send: sendCase, encoded: encodedCase, raw: rawCase, wait: waitCase, lent: lentCase, baseline: baselineCase };
const body = cases[caseName];
if (body === undefined) throw new Error(`alloc_worker: unknown case ${caseName}`);
// A case whose API this version of the sources lacks (the script also counts older builds).
const absent = caseName === "raw" && typeof q.pollEncoded !== "function" ? "Queue.pollEncoded" : caseName === "lent" && typeof q.lendRing !== "function" ? "Queue.lendRing" : undefined;
if (absent !== undefined) {
  console.log(JSON.stringify({ lang, case: caseName, missing: `${absent} does not exist in this version` }));
} else {
  await body(Number(process.env.WD_ALLOC_WARMUP ?? 20000));
  if (lang === "bun") {
    const { heapStats } = await import("bun:jsc");
    for (let k = 0; k < CHUNKS; k++) {
      Bun.gc(true);
      const a = heapStats();
      await body(CHUNK);
      const b = heapStats();
      const types = {};
      let objects = 0;
      for (const [t, c] of Object.entries(b.objectTypeCounts)) {
        const d = c - (a.objectTypeCounts[t] ?? 0);
        if (d !== 0) types[t] = d;
        objects += d;
      }
      const gc = b.objectCount !== a.objectCount;
      console.log(JSON.stringify({ lang, case: caseName, requests: CHUNK, objects, bytes: b.heapSize - a.heapSize, types, gc }));
    }
  } else {
    const v8 = await import("node:v8");
    for (let k = 0; k < CHUNKS; k++) {
      globalThis.gc();
      const a = v8.getHeapStatistics().used_heap_size;
      await body(CHUNK);
      const b = v8.getHeapStatistics().used_heap_size;
      console.log(JSON.stringify({ lang, case: caseName, requests: CHUNK, bytes: b - a, gc: b < a }));
    }
  }
}
await q.release();
ctrl.close();
queueMem.close();

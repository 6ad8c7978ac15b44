// The JavaScript side of the send-path benchmark (scripts/bench_send.ts), plain JavaScript so
// Bun, Deno and Node run the same code: Bun and Deno load the TypeScript sources, Node the
// compiled build (Node 20 cannot run TypeScript).
//
//   <runtime> scripts/bench/send_worker.mjs SRC_DIR EXT REQUESTS RUNS [LIBRARY]
//
// SRC_DIR holds src/ (the repository, or a build of it), EXT is "ts" or "js". LIBRARY is the
// C barrier library, for the rows that ring through it. Prints one JSON line per run:
//   {"lang":"<runtime>","case":"driver"|"doorbell","batch":B,"backend":"js"|"c","ns":T}
// T is nanoseconds per request (per doorbell for "doorbell").
//
// The stand-in device: one memfd holds the control page and the queue region, mapped with
// MappedMemory as a VFIO region would be. Nothing serves the ring; the loop stores SQ_HEAD
// the way the device does after it has read the requests, and counts their completions as
// reaped, so the ring never fills and every submit does the full work.
const [srcDir, ext, requestsArg, runsArg, library] = process.argv.slice(2);
const REQUESTS = Number(requestsArg ?? 1000000);
const RUNS = Number(runsArg ?? 3);
const mod = (p) => import(new URL(`file://${srcDir}/${p}.${ext}`).href);
const { MappedMemory, memfdCreate, ftruncate } = await mod("src/sys/mman");
const { configureBarrier, doorbell32 } = await mod("src/sys/barrier");
const { wdDummyV1Driver: driver } = await mod("src/drivers/wd_dummy_v1");
const L = await mod("src/drivers/wd_dummy_v1_layout");

const lang = typeof globalThis.Bun !== "undefined" ? "bun" : typeof globalThis.Deno !== "undefined" ? "deno" : "node";
const fd = memfdCreate("wd-bench-send", 1 /* MFD_CLOEXEC */);
ftruncate(fd, L.WD_DUMMY_V1_CTRL_SIZE + L.WD_DUMMY_V1_QUEUE_SIZE);

function device() {
  const ctrl = MappedMemory.mapFile(fd, 0, L.WD_DUMMY_V1_CTRL_SIZE, { label: "bench control page" });
  const queue = MappedMemory.mapFile(fd, L.WD_DUMMY_V1_CTRL_SIZE, L.WD_DUMMY_V1_QUEUE_SIZE, { label: "bench queue region" });
  const regs = ctrl.view(Uint32Array, 0, L.WD_DUMMY_V1_CTRL_SIZE / 4);
  regs.fill(0);
  const set = (off, v) => (regs[off / 4] = v);
  set(L.WD_DUMMY_V1_REG_MAGIC, L.WD_DUMMY_V1_MAGIC);
  set(L.WD_DUMMY_V1_REG_VERSION, L.WD_DUMMY_V1_VERSION);
  set(L.WD_DUMMY_V1_REG_SQ_ENTRIES, L.WD_DUMMY_V1_SQ_ENTRIES);
  set(L.WD_DUMMY_V1_REG_CQ_ENTRIES, L.WD_DUMMY_V1_CQ_ENTRIES);
  set(L.WD_DUMMY_V1_REG_MAX_LEN, L.WD_DUMMY_V1_MAX_LEN);
  set(L.WD_DUMMY_V1_REG_SQ_OFFSET, L.WD_DUMMY_V1_SQ_OFFSET);
  set(L.WD_DUMMY_V1_REG_CQ_OFFSET, L.WD_DUMMY_V1_CQ_OFFSET);
  set(L.WD_DUMMY_V1_REG_ALGO_OP, L.WD_DUMMY_V1_OP_COPY);
  set(L.WD_DUMMY_V1_REG_STATUS, L.WD_DUMMY_V1_STATUS_READY);
  return { ctrl, queue, regs };
}

// The same requests the C reference sends (scripts/bench/send.c).
const pool = Array.from({ length: 256 + 16 }, (_, i) => ({ op: "copy", id: i, src: 0x10000 + i * 64, dst: 0x20000 + i * 64, len: 64 }));
const batches = Array.from({ length: 16 }, (_, b) => pool.slice(b * 16, b * 16 + 16));
const singles = pool.map((r) => [r]);
const SQ_HEAD = L.WD_DUMMY_V1_REG_SQ_HEAD / 4;

function driverLoop(h, regs, n, batch) {
  let sent = 0;
  if (batch === 1) {
    for (let i = 0; i < n; i++) {
      sent += driver.submit(h, singles[i & 255]);
      regs[SQ_HEAD] = h.sqTail; // the device read them
      h.cqHead = h.sqTail; // their completions were reaped
    }
  } else {
    for (let i = 0; i < n; i += 16) {
      sent += driver.submit(h, batches[(i >> 4) & 15]);
      regs[SQ_HEAD] = h.sqTail;
      h.cqHead = h.sqTail;
    }
  }
  return sent;
}

function doorbellLoop(ring, n) {
  for (let i = 0; i < n; i++) ring(i);
  return n;
}

function measure(name, batch, backend, n, body) {
  body((n >> 2) & ~15); // warm-up: the JIT compiles the loop before it is timed
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const sent = body(n);
    const ns = ((performance.now() - t0) * 1e6) / n;
    if (sent !== n) throw new Error(`${name}: sent ${sent} of ${n}`);
    console.log(JSON.stringify({ lang, case: name, batch, backend, ns }));
  }
}

for (const backend of library ? ["js", "c"] : ["js"]) {
  configureBarrier({ backend, library });
  const { ctrl, queue, regs } = device();
  // Each row gets its own driver state, as a freshly opened queue would have.
  const ctx = { alg: "copy", device: "bench", regionCount: 2, mapRegion: (i) => (i === 0 ? ctrl : queue) };
  // The C doorbell costs a koffi call: fewer requests keep its rows as long as the others.
  const n = (backend === "c" ? REQUESTS >> 3 : REQUESTS) & ~15;
  for (const batch of [1, 16]) {
    const h = driver.open(ctx);
    if (h.ring.backend !== backend) throw new Error(`the driver rings through ${h.ring.backend}, expected ${backend}`);
    measure("driver", batch, backend, n, (k) => driverLoop(h, regs, k, batch));
  }
  measure("doorbell", 1, backend, n, (k) => doorbellLoop(doorbell32(ctrl, L.WD_DUMMY_V1_REG_DOORBELL), k));
  ctrl.close();
  queue.close();
}

// The JavaScript side of the send-path benchmark (scripts/bench_send.ts), plain JavaScript so
// Bun, Deno and Node run the same code: Bun and Deno load the TypeScript sources, Node the
// compiled build (Node 20 cannot run TypeScript).
//
//   <runtime> scripts/bench/send_worker.mjs SRC_DIR EXT REQUESTS RUNS CASE BATCH BACKEND [LIBRARY]
//
// SRC_DIR holds src/ (the repository, or a build of it), EXT is "ts" or "js". One case per
// process, so each is measured with a JIT that has seen nothing else (as in a program that
// sends one way), like the C reference, which also runs each case in its own process:
//   driver    driver.submit of request objects (each checked and encoded on the way)
//   encoded   driver.submitEncoded of descriptors encoded once beforehand (driver.encode)
//   lent      the ring lent in place (LentRing over driver.lend): reserve, the same
//             descriptors copied into the slots it gives, publish
//   floor     no driver: the same descriptor copy and Atomics.store doorbell written inline,
//             the least this engine does for the work (what the driver is held against)
//   floor-handle  the floor with the ring's state in a handle and the room check: the
//             least a driver does, whose state lives between calls
//   doorbell  the doorbell alone (BATCH is 1)
// BACKEND is "js" (Atomics.store) or "c" (wd_doorbell32 of LIBRARY through koffi).
// Prints one JSON line per run:
//   {"lang":"<runtime>","case":CASE,"batch":B,"backend":BACKEND,"ns":T}
// T is nanoseconds per request (per doorbell for "doorbell").
//
// The stand-in device: one memfd holds the control page and the queue region, mapped with
// MappedMemory as a VFIO region would be. Nothing serves the ring; the loop stores SQ_HEAD
// the way the device does after it has read the requests, and counts their completions as
// reaped, so the ring never fills and every submit does the full work.
const [srcDir, ext, requestsArg, runsArg, caseName, batchArg, backend, library] = process.argv.slice(2);
const BATCH = Number(batchArg);
const REQUESTS = Number(requestsArg ?? 1000000);
const RUNS = Number(runsArg ?? 3);
/** Milliseconds of untimed warm-up before a case is timed. */
const WARM_MS = 1500;
const mod = (p) => import(new URL(`file://${srcDir}/${p}.${ext}`).href);
const { MappedMemory, memfdCreate, ftruncate } = await mod("src/sys/mman");
const { configureBarrier, doorbell32 } = await mod("src/sys/barrier");
const { wdDummyV1Driver: driver } = await mod("src/drivers/wd_dummy_v1");
const L = await mod("src/drivers/wd_dummy_v1_layout");
const { LentRing } = await mod("src/queue/lent");

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

// The same requests encoded once (driver.encode), for the encoded path: like the C
// reference, each submit copies prepared 32-byte descriptors into the ring.
const words = new Uint32Array(pool.length * L.WD_DUMMY_V1_REQ_SIZE / 4);
pool.forEach((r, i) => driver.encode(r, words, (i * L.WD_DUMMY_V1_REQ_SIZE) / 4));

function encodedLoop(h, regs, n, batch) {
  let sent = 0;
  if (batch === 1) {
    for (let i = 0; i < n; i++) {
      sent += driver.submitEncoded(h, words, i & 255, 1);
      regs[SQ_HEAD] = h.sqTail;
      h.cqHead = h.sqTail;
    }
  } else {
    for (let i = 0; i < n; i += 16) {
      sent += driver.submitEncoded(h, words, i & 255, 16);
      regs[SQ_HEAD] = h.sqTail;
      h.cqHead = h.sqTail;
    }
  }
  return sent;
}

// The lent ring: the copy into the slots reserve gives, then publish. Its completion ring
// is made large enough never to bound it, as the loops above count completions as reaped.
function lentLoop(ring, regs, n, batch) {
  const sq = ring.sq;
  let tail = regs[L.WD_DUMMY_V1_REG_DOORBELL / 4];
  for (let i = 0; i < n; i += batch) {
    if (ring.reserve(batch) !== batch) return i;
    let from = (i & 255) * 8;
    for (let k = 0; k < batch; k++) {
      const w = ring.slot(k);
      sq[w] = words[from];
      sq[w + 1] = words[from + 1];
      sq[w + 2] = words[from + 2];
      sq[w + 3] = words[from + 3];
      sq[w + 4] = words[from + 4];
      sq[w + 5] = words[from + 5];
      sq[w + 6] = words[from + 6];
      sq[w + 7] = words[from + 7];
      from += 8;
    }
    ring.publish(batch);
    tail = (tail + batch) >>> 0;
    regs[SQ_HEAD] = tail; // the device read them
  }
  return n;
}

// The floor: the descriptor copy and doorbell of encodedLoop, inline, with no driver.
function floorLoop(sq, regs, n, batch) {
  const DB = L.WD_DUMMY_V1_REG_DOORBELL / 4;
  let tail = 0;
  for (let i = 0; i < n; i += batch) {
    let from = (i & 255) * 8;
    for (let k = 0; k < batch; k++) {
      const w = (tail & 255) * 8;
      sq[w] = words[from];
      sq[w + 1] = words[from + 1];
      sq[w + 2] = words[from + 2];
      sq[w + 3] = words[from + 3];
      sq[w + 4] = words[from + 4];
      sq[w + 5] = words[from + 5];
      sq[w + 6] = words[from + 6];
      sq[w + 7] = words[from + 7];
      from += 8;
      tail = (tail + 1) >>> 0;
    }
    Atomics.store(regs, DB, tail);
    regs[SQ_HEAD] = tail;
  }
  return n;
}

// The floor a driver can reach: the same copy and doorbell, with what every driver has on
// top of it and the floor above has not: the ring's state kept in a handle between calls
// (a ring, its mask and tail are read from an object, not from locals the JIT keeps in
// registers) and the check for ring room against the device's head.
function floorHandleLoop(h, n, batch) {
  const DB = L.WD_DUMMY_V1_REG_DOORBELL / 4;
  for (let i = 0; i < n; i += batch) {
    let tail = h.tail;
    if (h.entries - ((tail - h.head) >>> 0) < batch) {
      h.head = Atomics.load(h.regs, SQ_HEAD);
      if (h.entries - ((tail - h.head) >>> 0) < batch) return i;
    }
    const sq = h.sq, mask = h.mask;
    let from = (i & 255) * 8;
    for (let k = 0; k < batch; k++) {
      const w = (tail & mask) * 8;
      sq[w] = words[from];
      sq[w + 1] = words[from + 1];
      sq[w + 2] = words[from + 2];
      sq[w + 3] = words[from + 3];
      sq[w + 4] = words[from + 4];
      sq[w + 5] = words[from + 5];
      sq[w + 6] = words[from + 6];
      sq[w + 7] = words[from + 7];
      from += 8;
      tail = (tail + 1) >>> 0;
    }
    h.tail = tail;
    Atomics.store(h.regs, DB, tail);
    h.regs[SQ_HEAD] = tail; // the device read them
  }
  return n;
}

function doorbellLoop(ring, n) {
  for (let i = 0; i < n; i++) ring(i);
  return n;
}

function measure(name, batch, backend, n, body) {
  // Warm-up until the JIT's top tier has the loop: at least WARM_MS of it (JavaScriptCore
  // takes more than 10 million requests of the driver's loop to reach its last tier).
  for (const t0 = performance.now(); performance.now() - t0 < WARM_MS;) body((n >> 2) & ~15);
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const sent = body(n);
    const ns = ((performance.now() - t0) * 1e6) / n;
    if (sent !== n) throw new Error(`${name}: sent ${sent} of ${n}`);
    console.log(JSON.stringify({ lang, case: name, batch, backend, ns }));
  }
}

if (!["driver", "encoded", "lent", "floor", "floor-handle", "doorbell"].includes(caseName) || !(BATCH === 1 || BATCH === 16) || !["js", "c"].includes(backend)) {
  throw new Error(`send_worker: bad case ${caseName} batch ${batchArg} backend ${backend}`);
}
configureBarrier(backend === "c" ? { backend, library } : { backend });
const { ctrl, queue, regs } = device();
const ctx = { alg: "copy", device: "bench", regionCount: 2, mapRegion: (i) => (i === 0 ? ctrl : queue) };
// The C doorbell costs a koffi call: fewer requests keep its rows as long as the others.
const n = (backend === "c" ? REQUESTS >> 3 : REQUESTS) & ~15;
if (caseName === "doorbell") {
  measure("doorbell", 1, backend, n, (k) => doorbellLoop(doorbell32(ctrl, L.WD_DUMMY_V1_REG_DOORBELL), k));
} else if (caseName === "floor") {
  const sq = queue.view(Uint32Array, L.WD_DUMMY_V1_SQ_OFFSET, L.WD_DUMMY_V1_SQ_ENTRIES * 8);
  measure("floor", BATCH, backend, n, (k) => floorLoop(sq, regs, k, BATCH));
} else if (caseName === "floor-handle") {
  const sq = queue.view(Uint32Array, L.WD_DUMMY_V1_SQ_OFFSET, L.WD_DUMMY_V1_SQ_ENTRIES * 8);
  const h = { sq, regs, mask: L.WD_DUMMY_V1_SQ_ENTRIES - 1, entries: L.WD_DUMMY_V1_SQ_ENTRIES, tail: 0, head: 0 };
  measure("floor-handle", BATCH, backend, n, (k) => floorHandleLoop(h, k, BATCH));
} else if (caseName === "lent") {
  const h = driver.open(ctx);
  const parts = { ...driver.lend(h), cqEntries: 2 ** 30 };
  if ((parts.ring === undefined ? "js" : "c") !== backend) throw new Error(`the lent ring rings through the other backend, expected ${backend}`);
  const ring = new LentRing({ parts, driver, handle: h, irq: undefined, spinMs: 0, check: undefined, label: "bench", onGiveBack() {} });
  measure("lent", BATCH, backend, n, (k) => lentLoop(ring, regs, k, BATCH));
} else {
  const h = driver.open(ctx);
  if (h.ring.backend !== backend) throw new Error(`the driver rings through ${h.ring.backend}, expected ${backend}`);
  const loop = caseName === "driver" ? driverLoop : encodedLoop;
  measure(caseName, BATCH, backend, n, (k) => loop(h, regs, k, BATCH));
}
ctrl.close();
queue.close();

/**
 * The queue API end to end on the real kernel: the dummy WarpDrive module, mediated
 * devices, VFIO, DMA through vfio_dma_rw, reclaim on process death. Runs inside the rig.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  createMdev,
  type DummyCompletion,
  type DummyRequest,
  enumerate,
  NoAcceleratorError,
  Queue,
  removeMdev,
  requestQueue,
  select,
  setPriority,
} from "../../mod.ts";
import { attr, MDEV_DIR, reload, requireRig, run, start } from "./kmod_harness.ts";
import { crc32 } from "../unit/_fake_wd_dummy.ts";

const MOD = path.resolve(import.meta.dir, "..", "..", "mod.ts");
type DQ = Queue<DummyRequest, DummyCompletion>;

function allMdevs(): string[] {
  return existsSync(MDEV_DIR) ? readdirSync(MDEV_DIR) : [];
}
function removeAll(): void {
  for (const u of allMdevs()) removeMdev(u);
}
function dmesgProblems(): string[] {
  return run("dmesg", []).stdout.split("\n").filter((l) => /WARNING|BUG|Oops|general protection|Call Trace/.test(l));
}
function counter(uuid: string, name: string): number {
  return Number(attr(`${MDEV_DIR}/${uuid}/wd_dummy/${name}`));
}
function script(name: string, body: string): string {
  const file = `/tmp/${name}.ts`;
  writeFileSync(file, `import * as wd from ${JSON.stringify(MOD)};\n${body}`);
  return file;
}
async function drain(q: DQ, n: number): Promise<DummyCompletion[]> {
  const out: DummyCompletion[] = [];
  while (out.length < n) out.push(await q.wait({ timeout: 10_000 }));
  return out;
}

beforeAll(() => {
  requireRig();
  reload({ devices: 3, instances: 4 });
  run("dmesg", ["-C"]);
});
afterAll(() => {
  removeAll();
});

describe("requestQueue on the dummy accelerator", () => {
  test("the full flow: create, open, copy through DMA, checksum, release removes the mdev", async () => {
    removeAll();
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
    try {
      expect([q.device, q.type, q.deviceApi, q.created]).toEqual(["wd_dummy0", "wd_dummy-copy", "wd_dummy_v1", true]);
      expect(allMdevs()).toEqual([q.mdev]);
      const src = q.alloc(8192);
      const dst = q.alloc(8192);
      const pattern = src.bytes();
      for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 13 + 5) & 0xff;
      q.send({ op: "copy", id: 1, src: src.iova, dst: dst.iova, len: 8192 });
      expect(await q.wait({ timeout: 10_000 })).toMatchObject({ id: 1, status: 0, result: 8192 });
      expect(Buffer.compare(dst.bytes(), src.bytes())).toBe(0);
    } finally {
      await q.release();
    }
    expect(allMdevs()).toEqual([]);

    const c = await requestQueue<DummyRequest, DummyCompletion>({ alg: "csum", allowCreate: true });
    try {
      const buf = c.alloc(4096);
      const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
      buf.bytes().set(data);
      c.send({ op: "csum", id: 9, src: buf.iova, len: data.length });
      const done = await c.wait({ timeout: 10_000 });
      expect(done).toMatchObject({ id: 9, status: 0, result: 0x414fa339 });
      expect(crc32(data)).toBe(0x414fa339);
    } finally {
      await c.release();
    }
  });

  test("10,000 requests with checked payloads", async () => {
    removeAll();
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
    try {
      const src = q.alloc(1 << 16);
      const dst = q.alloc(1 << 16);
      const s = src.bytes();
      for (let i = 0; i < s.length; i++) s[i] = (i * 2654435761) >>> 24;
      const d = dst.bytes();
      const BATCH = 64, LEN = 256, TOTAL = 10_000;
      let done = 0, bad = 0;
      while (done < TOTAL) {
        const n = Math.min(BATCH, TOTAL - done);
        const reqs: DummyRequest[] = [];
        for (let k = 0; k < n; k++) {
          const id = done + k;
          reqs.push({ op: "copy", id, src: src.iova + BigInt((id * 97) % (s.length - LEN)), dst: dst.iova + BigInt(k * LEN), len: LEN });
        }
        expect(q.sendBatch(reqs)).toBe(n);
        const got = await drain(q, n);
        for (const c of got) {
          const k = c.id - done;
          const off = (c.id * 97) % (s.length - LEN);
          if (c.status !== 0 || c.result !== LEN || Buffer.compare(d.subarray(k * LEN, k * LEN + LEN), s.subarray(off, off + LEN)) !== 0) bad++;
        }
        expect(got.map((c) => c.id)).toEqual(reqs.map((r) => r.id));
        done += n;
      }
      expect(bad).toBe(0);
      expect(counter(q.mdev, "requests")).toBeGreaterThanOrEqual(TOTAL);
    } finally {
      await q.release();
    }
  }, 120_000);

  test("encoded requests: 10,000 checked copies through sendEncoded, and raw descriptors the module refuses", async () => {
    removeAll();
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
    try {
      const BATCH = 64, LEN = 256, TOTAL = 10_000;
      const src = q.alloc(1 << 16);
      const dst = q.alloc(BATCH * LEN);
      const s = src.bytes();
      for (let i = 0; i < s.length; i++) s[i] = (i * 2654435761) >>> 24;
      const d = dst.bytes();
      // One descriptor per slot, encoded once; each pass rewrites only the id and source.
      const words = q.encode(Array.from({ length: BATCH }, (_, k) => ({ op: "copy" as const, id: k, src: Number(src.iova), dst: Number(dst.iova) + k * LEN, len: LEN })));
      const DW = q.descriptorWords as number;
      let done = 0, bad = 0;
      while (done < TOTAL) {
        const n = Math.min(BATCH, TOTAL - done);
        d.fill(0);
        for (let k = 0; k < n; k++) {
          const id = done + k;
          words[k * DW + 1] = id; // the id word (WD_DUMMY_V1_REQ_OFF_ID / 4)
          words[k * DW + 2] = Number(src.iova) + ((id * 97) % (s.length - LEN)); // low word of src
        }
        expect(q.sendEncoded(words, 0, n)).toBe(n);
        const got = await drain(q, n);
        expect(got.map((c) => c.id)).toEqual(Array.from({ length: n }, (_, k) => done + k));
        for (const c of got) {
          const k = c.id - done;
          const off = (c.id * 97) % (s.length - LEN);
          if (c.status !== 0 || c.result !== LEN || Buffer.compare(d.subarray(k * LEN, k * LEN + LEN), s.subarray(off, off + LEN)) !== 0) bad++;
        }
        done += n;
      }
      expect(bad).toBe(0);
      // Descriptors go as they are: the module checks them.
      const raw = q.encode([{ op: "nop", id: 1 }, { op: "nop", id: 2 }, { op: "copy", id: 3, src: src.iova, dst: dst.iova, len: 64 }]);
      raw[0 * DW + 7] = 1; // rsvd
      raw[1 * DW + 0] = 42; // no such opcode
      raw[2 * DW + 3] = 0x7fff; // src high word: far outside the mapping
      expect(q.sendEncoded(raw)).toBe(3);
      expect((await drain(q, 3)).map((c) => [c.id, c.statusName])).toEqual([[1, "bad-field"], [2, "bad-opcode"], [3, "bad-iova"]]);
    } finally {
      await q.release();
    }
    expect(dmesgProblems()).toEqual([]);
  }, 120_000);

  test("bad requests get error completions and the kernel log stays clean", async () => {
    removeAll();
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy", allowCreate: true });
    try {
      const buf = q.alloc(4096);
      q.sendBatch([
        { op: 99, id: 1 },
        { op: "csum", id: 2, src: buf.iova, len: 16 },
        { op: "nop", id: 3, flags: 1 },
        { op: "copy", id: 4, src: buf.iova, dst: buf.iova + 2048n, len: 0 },
        { op: "copy", id: 5, src: buf.iova, dst: buf.iova + 2048n, len: 64 << 20 },
        { op: "copy", id: 6, src: 0x7fff_0000_0000n, dst: buf.iova, len: 64 },
        { op: "copy", id: 7, src: buf.iova, dst: buf.iova + 8n, len: 64 },
        { op: "copy", id: 8, src: buf.iova, dst: buf.iova + 2048n, len: 64 },
      ]);
      const got = await drain(q, 8);
      expect(got.map((c) => [c.id, c.statusName])).toEqual([
        [1, "bad-opcode"],
        [2, "bad-opcode"],
        [3, "bad-field"],
        [4, "bad-len"],
        [5, "bad-len"],
        [6, "bad-iova"],
        [7, "overlap"],
        [8, "ok"],
      ]);
      expect(counter(q.mdev, "errors")).toBeGreaterThanOrEqual(7);
    } finally {
      await q.release();
    }
    expect(dmesgProblems()).toEqual([]);
  });

  test("release and request again 100 times leaks no fd and no mapping", async () => {
    removeAll();
    const uuid = createMdev("wd_dummy0", "wd_dummy-copy");
    const fds = () => readdirSync("/proc/self/fd").length;
    const maps = () => readFileSync("/proc/self/maps", "utf8").split("\n").length;
    const warm = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy" });
    await warm.release();
    const [fd0, map0] = [fds(), maps()];
    for (let i = 0; i < 100; i++) {
      const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy" });
      expect(q.mdev).toBe(uuid);
      const b = q.alloc(4096);
      q.send({ op: "copy", id: i, src: b.iova, dst: b.iova + 2048n, len: 100 });
      expect((await q.wait({ timeout: 10_000 })).status).toBe(0);
      await q.release();
    }
    expect([fds(), maps()]).toEqual([fd0, map0]);
    removeMdev(uuid);
  }, 120_000);

  test("a priority written through the API changes the choice", async () => {
    removeAll();
    const a = createMdev("wd_dummy0", "wd_dummy-copy");
    const b = createMdev("wd_dummy2", "wd_dummy-copy");
    try {
      expect(select(enumerate({ alg: "copy" }), { alg: "copy", apis: ["wd_dummy_v1"] }).device.id).toBe("wd_dummy0");
      setPriority("wd_dummy2", -10);
      const q = await requestQueue({ alg: "copy" });
      expect([q.device, q.mdev]).toEqual(["wd_dummy2", b]);
      await q.release();
      expect(attr("/sys/class/warpdrive/wd_dummy2/wdev/priority")).toBe("-10");
    } finally {
      setPriority("wd_dummy2", 0);
      removeMdev(a);
      removeMdev(b);
    }
  });

  test("wd_type and flags filter on the module's real attributes", async () => {
    removeAll();
    const inv = enumerate({});
    const copy = inv.devices[0]?.types.find((t) => t.name === "copy");
    expect([copy?.wdType, copy?.flags]).toEqual(["memory", 0x103]);
    expect(select(enumerate({ alg: "copy" }), { alg: "copy", flags: 0x102, allowCreate: true, apis: ["wd_dummy_v1"] }).type.type).toBe("wd_dummy-copy");
    expect(select(enumerate({ alg: "csum" }), { alg: "csum", flags: 0x10001, wdType: "hash", allowCreate: true, apis: ["wd_dummy_v1"] }).type.type).toBe("wd_dummy-csum");
    let err: unknown;
    try {
      await requestQueue({ alg: "copy", flags: 0x10000, allowCreate: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoAcceleratorError);
    expect((err as Error).message).toContain("wd_dummy0/wd_dummy-copy: flags 0x103 lack 0x10000");
    await expect(requestQueue({ alg: "copy", wdType: "hash", allowCreate: true })).rejects.toThrow('wd_type is "memory", not "hash"');
    expect(allMdevs()).toEqual([]);
  });

  test("creating a mediated device as an unprivileged user fails with a clear error", () => {
    const file = script("create_unprivileged", `
      try { wd.createMdev("wd_dummy0", "wd_dummy-copy"); console.log("created"); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`);
    const r = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, file]);
    const out = JSON.parse(r.stdout.trim());
    expect(out.code).toBe("EACCES");
    expect(out.message).toContain("/sys/class/warpdrive/wd_dummy0/mdev_supported_types/wd_dummy-copy/create needs root");
    expect(allMdevs()).toEqual([]);
  }, 60_000);

  test("two processes racing for one free mediated device: exactly one wins, the other is told it is busy", async () => {
    removeAll();
    const uuid = createMdev("wd_dummy1", "wd_dummy-copy");
    const file = script("race", `
      try {
        const q = await wd.requestQueue({ alg: "copy", classes: ["warpdrive"] });
        console.log("got " + q.mdev);
        await new Promise((r) => setTimeout(r, 3000));
        await q.release();
      } catch (e) { console.log("none " + JSON.stringify(e.message)); }`);
    const a = start(process.execPath, [file]);
    const b = start(process.execPath, [file]);
    const [ra, rb] = await Promise.all([a.exited(60_000), b.exited(60_000)]);
    const outs = [ra.stdout.trim(), rb.stdout.trim()].sort();
    expect(outs[0]).toBe(`got ${uuid}`);
    expect(outs[1]).toStartWith("none ");
    expect(outs[1]).toContain(`mediated device ${uuid} is busy: another process holds its VFIO group`);
    removeMdev(uuid);
  }, 90_000);

  test("SIGKILL of a process holding a queue: the kernel reclaims it and it is usable again", async () => {
    removeAll();
    const uuid = createMdev("wd_dummy0", "wd_dummy-copy");
    const before = counter(uuid, "reclaims");
    const file = script("hold", `
      const q = await wd.requestQueue({ alg: "copy", classes: ["warpdrive"] });
      const b = q.alloc(4096);
      for (let i = 0; i < 10; i++) { q.send({ op: "copy", id: i, src: b.iova, dst: b.iova + 2048n, len: 64 }); await q.wait({ timeout: 10000 }); }
      console.log("holding " + q.mdev);
      await new Promise(() => {});`);
    const child = start(process.execPath, [file]);
    expect(await child.line(/^holding /, 60_000)).toBe(`holding ${uuid}`);
    expect(attr(`${MDEV_DIR}/${uuid}/wd_dummy/state`)).toBe("open");
    child.kill("SIGKILL");
    await child.exited(30_000);
    for (let i = 0; i < 100 && attr(`${MDEV_DIR}/${uuid}/wd_dummy/state`) !== "idle"; i++) await Bun.sleep(50);
    expect(attr(`${MDEV_DIR}/${uuid}/wd_dummy/state`)).toBe("idle");
    expect(counter(uuid, "reclaims")).toBe(before + 1);
    const q = await requestQueue<DummyRequest, DummyCompletion>({ alg: "copy" });
    try {
      expect(q.mdev).toBe(uuid);
      const b = q.alloc(4096);
      b.bytes().fill(7, 0, 64);
      q.send({ op: "copy", id: 77, src: b.iova, dst: b.iova + 2048n, len: 64 });
      expect(await q.wait({ timeout: 10_000 })).toMatchObject({ id: 77, status: 0, sqIndex: 0 });
      expect([...b.bytes(2048, 64)].every((x) => x === 7)).toBe(true);
    } finally {
      await q.release();
    }
    removeMdev(uuid);
    expect(dmesgProblems()).toEqual([]);
  }, 120_000);
});

// The library as each runtime loads it through the package's `exports`: Node and Deno get
// the JavaScript compiled into dist/ (the "default" condition; Deno refuses TypeScript
// inside node_modules, so an npm install gives it the build too), Bun the TypeScript
// sources (the "bun" condition). Deno also runs this suite over the sources with
// deno_sources.json, the import map that mirrors jsr.json, and `-- --sources`.
// Plain JavaScript with node:test, because Node 20 cannot run TypeScript and Deno and Bun
// run node:test suites as they are. package.json "test:smoke" has the exact commands.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as root from "warpdrive";
import { enumerate, NoAcceleratorError, select } from "warpdrive";
import { makeSysfs, nodeFsReader, nodeReader } from "warpdrive/testing";
import * as sys from "warpdrive/sys";
import {
  ClosedError,
  Fd,
  ftruncate,
  MappedMemory,
  memfdCreate,
  MFD_CLOEXEC,
  O_CLOEXEC,
  O_RDONLY,
  pageSize,
  SyscallError,
} from "warpdrive/sys";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const deno = globalThis.Deno;
const bun = globalThis.Bun !== undefined;
/** What this run should have loaded: "sources" (TypeScript) or "dist" (the build). */
const expected = bun || deno?.args.includes("--sources") ? "sources" : "dist";
const M1 = "11111111-1111-4111-8111-111111111111";
const M2 = "22222222-2222-4222-8222-222222222222";

/** @param {string} file */
function readJson(file) {
  return JSON.parse(fs.readFileSync(path.join(REPO, file), "utf8"));
}

test("every entry point resolves to the build or to the sources, as this runtime is set up", () => {
  for (const [name, source] of [["warpdrive", "mod"], ["warpdrive/sys", "src/sys/mod"], ["warpdrive/vfio", "src/vfio/mod"], ["warpdrive/abi", "src/abi/mod"], ["warpdrive/testing", "src/testing/mod"]]) {
    const file = fileURLToPath(import.meta.resolve(name));
    assert.equal(path.relative(REPO, file), expected === "dist" ? `dist/${source}.js` : `${source}.ts`, name);
  }
});

test("jsr.json and the Deno import map export the sources that package.json exports", () => {
  const pkg = readJson("package.json");
  const jsr = readJson("jsr.json");
  const map = readJson("tests/smoke/deno_sources.json").imports;
  assert.equal(jsr.version, pkg.version);
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
  assert.deepEqual(Object.keys(jsr.exports).sort(), subpaths.sort());
  for (const sub of subpaths) {
    const cond = pkg.exports[sub];
    assert.equal(jsr.exports[sub], cond.bun, sub);
    assert.equal(cond.default, `./dist/${cond.bun.slice(2).replace(/\.ts$/, ".js")}`, sub);
    assert.equal(cond.types, cond.default.replace(/\.js$/, ".d.ts"), sub);
    assert.equal(map[`warpdrive${sub.slice(1)}`], `../../${cond.bun.slice(2)}`, sub);
  }
});

test("enumerate and select read a fixture tree and choose the preferred accelerator", () => {
  const tree = makeSysfs({
    devices: [
      { id: "acc0", priority: 5, types: [{ name: "copy", mdevs: [M1] }] },
      { id: "acc1", priority: -3, types: [{ name: "copy", mdevs: [M2] }, { name: "zlib" }] },
    ],
  });
  try {
    const inventory = enumerate({ root: tree.root });
    assert.deepEqual(inventory.devices.map((d) => d.id), ["acc0", "acc1"]);
    const acc1 = inventory.devices.find((d) => d.id === "acc1");
    assert.deepEqual(acc1?.types.map((t) => t.name).sort(), ["copy", "zlib"]);

    const choice = select(enumerate({ root: tree.root, alg: "copy" }), { alg: "copy", apis: ["wd_dummy_v1"] });
    assert.equal(choice.device.id, "acc1");
    assert.equal(choice.mdev, M2);

    assert.throws(
      () => select(enumerate({ root: tree.root, alg: "crc" }), { alg: "crc", apis: ["wd_dummy_v1"] }),
      (e) => e instanceof NoAcceleratorError && /crc/.test(e.message),
    );
  } finally {
    tree.close();
  }
  assert.equal(fs.existsSync(tree.root), false);
});

test("the file system reader of this runtime reads a hostile tree exactly as the node:fs reader does", () => {
  // Under Deno, nodeReader reads through the Deno namespace (no node: layer at start-up);
  // elsewhere it is the node:fs reader itself.
  assert.equal(nodeReader === nodeFsReader, deno === undefined);
  const tree = makeSysfs({
    devices: [
      { id: "acc0", priority: 5, types: [{ name: "copy", mdevs: [M1], wdType: null, latency: null }, { name: "csum" }] },
      { id: "acc1", types: [{ name: "copy" }] },
    ],
    uacce: [{ id: "uacce_dummy-0", algorithms: ["copy", "crc32"] }],
  });
  try {
    const type = path.join(tree.root, "devices", "warpdrive", "acc0", "mdev_supported_types", "wd_dummy-copy");
    assert.equal(spawnSync("mkfifo", [path.join(type, "wd_type")]).status, 0); // a FIFO: must not hang
    fs.mkdirSync(path.join(type, "latency")); // a directory in place of an attribute
    fs.writeFileSync(path.join(tree.root, "devices", "warpdrive", "acc0", "wdev", "priority"), "7".repeat(5000)); // over one page
    fs.symlinkSync(path.join(tree.root, "nowhere"), path.join(tree.root, "class", "warpdrive", "gone")); // dangling
    fs.writeFileSync(Buffer.from(`${path.join(tree.root, "class", "warpdrive")}/bad\xff`, "latin1"), ""); // not UTF-8
    const errorOf = (f) => {
      try {
        f();
      } catch (e) {
        // The wording after the code is the system's (libuv's or the OS's); SysfsError's own
        // messages, which users see, are built from the code and the path.
        return { name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message.split(":")[0] };
      }
      return "no error";
    };
    for (const reader of [nodeReader, nodeFsReader]) assert.ok(reader.list(tree.root).length > 0);
    for (const alg of [undefined, "copy"]) {
      assert.deepEqual(enumerate({ root: tree.root, alg, reader: nodeReader }), enumerate({ root: tree.root, alg, reader: nodeFsReader }));
    }
    const missing = path.join(tree.root, "missing");
    for (const [what, f] of [
      ["a missing attribute", (r) => r.readAttribute(missing)],
      ["a directory read as an attribute", (r) => r.readAttribute(tree.root)],
      ["an attribute over a page", (r) => r.readAttribute(path.join(tree.root, "devices", "warpdrive", "acc0", "wdev", "priority"))],
      ["a file listed as a directory", (r) => r.list(path.join(type, "name"))],
      ["a missing directory", (r) => r.list(missing)],
      ["a dangling link followed", (r) => r.kindOf(path.join(tree.root, "class", "warpdrive", "gone"))],
    ]) {
      const want = errorOf(() => f(nodeFsReader));
      assert.notEqual(want, "no error", what);
      assert.deepEqual(errorOf(() => f(nodeReader)), want, what);
    }
    assert.deepEqual(errorOf(() => enumerate({ root: missing, reader: nodeReader })), errorOf(() => enumerate({ root: missing, reader: nodeFsReader })));
    assert.equal(nodeReader.isDanglingLink(path.join(tree.root, "class", "warpdrive", "gone")), true);
    assert.equal(nodeReader.readAttribute(path.join(type, "wd_type")), "");
    // Under Deno the reader hands over to node:fs after some thousand calls (cheaper per
    // call once its layer is loaded): the readings stay the same across the hand-over.
    const want = JSON.stringify(enumerate({ root: tree.root, reader: nodeFsReader }));
    for (let i = 0; i < 80; i++) assert.equal(JSON.stringify(enumerate({ root: tree.root, reader: nodeReader })), want, `reading ${i}`);
  } finally {
    tree.close();
  }
});

test("a memfd mapped as a region is read and written through the register accessors", () => {
  const size = pageSize();
  const fd = Fd.adopt(memfdCreate("warpdrive-smoke", MFD_CLOEXEC), { label: "smoke memfd" });
  try {
    ftruncate(fd.fd, size);
    const regs = MappedMemory.mapFile(fd.fd, 0, size, { label: "smoke region" });
    regs.write32(0x10, 0x010000ed);
    regs.write64(0x18, 0x1122334455667788n);
    assert.equal(regs.read32(0x10), 0x010000ed);
    assert.equal(regs.read64(0x18), 0x1122334455667788n);

    // The file sees the stores: the mapping is shared, not a copy.
    const back = new Uint8Array(4);
    assert.equal(fd.pread(back, 0x10), 4);
    assert.equal(new DataView(back.buffer).getUint32(0, true), 0x010000ed);

    assert.throws(() => regs.read32(size), RangeError);
    assert.throws(() => regs.read32(0x11), RangeError);
    regs.close();
    regs.close();
    assert.throws(() => regs.read32(0x10), ClosedError);
  } finally {
    fd.close();
  }
  assert.throws(() => fd.fd, ClosedError);
});

test("the wd command of package.json \"bin\" lists a fixture tree", () => {
  const bin = path.join(REPO, readJson("package.json").bin.wd);
  // Under Deno the bin runs as `deno run` with the permissions a user would give it.
  const wd = (...args) =>
    spawnSync(process.execPath, deno ? ["run", "--allow-all", bin, ...args] : [bin, ...args], { encoding: "utf8" });
  const tree = makeSysfs({ devices: [{ id: "acc0", priority: 7, types: [{ name: "copy" }] }] });
  try {
    const r = wd("list", "--sysfs", tree.root);
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^acc0 .*priority 7/m);
    assert.match(r.stdout, /wd_dummy-copy +copy /);
    const bad = wd("list", "--no-such-option");
    assert.equal(bad.status, 2);
    // --version is answered before the command line loads; it must say what the full path says.
    const version = readJson("package.json").version;
    for (const flag of ["--version", "-V"]) {
      const v = wd(flag);
      assert.deepEqual([v.status, v.stdout, v.stderr], [0, `${version}\n`, ""], flag);
    }
    assert.equal(JSON.parse(wd("--version", "--json").stdout).version, version);
    // So is --help: the same text the parser's path prints for `wd --help --sysfs ROOT`.
    const full = wd("--help", "--sysfs", tree.root);
    assert.equal(full.status, 0);
    assert.match(full.stdout, /^Commands:$/m);
    for (const flag of ["--help", "-h", "help"]) {
      const h = wd(flag);
      assert.deepEqual([h.status, h.stdout, h.stderr], [0, full.stdout, ""], flag);
    }
    if (deno) {
      // The fast paths need no permission at all.
      for (const [flag, want] of [["--version", `${version}\n`], ["--help", full.stdout]]) {
        const bare = spawnSync(process.execPath, ["run", bin, flag], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
        assert.deepEqual([bare.status, bare.stdout], [0, want], bare.stderr);
      }
    }
  } finally {
    tree.close();
  }
});

test("barrierInfo and configureBarrier, which the README documents, are exported", () => {
  for (const [name, m] of [["warpdrive", root], ["warpdrive/sys", sys]]) {
    assert.equal(typeof m.barrierInfo, "function", name);
    assert.equal(typeof m.configureBarrier, "function", name);
  }
  const info = root.barrierInfo();
  assert.ok(info.backend === "js" || info.backend === "c", JSON.stringify(info));
  assert.equal(sys.barrierInfo(), info);
});

test("under Deno, wd list and wd pick need only --allow-read and --allow-env (koffi loads on the first system call)", () => {
  const deno = path.join(REPO, "node_modules", ".bin", "deno");
  const tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", mdevs: [M1] }] }] });
  try {
    // The build (an npm install) and the sources (JSR); the child is Deno under every runtime.
    for (const bin of [path.join(REPO, "dist", "bin", "wd.js"), path.join(REPO, "bin", "wd.ts")]) {
      const wd = (...args) =>
        spawnSync(deno, ["run", "--allow-read", "--allow-env", bin, ...args], {
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1", WD_SYSFS_ROOT: tree.root },
        });
      const list = wd("list", "--json");
      assert.equal(list.stderr, "", bin);
      assert.equal(list.status, 0, bin);
      assert.deepEqual(JSON.parse(list.stdout).devices.map((d) => d.id), ["acc0"]);
      const pick = wd("pick", "--alg", "copy", "--json");
      assert.equal(pick.status, 0, pick.stderr);
      assert.equal(JSON.parse(pick.stdout).mdev, M1);
      // With --sysfs given, not even the environment: WD_SYSFS_ROOT is not read.
      const noEnv = spawnSync(deno, ["run", "--allow-read", bin, "list", "--sysfs", tree.root], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
      assert.equal(noEnv.stderr, "", bin);
      assert.match(noEnv.stdout, /^acc0 /m);
      // A system call does need --allow-ffi, and says so.
      const probe = path.join(tree.root, "probe.mjs");
      fs.writeFileSync(probe, `import { pageSize } from "${pathToFileURL(path.join(REPO, "src", "sys", "mod.ts")).href}";\nconsole.log(pageSize());\n`);
      const ffi = spawnSync(deno, ["run", "--allow-read", "--allow-env", probe], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
      assert.notEqual(ffi.status, 0, ffi.stdout);
      assert.match(ffi.stderr, /allow-ffi/);
    }
  } finally {
    tree.close();
  }
});

test("a failed open throws SyscallError with the errno code and the path", () => {
  const missing = path.join(os.tmpdir(), `warpdrive-smoke-missing-${process.pid}`, "nothing");
  assert.throws(
    () => Fd.open(missing, O_RDONLY | O_CLOEXEC),
    (e) => {
      assert.ok(e instanceof SyscallError, `expected a SyscallError, got ${String(e)}`);
      assert.equal(e.code, "ENOENT");
      assert.equal(e.errno, 2);
      assert.equal(e.syscall, "open");
      assert.equal(e.path, missing);
      assert.ok(e.message.includes(missing), e.message);
      return true;
    },
  );
});

test("wd into a pipe whose reader is gone ends quietly with the command's own exit code", { timeout: 60_000 }, () => {
  const bin = path.join(REPO, readJson("package.json").bin.wd);
  const cmd = deno ? [process.execPath, "run", "--allow-all", bin] : [process.execPath, bin];
  // More JSON than a pipe holds (64 KiB), so the writer meets the closed pipe for sure.
  const long = "c".repeat(240);
  const tree = makeSysfs({ devices: Array.from({ length: 100 }, (_, i) => ({ id: `acc${i}`, types: [{ name: long }] })) });
  try {
    const script = '"$@" list --json --sysfs "$ROOT" 2>"$ROOT/err.txt" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"';
    const r = spawnSync("bash", ["-c", script, "wd", ...cmd], { encoding: "utf8", env: { ...process.env, ROOT: tree.root } });
    assert.equal(r.stdout.trim(), "0");
    assert.equal(fs.readFileSync(path.join(tree.root, "err.txt"), "utf8"), "");
  } finally {
    tree.close();
  }
});

test("closed mappings that handed out views give their address space back once the views are gone", () => {
  const script = path.join(REPO, "scripts", "measure_retired_ranges.mjs");
  const args = deno ? ["run", "--allow-all", "--v8-flags=--expose-gc", script, "500"] : bun ? [script, "500"] : ["--expose-gc", script, "500"];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", cwd: REPO });
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  // 500 mappings of 64 KiB are 31.25 MiB: kept for the process's life, that is a leak.
  assert.ok(m.accessibleGrowthAfterGcMiB < 12, JSON.stringify(m));
});

test("a queue's ring lent in place round-trips requests over a stand-in device (the wd_dummy_v1 layout in anonymous memory)", async () => {
  // Register offsets and geometry of wd_dummy_v1 (scripts/rig/kmod/PROTOCOL.md).
  const ctrl = MappedMemory.anonymous(4096, { label: "smoke control page" });
  const queue = MappedMemory.anonymous(12288, { label: "smoke queue region" });
  const regs = ctrl.view(Uint32Array, 0, 1024);
  const init = { 0x000: 0x57444431, 0x004: 1, 0x008: 256, 0x00c: 256, 0x010: 1 << 20, 0x014: 0, 0x018: 8192, 0x01c: 1, 0x088: 1 };
  for (const [off, v] of Object.entries(init)) regs[Number(off) / 4] = v;
  const port = { regionCount: 2, mapRegion: (i) => (i === 0 ? ctrl : queue), reset() {}, closeDevice() {}, close() {} };
  const q = new root.Queue(
    { device: "smoke", type: "wd_dummy-copy", alg: "copy", deviceApi: "wd_dummy_v1", mdev: "smoke", created: false },
    { driver: root.wdDummyV1Driver, port, tuning: { interrupts: false } },
  );
  const ring = q.lendRing();
  assert.ok(ring instanceof root.LentRing);
  assert.equal(ring.reserve(3), 3);
  for (let i = 0; i < 3; i++) ring.put(i, { op: "nop", id: 40 + i });
  ring.publish(3);
  assert.equal(regs[0x040 / 4], 3); // the doorbell holds the new tail
  assert.throws(() => q.poll(), /is lent/);
  // The device: a completion per request, then its completion tail.
  const cq = queue.view(Uint32Array, 8192, 256 * 4);
  const sq = queue.view(Uint32Array, 0, 256 * 8);
  for (let i = 0; i < 3; i++) cq.set([sq[i * 8 + 1], 3 << 16, 0, i], i * 4);
  Atomics.store(regs, 0x084 / 4, 3);
  assert.equal(await ring.readable({ timeout: 1000 }), 3);
  assert.deepEqual([0, 1, 2].map((i) => ring.cq[ring.completion(i)]), [40, 41, 42]);
  ring.consume(2);
  assert.equal(regs[0x044 / 4], 0); // given back with the next doorbell, look or giveBack
  assert.equal(ring.readableSync({ timeout: 1000 }), 1); // the third, at the first look
  assert.equal(regs[0x044 / 4], 2); // the completion head gives two slots back
  ring.giveBack();
  assert.deepEqual(q.poll().map((c) => c.id), [42]); // what was not consumed is the queue's
  // Nothing on the ring: readableSync() sleeps the thread in timed steps (no interrupt
  // here) until the timeout.
  const again = q.lendRing();
  const t0 = performance.now();
  assert.throws(() => again.readableSync({ timeout: 30 }), root.TimeoutError);
  assert.ok(performance.now() - t0 >= 29);
  again.giveBack();
  await q.release();
  assert.throws(() => q.lendRing(), root.QueueReleasedError);
});

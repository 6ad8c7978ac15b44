// The wd command table: per-command help, JSON for every command, errors as JSON, apply and
// save on fixture trees, shell completion and the sample tree. In-process through main().
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENTRIES } from "../../src/cli/table.ts";
import { loadCommands, main } from "../../src/cli/wd.ts";

const COMMANDS = await loadCommands();
import { enumerate } from "../../src/sysfs/enumerate.ts";
import { makeSysfs } from "../../src/sysfs/fixture.ts";
import { VERSION } from "../../src/version.ts";

const M1 = "83b8f4f2-509f-482f-8c1e-e6bfe0fa1001";
const M2 = "0f0e0d0c-0b0a-4908-8706-050403020100";

async function wd(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(`${t}\n`), err: (t) => err.push(`${t}\n`), env });
  return { code, out: out.join(""), err: err.join("") };
}

const tree = () =>
  makeSysfs({
    devices: [
      { id: "acc0", zoneId: 0, priority: 0, types: [{ name: "copy", mdevs: [M1] }, { name: "csum", availableInstances: 0 }] },
      { id: "acc1", zoneId: 1, priority: 150, types: [{ name: "copy", mdevs: [M2] }] },
    ],
  });

const wdev = (root: string, dev: string, attr: string): string => fs.readFileSync(path.join(root, "class", "warpdrive", dev, "wdev", attr), "utf8");

describe("help, defined with each command", () => {
  test("the table lists every defined command once, in the file it names, and the overview lists the table", async () => {
    const [tree, state, misc, bench] = await Promise.all([
      import("../../src/cli/commands_tree.ts"),
      import("../../src/cli/commands_state.ts"),
      import("../../src/cli/commands_misc.ts"),
      import("../../src/cli/commands_bench.ts"),
    ]);
    const defined: Record<string, string[]> = {
      tree: tree.TREE_COMMANDS.map((c) => c.name),
      state: state.STATE_COMMANDS.map((c) => c.name),
      misc: misc.MISC_COMMANDS.map((c) => c.name),
      bench: [bench.BENCH_COMMAND.name],
    };
    const listed: Record<string, string[]> = {};
    for (const e of ENTRIES) (listed[e.group] ??= []).push(e.name);
    for (const g of Object.keys(defined)) expect([g, [...(defined[g] ?? [])].sort()]).toEqual([g, [...(listed[g] ?? [])].sort()]);
    expect(new Set(ENTRIES.map((e) => e.name)).size).toBe(ENTRIES.length);
    expect(COMMANDS.map((c) => [c.name, c.summary])).toEqual(ENTRIES.map((e) => [e.name, e.summary]));
    const overview = (await wd(["help"])).out;
    const at = ENTRIES.map((e) => overview.indexOf(`\n  ${e.name} `));
    expect(at.every((x, i) => x > 0 && (i === 0 || x > (at[i - 1] as number)))).toBe(true);
  });
  test("wd help CMD and wd CMD --help print the same text, built from the command's own options", async () => {
    for (const c of COMMANDS) {
      const a = await wd(["help", c.name]);
      const b = await wd([c.name, "--help"]);
      expect([c.name, a.code, b.code]).toEqual([c.name, 0, 0]);
      expect(a.out).toBe(b.out);
      expect(a.out).toStartWith(`wd ${c.name}: ${c.summary}\n`);
      for (const o of Object.keys(c.options)) expect([c.name, a.out.includes(`--${o}`)]).toEqual([c.name, true]);
      for (const x of c.args) expect([c.name, a.out.includes(x.name)]).toEqual([c.name, true]);
    }
  });
  test("an unknown command suggests the nearest and exits 2; wd help of one too", async () => {
    const r = await wd(["lsit"]);
    expect([r.code, r.err]).toEqual([2, 'wd: unknown command "lsit" (did you mean list?); wd help lists them\n']);
    expect((await wd(["help", "frobnicate"])).code).toBe(2);
  });
  test("an option of another command is refused, naming the command's help", async () => {
    const r = await wd(["list", "--alg", "copy"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("wd: unknown option --alg; wd help list lists the options\n");
  });
});

describe("--json everywhere", () => {
  test("every write command prints a schema-1 object of what it did", async () => {
    using t = tree();
    const s = ["--sysfs", t.root, "--json"];
    const M3 = "11111111-2222-4333-8444-555555555555";
    expect(JSON.parse((await wd(["create", "--device", "acc0", "--type", "wd_dummy-copy", "--uuid", M3, ...s])).out))
      .toEqual({ schema: 1, uuid: M3, device: "acc0", type: "wd_dummy-copy" });
    expect(JSON.parse((await wd(["remove", M1.toUpperCase(), ...s])).out)).toEqual({ schema: 1, removed: M1 });
    expect(JSON.parse((await wd(["priority", "acc0", "-7", ...s])).out)).toEqual({ schema: 1, device: "acc0", priority: -7 });
    expect(wdev(t.root, "acc0", "priority")).toBe("-7");
    expect(JSON.parse((await wd(["zone", "acc0", "4", ...s])).out)).toEqual({ schema: 1, device: "acc0", zoneId: 4 });
    expect(JSON.parse((await wd(["disable", "acc0", ...s])).out)).toEqual({ schema: 1, device: "acc0", priority: 100, enabled: false });
    expect(wdev(t.root, "acc0", "priority")).toBe("100");
  });
  test("--version, help and completion answer in JSON too", async () => {
    expect(JSON.parse((await wd(["--version", "--json"])).out)).toEqual({ schema: 1, version: VERSION });
    const h = JSON.parse((await wd(["help", "--json"])).out);
    expect(h.commands.map((c: { name: string }) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    const c = JSON.parse((await wd(["completion", "zsh", "--json"])).out);
    expect([c.schema, c.shell, c.script.startsWith("#compdef wd")]).toEqual([1, "zsh", true]);
  });
  test("an error is {schema, error: {code, message}} on stdout with the same exit code, and nothing on stderr", async () => {
    using t = tree();
    const cases: [string[], number, string][] = [
      [["pick", "--sysfs", t.root], 2, "EUSAGE"],
      [["priority", "acc0", "500", "--sysfs", t.root], 2, "EUSAGE"],
      [["frobnicate"], 2, "EUSAGE"],
      [["list", "--bogus"], 2, "EUSAGE"],
      [["pick", "--alg", "zlib", "--sysfs", t.root], 1, "ENODEV"],
      [["zone", "acc9", "1", "--sysfs", t.root], 1, "ENOENT"],
      [["create", "--device", "acc0", "--type", "wd_dummy-csum", "--sysfs", t.root], 1, "ENOSPC"],
    ];
    for (const [argv, exit, code] of cases) {
      const r = await wd([...argv, "--json"]);
      const label = argv.join(" ");
      expect([label, r.code, r.err]).toEqual([label, exit, ""]);
      const j = JSON.parse(r.out);
      expect([label, Object.keys(j), j.error.code]).toEqual([label, ["schema", "error"], code]);
      expect([label, typeof j.error.message, j.error.message.includes("\n")]).toEqual([label, "string", false]);
    }
  });
  test("pick --json --explain carries every candidate; a refusal with --explain carries them in the error", async () => {
    using t = tree();
    const ok = JSON.parse((await wd(["pick", "--alg", "copy", "--explain", "--json", "--sysfs", t.root])).out);
    expect(ok.device).toBe("acc0");
    expect(ok.candidates).toEqual([
      { class: "warpdrive", device: "acc0", type: "wd_dummy-copy", accepted: true, rank: 1, reason: "priority 0, throughput 10, 4 available, 1 mediated device(s)" },
      { class: "warpdrive", device: "acc0", type: "wd_dummy-csum", accepted: false, rank: null, reason: 'offers "csum", not "copy"' },
      { class: "warpdrive", device: "acc1", type: "wd_dummy-copy", accepted: false, rank: null, reason: expect.stringContaining("disabled") },
    ]);
    const no = JSON.parse((await wd(["pick", "--alg", "copy", "--api", "acme_v9", "--explain", "--json", "--sysfs", t.root])).out);
    expect(no.error.code).toBe("ENODEV");
    expect(no.error.candidates.map((c: { device: string; accepted: boolean }) => [c.device, c.accepted])).toEqual([["acc0", false], ["acc0", false], ["acc1", false]]);
  });
  test("list of an empty class directory: devices is [] and the exit code is 1", async () => {
    using t = makeSysfs({ devices: [] });
    const r = await wd(["list", "--json", "--sysfs", t.root]);
    expect(r.code).toBe(1);
    const warpdrive = path.join(t.root, "class", "warpdrive");
    const uacce = path.join(t.root, "class", "uacce");
    expect(JSON.parse(r.out)).toEqual({
      schema: 1,
      classDir: warpdrive,
      classDirs: [{ class: "warpdrive", path: warpdrive, present: true }, { class: "uacce", path: uacce, present: false }],
      devices: [],
    });
    const text = await wd(["list", "--sysfs", t.root]);
    expect([text.code, text.out]).toEqual([1, `No accelerators in ${warpdrive} and ${uacce} (absent)\n`]);
  });
  test("the environment is read only when no --sysfs is given", async () => {
    using t = tree();
    const read: string[] = [];
    const env = new Proxy({}, { get: (_o, k) => (read.push(String(k)), undefined) });
    const out: string[] = [];
    expect(await main(["list", "--sysfs", t.root], { out: (x) => out.push(x), err: () => {}, env })).toBe(0);
    expect(read).toEqual([]);
    expect(await main(["list", "--sysfs", t.root, "--bogus"], { out: () => {}, err: () => {}, env })).toBe(2);
    expect(read).toEqual(["WD_DEBUG"]);
  });
});

describe("wd save and wd apply", () => {
  test("save prints every device's priority (disabled outside the range), zone and mediated devices", async () => {
    using t = tree();
    const r = await wd(["save", "--sysfs", t.root]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      schema: 1,
      devices: {
        acc0: { priority: 0, zone: 0, types: { "wd_dummy-copy": { mdevs: [M1] }, "wd_dummy-csum": { mdevs: [] } } },
        acc1: { priority: "disabled", zone: 1, types: { "wd_dummy-copy": { mdevs: [M2] } } },
      },
    });
    expect((await wd(["save", "--json", "--sysfs", t.root])).out).toBe(r.out);
  });
  test("apply of what save printed changes nothing; apply changes priority and zone, then nothing the second time", async () => {
    using t = tree();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-apply-"));
    try {
      const saved = path.join(dir, "saved.json");
      fs.writeFileSync(saved, (await wd(["save", "--sysfs", t.root])).out);
      const again = JSON.parse((await wd(["apply", saved, "--json", "--sysfs", t.root])).out);
      expect([again.changed, again.steps]).toEqual([0, []]);
      const want = path.join(dir, "want.json");
      fs.writeFileSync(want, JSON.stringify({ schema: 1, devices: { acc0: { priority: -5, zone: 2 }, acc1: { priority: 3 } } }));
      const plan = await wd(["apply", want, "--dry-run", "--sysfs", t.root]);
      expect(plan.out).toBe(
        "would set the priority of acc0 from 0 to -5\nwould set the zone of acc0 from 0 to 2\nwould set the priority of acc1 from 150 to 3\n3 change(s) planned\n",
      );
      expect(wdev(t.root, "acc0", "priority")).toBe("0\n");
      const r = JSON.parse((await wd(["apply", want, "--json", "--sysfs", t.root])).out);
      expect(r.changed).toBe(3);
      expect([wdev(t.root, "acc0", "priority"), wdev(t.root, "acc0", "zone_id"), wdev(t.root, "acc1", "priority")]).toEqual(["-5", "2", "3"]);
      expect((await wd(["apply", want, "--sysfs", t.root])).out).toBe("nothing to change\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a failed step undoes the earlier steps of the run and names the step", async () => {
    using t = tree();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-apply-"));
    try {
      const want = path.join(dir, "want.json");
      // acc0's csum type has no free instance: step 3 fails after two changes.
      fs.writeFileSync(want, JSON.stringify({ schema: 1, devices: { acc0: { priority: -5, zone: 2, types: { "wd_dummy-csum": { mdevs: 1 } } } } }));
      const r = await wd(["apply", want, "--sysfs", t.root]);
      expect(r.code).toBe(1);
      expect(r.err).toStartWith("wd: Step 3 of 3 failed (create a mediated device of acc0/wd_dummy-csum): ");
      expect(r.err).toContain("undid the 2 earlier step(s) of this run");
      expect([wdev(t.root, "acc0", "priority"), wdev(t.root, "acc0", "zone_id")]).toEqual(["0", "0"]);
      const j = JSON.parse((await wd(["apply", want, "--json", "--sysfs", t.root])).out);
      expect([j.error.code, j.error.step.index, j.error.step.action]).toEqual(["ENOSPC", 3, "create"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("bad documents exit 2 naming the file and key; a device the tree lacks exits 1", async () => {
    using t = tree();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-apply-"));
    try {
      const cases: [unknown, number, string][] = [
        ["{", 2, "not JSON"],
        [{ schema: 2, devices: {} }, 2, '"schema" is 2'],
        [{ schema: 1, devices: { acc0: { priority: 100 } } }, 2, 'devices.acc0.priority is 100: give an integer in [-100, 99] or "disabled"'],
        [{ schema: 1, devices: { acc0: { colour: 1 } } }, 2, "devices.acc0.colour: unknown key"],
        [{ schema: 1, devices: { acc0: { types: { "wd_dummy-copy": { mdevs: -1 } } } } }, 2, "mdevs is -1"],
        [{ schema: 1, devices: { acc7: {} } }, 1, "devices.acc7: no such accelerator"],
        [{ schema: 1, devices: { acc0: { types: { "wd_dummy-zip": { mdevs: 1 } } } } }, 1, "acc0 has no such type"],
        [{ schema: 1, devices: { acc0: { types: { "wd_dummy-copy": { mdevs: [M2] } } } } }, 1, `${M2} already exists, as a mediated device of acc1/wd_dummy-copy`],
      ];
      for (const [k, [doc, exit, words]] of cases.entries()) {
        const file = path.join(dir, `bad${k}.json`);
        fs.writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
        const r = await wd(["apply", file, "--sysfs", t.root]);
        expect([k, r.code, r.err.split("\n").length]).toEqual([k, exit, 2]);
        expect([k, r.err.includes(file), r.err.includes(words)]).toEqual([k, true, true]);
      }
      const missing = await wd(["apply", path.join(dir, "none.json"), "--sysfs", t.root]);
      expect([missing.code, missing.err.includes("none.json"), missing.err.includes("ENOENT")]).toEqual([2, true, true]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("surplus mediated devices are a note, and removed only with --prune", async () => {
    using t = tree();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-apply-"));
    try {
      const want = path.join(dir, "want.json");
      fs.writeFileSync(want, JSON.stringify({ schema: 1, devices: { acc0: { types: { "wd_dummy-copy": { mdevs: 0 } } } } }));
      const keep = JSON.parse((await wd(["apply", want, "--json", "--sysfs", t.root])).out);
      expect([keep.changed, keep.notes.length, keep.notes[0].includes(M1)]).toEqual([0, 1, true]);
      const prune = JSON.parse((await wd(["apply", want, "--prune", "--dry-run", "--json", "--sysfs", t.root])).out);
      expect(prune.steps).toEqual([{ action: "remove", device: "acc0", type: "wd_dummy-copy", uuid: M1 }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("both classes in wd list and wd pick", () => {
  const both = () =>
    makeSysfs({
      devices: [{ id: "acc0", priority: 1, types: [{ name: "copy", mdevs: [M1] }] }],
      uacce: [{ id: "u-0", layout: "6.2", algorithms: ["copy", "crc32"], numaNode: 1, flags: 1 }, { id: "u-1", availableInstances: 0 }],
    });
  const apis = ["--api", "wd_dummy_v1", "--api", "uacce_dummy_v1"];
  test("list shows both, with the UACCE attributes in text and JSON", async () => {
    using t = both();
    const text = await wd(["list", "--sysfs", t.root]);
    expect(text.code).toBe(0);
    expect(text.out).toContain("acc0  zone 0  priority 1  iommu 3  enabled\n");
    expect(text.out).toContain(
      "u-0  uacce  numa 1  api uacce_dummy_v1  flags 1 (SVA)  free 2  mmio 4096  dus 65536  isolate 0 (strategy 0)  enabled\n  algorithms: copy, crc32\n",
    );
    expect(text.out).toContain("u-1  uacce  numa -  api uacce_dummy_v1  flags 0  free 0  mmio 4096  dus 65536  enabled\n");
    const j = JSON.parse((await wd(["list", "--json", "--sysfs", t.root])).out);
    expect(j.devices.map((d: { class: string; id: string }) => [d.class, d.id])).toEqual([["warpdrive", "acc0"], ["uacce", "u-0"], ["uacce", "u-1"]]);
    expect(j.devices[1].uacce).toEqual({
      api: "uacce_dummy_v1", algorithms: ["copy", "crc32"], flags: 1, sva: true, availableInstances: 2, regionMmioSize: 4096,
      regionDusSize: 65536, isolate: 0, isolateStrategy: 0, numaNode: 1, devName: "u-0",
    });
    expect(j.devices[1].types.map((x: { type: string; deviceApi: string }) => [x.type, x.deviceApi])).toEqual([["copy", "uacce_dummy_v1"], ["crc32", "uacce_dummy_v1"]]);
  });
  test("--class narrows list and pick, repeated or as a comma list; a bad class is bad usage", async () => {
    using t = both();
    const ids = async (argv: string[]): Promise<string[]> =>
      JSON.parse((await wd([...argv, "--json", "--sysfs", t.root])).out).devices.map((d: { id: string }) => d.id);
    expect(await ids(["list", "--class", "uacce"])).toEqual(["u-0", "u-1"]);
    expect(await ids(["list", "--class", "warpdrive"])).toEqual(["acc0"]);
    expect(await ids(["list", "--class", "uacce,warpdrive"])).toEqual(["acc0", "u-0", "u-1"]);
    expect(await ids(["list", "--class", "uacce", "--class", "warpdrive"])).toEqual(["acc0", "u-0", "u-1"]);
    const bad = await wd(["list", "--class", "pci", "--sysfs", t.root]);
    expect([bad.code, bad.err]).toEqual([2, 'wd: --class "pci": use warpdrive or uacce (repeatable, or a comma list)\n']);
    const uacce = JSON.parse((await wd(["pick", "--alg", "copy", ...apis, "--class", "uacce", "--json", "--sysfs", t.root])).out);
    expect([uacce.class, uacce.device, uacce.type, uacce.mdev, uacce.uacce.devName]).toEqual(["uacce", "u-0", "copy", null, "u-0"]);
    const wdOnly = JSON.parse((await wd(["pick", "--alg", "copy", ...apis, "--class", "warpdrive", "--json", "--sysfs", t.root])).out);
    expect([wdOnly.class, wdOnly.device, wdOnly.uacce]).toEqual(["warpdrive", "acc0", null]);
  });
  test("pick ranks both classes in one list and --explain says each candidate's class", async () => {
    using t = both();
    const r = await wd(["pick", "--alg", "copy", ...apis, "--explain", "--sysfs", t.root]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("u-0/copy  uacce /dev/u-0\n");
    expect(r.err.split("\n")).toEqual([
      "  1 u-0/copy [uacce]: priority neutral (0), throughput neutral (10), 2 free queue(s)",
      "  2 acc0/wd_dummy-copy: priority 1, throughput 10, 4 available, 1 mediated device(s)",
      "  - u-0/crc32 [uacce]: rejected: offers \"crc32\", not \"copy\"",
      "  - u-1/copy [uacce]: rejected: no free queue (available_instances 0)",
      "",
    ]);
    const j = JSON.parse((await wd(["pick", "--alg", "copy", ...apis, "--explain", "--json", "--sysfs", t.root])).out);
    expect(j.candidates.map((c: { class: string; rank: number | null }) => [c.class, c.rank])).toEqual([["uacce", 1], ["warpdrive", 2], ["uacce", null], ["uacce", null]]);
  });
  test("help and completion list --class with its values", async () => {
    for (const c of ["list", "pick"]) {
      expect((await wd(["help", c])).out).toContain("--class warpdrive|uacce");
    }
    const script = (await wd(["completion", "bash"])).out;
    const r = spawnSync("bash", ["-c", `${script}\nCOMP_WORDS=(wd list --class ''); COMP_CWORD=3; _wd; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" });
    expect(r.stdout.trim()).toBe("warpdrive uacce");
    expect((await wd(["completion", "zsh"])).out).toContain("--class");
  });
});

describe("wd completion and wd sample", () => {
  test("the bash script completes commands, options, choices and devices", async () => {
    using t = tree();
    const script = (await wd(["completion", "bash"])).out;
    const complete = (words: string[]): string => {
      const cmd = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _wd; echo "\${COMPREPLY[*]}"`;
      const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8", env: { ...process.env, WD_SYSFS_ROOT: t.root } });
      expect(r.stderr).toBe("");
      return r.stdout.trim();
    };
    expect(complete(["wd", "p"])).toBe("pick priority");
    expect(complete(["wd", "pick", "--al"])).toBe("--alg --allow-create --allow-noiommu");
    expect(complete(["wd", "pick", "--prefer", ""])).toBe("latency throughput");
    expect(complete(["wd", "--sysfs", t.root, "priority", ""])).toBe("acc0 acc1");
    expect(complete(["wd", "completion", ""])).toBe("bash zsh");
    expect(complete(["wd", "help", "sa"])).toBe("save sample");
  });
  test("the bash script passes shellcheck", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-completion-"));
    try {
      const file = path.join(dir, "wd.bash");
      fs.writeFileSync(file, (await wd(["completion", "bash"])).out);
      const r = spawnSync("shellcheck", ["--shell=bash", file], { encoding: "utf8" });
      expect(r.error).toBeUndefined();
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("the zsh script describes every command and each command's options", async () => {
    const script = (await wd(["completion", "zsh"])).out;
    expect(script).toStartWith("#compdef wd\n");
    for (const c of COMMANDS) {
      expect(script).toContain(`    '${c.name}:`);
      const arm = script.split("\n").find((l) => l.startsWith(`        ${c.name}) _arguments `)) ?? "";
      for (const [o, d] of Object.entries(c.options)) {
        const spec = d.short ? `{-${d.short},--${o}}'[` : `--${o}[`;
        expect([c.name, o, arm.includes(spec)]).toEqual([c.name, o, true]);
      }
    }
    expect((await wd(["completion", "fish"])).code).toBe(2);
  });
  test("wd sample writes a tree wd list reads, and refuses a directory that is not empty", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wd-sample-"));
    try {
      const r = await wd(["sample", dir]);
      expect(r.code).toBe(0);
      expect(r.out.split("\n")[0]).toBe(dir);
      const inv = enumerate({ root: dir });
      expect(inv.devices.map((d) => [d.class, d.id, d.enabled])).toEqual([
        ["warpdrive", "wd_dummy0", true],
        ["warpdrive", "wd_dummy1", true],
        ["warpdrive", "wd_dummy2", false],
        ["uacce", "uacce_dummy-0", true],
        ["uacce", "uacce_dummy-1", true],
      ]);
      expect(inv.devices[3]?.uacce).toMatchObject({ algorithms: ["copy", "crc32"], isolate: 0, numaNode: 0, availableInstances: 2 });
      expect(inv.devices[4]?.uacce).toMatchObject({ algorithms: ["crc32"], isolate: null, numaNode: null, availableInstances: 0 });
      expect(inv.devices[1]?.types[1]?.problems).toEqual(['flags: not a hex number: "0xzz"']);
      const again = await wd(["sample", dir]);
      expect([again.code, again.err.includes("not empty")]).toEqual([2, true]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test("bench checks its numbers before opening anything", async () => {
    for (const [argv, words] of [
      [["bench"], "bench needs --alg NAME"],
      [["bench", "--alg", "copy", "--size", "0"], '--size "0": give a whole number in [1, 1048576]'],
      [["bench", "--alg", "copy", "--depth", "x"], '--depth "x"'],
      [["bench", "--alg", "copy", "--seconds", "-1"], "--seconds"],
    ] as [string[], string][]) {
      const r = await wd(argv);
      expect([argv.join(" "), r.code, r.err.includes(words)]).toEqual([argv.join(" "), 2, true]);
    }
  });
});

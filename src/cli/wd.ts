/**
 * `wd`: look at and arrange the WarpDrive accelerators of a machine.
 *
 * The only module that prints or reads argv. {@link main} returns the exit code, so
 * tests can run it in-process; `bin/wd.ts` is the executable that runs it for real.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createMdev, disableDevice, removeMdev, setPriority, setZone } from "../mdev/mdev.ts";
import { registeredDeviceApis } from "../drivers/mod.ts";
import { type Criteria, NoAcceleratorError, select } from "../select/select.ts";
import { barrierInfo } from "../sys/barrier.ts";
import { DEFAULT_SYSFS_ROOT, enumerate } from "../sysfs/enumerate.ts";
import type { Accelerator, AcceleratorType, Inventory } from "../sysfs/model.ts";
import { describeFlags, formatFlags, parseDecimal, parseFlags } from "../sysfs/parse.ts";
import { VERSION } from "../version.ts";

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit code: done. */
export const EXIT_OK = 0;
/** Exit code: nothing found, nothing matched, or the operation failed against the tree. */
export const EXIT_FAILED = 1;
/** Exit code: bad usage or a malformed value on the command line. */
export const EXIT_USAGE = 2;

class UsageError extends Error {}

const HELP = `wd ${VERSION}: find and arrange WarpDrive accelerators (/sys/class/warpdrive)

Usage:
  wd list [--json] [--verbose]
  wd pick --alg NAME [--wd-type T] [--flags HEX] [--api API]... [--zone N]
          [--prefer latency|throughput] [--min-throughput N] [--max-latency N]
          [--allow-create] [--allow-noiommu] [--explain] [--json]
  wd create --device DEV --type TYPE_DIR [--uuid UUID]
  wd remove UUID
  wd priority DEV N         N in [-100, 99], smaller is preferred
  wd disable DEV            take DEV out of choice (priority outside the range)
  wd zone DEV N

Global options:
  --sysfs ROOT   sysfs root to read (default /sys, or env WD_SYSFS_ROOT)
  --help, -h     this text
  --version, -V  the version

list decodes flags in CAPS: the framework's low 8 bits by name (SHARE_ALL, SGL_MEM),
the algorithm's bits in hex (alg:0x100).
list --verbose also lists mediated-device UUIDs and says which doorbell barrier queues
use (js: Atomics.store; c: c/wd_barrier.c, built by scripts/build_barrier.sh) and why.

pick: without --api, the accepted device_apis are those with a registered user-space
driver. --allow-create accepts types with no mediated device but free instances.
--allow-noiommu accepts devices whose wdev/iommu declares VFIO_NOIOMMU_IOMMU (no DMA
isolation). pick does not ask the kernel which IOMMU types it offers; a queue request does.

Exit codes: 0 done; 1 nothing found, nothing matched, or the operation failed
(permission, kernel refusal; the message says why); 2 bad usage or malformed value.
Every error is one line on stderr; pick --explain adds why each candidate was rejected.
A closed stdout (wd list | head) ends the output quietly; the exit code stays the
command's own. Set WD_DEBUG=1 to see stack traces.`;

type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string };

const GLOBAL: Record<string, OptionSpec> = {
  sysfs: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
};

const COMMANDS: Record<string, { options: Record<string, OptionSpec>; positionals: number }> = {
  list: { options: { json: { type: "boolean" }, verbose: { type: "boolean", short: "v" } }, positionals: 0 },
  pick: {
    options: {
      alg: { type: "string" },
      "wd-type": { type: "string" },
      flags: { type: "string" },
      api: { type: "string", multiple: true },
      zone: { type: "string" },
      prefer: { type: "string" },
      "min-throughput": { type: "string" },
      "max-latency": { type: "string" },
      "allow-create": { type: "boolean" },
      "allow-noiommu": { type: "boolean" },
      explain: { type: "boolean" },
      json: { type: "boolean" },
    },
    positionals: 0,
  },
  create: { options: { device: { type: "string" }, type: { type: "string" }, uuid: { type: "string" } }, positionals: 0 },
  remove: { options: {}, positionals: 1 },
  priority: { options: {}, positionals: 2 },
  disable: { options: {}, positionals: 1 },
  zone: { options: {}, positionals: 2 },
};

function int(option: string, text: string): number {
  const p = parseDecimal(text);
  if (!p.ok) throw new UsageError(`${option} ${JSON.stringify(text)}: ${p.reason}`);
  return p.value;
}

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
}

const show = (v: number | string | null): string => (v === null ? "?" : String(v));

function listJson(inv: Inventory): unknown {
  return {
    devices: inv.devices.map((d: Accelerator) => ({
      id: d.id,
      zoneId: d.zoneId,
      priority: d.priority,
      iommu: d.iommu,
      enabled: d.enabled,
      problems: d.problems,
      types: d.types.map((t: AcceleratorType) => ({
        type: t.type,
        name: t.name,
        wdType: t.wdType,
        flags: t.flags,
        latency: t.latency,
        throughput: t.throughput,
        availableInstances: t.availableInstances,
        deviceApi: t.deviceApi,
        mdevs: t.mdevs,
        problems: t.problems,
      })),
    })),
  };
}

function listText(inv: Inventory, verbose: boolean): string {
  if (inv.devices.length === 0) return `No accelerators in ${inv.classDir}`;
  const out: string[] = [];
  for (const d of inv.devices) {
    const state = d.problems.length > 0 ? "unusable" : d.enabled ? "enabled" : "disabled";
    out.push(`${d.id}  zone ${show(d.zoneId)}  priority ${show(d.priority)}  iommu ${show(d.iommu)}  ${state}`);
    for (const p of d.problems) out.push(`  ! ${p}`);
    if (d.types.length > 0) {
      const rows = [["TYPE", "NAME", "WD_TYPE", "FLAGS", "LATENCY", "THROUGHPUT", "AVAILABLE", "DEVICE_API", "MDEVS", "CAPS"]];
      for (const t of d.types) {
        rows.push([
          t.type,
          show(t.name),
          show(t.wdType),
          t.flags === null ? "?" : formatFlags(t.flags),
          show(t.latency),
          show(t.throughput),
          show(t.availableInstances),
          show(t.deviceApi),
          verbose ? (t.mdevs.join(",") || "-") : String(t.mdevs.length),
          t.flags === null ? "?" : describeFlags(t.flags),
        ]);
      }
      const lines = pad(rows);
      lines.forEach((l, i) => {
        out.push(`  ${l}`);
        const t = i > 0 ? d.types[i - 1] : undefined;
        if (t !== undefined) for (const p of t.problems) out.push(`    ! ${p}`);
      });
    }
  }
  return out.join("\n");
}

function barrierText(): string {
  const b = barrierInfo();
  const what = b.backend === "c" ? `c (${b.library})` : "js (Atomics.store)";
  return `doorbell barrier: ${what} on ${b.arch}: ${b.reason}\n  ${b.guarantee}`;
}

function pickCriteria(v: Record<string, string | boolean | string[] | undefined>): Criteria {
  const alg = v["alg"];
  if (typeof alg !== "string" || alg.trim() === "") throw new UsageError("pick needs --alg NAME");
  const c: { -readonly [K in keyof Criteria]: Criteria[K] } = { alg };
  if (typeof v["wd-type"] === "string") c.wdType = v["wd-type"];
  if (typeof v["flags"] === "string") {
    const f = parseFlags(v["flags"]);
    if (!f.ok) throw new UsageError(`--flags ${JSON.stringify(v["flags"])}: ${f.reason}`);
    c.flags = f.value;
  }
  if (Array.isArray(v["api"])) c.apis = v["api"];
  if (typeof v["zone"] === "string") c.zone = int("--zone", v["zone"]);
  if (typeof v["prefer"] === "string") {
    if (v["prefer"] !== "latency" && v["prefer"] !== "throughput") {
      throw new UsageError(`--prefer ${JSON.stringify(v["prefer"])}: use latency or throughput`);
    }
    c.prefer = v["prefer"];
  }
  if (typeof v["min-throughput"] === "string") c.minThroughput = int("--min-throughput", v["min-throughput"]);
  if (typeof v["max-latency"] === "string") c.maxLatency = int("--max-latency", v["max-latency"]);
  if (v["allow-create"] === true) c.allowCreate = true;
  if (v["allow-noiommu"] === true) c.allowNoIommu = true;
  return c;
}

/**
 * One line from a `parseArgs` refusal. Its messages can run over several lines ("…is
 * ambiguous. Did you forget…? To specify…"); the option it is about is what matters.
 */
function argsMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option !== undefined) {
    return /ambiguous/.test(message)
      ? `${option} needs a value (for a value that starts with a dash, write ${option}=VALUE)`
      : `${option} takes ${/argument missing/.test(message) ? "a value, and none was given" : "no value"}`;
  }
  return oneLine(message.replace(/\. To specify.*$/s, ""));
}

/** Joins the lines of a message into one. */
function oneLine(text: string): string {
  return text.split(/\s*\n\s*/).filter((l) => l !== "").join("; ");
}

function splitGlobal(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (command === undefined && !a.startsWith("-")) {
      command = a;
      continue;
    }
    rest.push(a);
    if (a === "--sysfs" && i + 1 < argv.length) rest.push(argv[++i] as string);
    if (a === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
  }
  return { command, rest };
}

function run(argv: readonly string[], io: CliIo): number {
  const { command, rest } = splitGlobal(argv);
  const spec = command === undefined ? { options: {}, positionals: 0 } : COMMANDS[command];
  if (spec === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)} (see wd --help)`);
  // parseArgs would read a negative number ("wd priority acc0 -7") as short options.
  const NEG = "\u0001";
  const unmask = (x: string): string => (x.startsWith(NEG) ? x.slice(1) : x);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest.map((a) => (/^-\d+$/.test(a) ? NEG + a : a)),
      options: { ...GLOBAL, ...spec.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(argsMessage(e));
  }
  const v: Record<string, string | boolean | string[] | undefined> = {};
  for (const [k, x] of Object.entries(parsed.values)) {
    v[k] = typeof x === "string" ? unmask(x) : Array.isArray(x) ? x.map((y) => unmask(String(y))) : x as boolean | undefined;
  }
  parsed = { ...parsed, positionals: parsed.positionals.map(unmask) };
  if (v["help"]) {
    io.out(HELP);
    return EXIT_OK;
  }
  if (v["version"]) {
    io.out(VERSION);
    return EXIT_OK;
  }
  if (command === undefined) throw new UsageError("no command given (see wd --help)");
  const pos = parsed.positionals;
  if (pos.length !== spec.positionals) {
    throw new UsageError(`${command} takes ${spec.positionals} argument(s), got ${pos.length} (see wd --help)`);
  }
  if (v["sysfs"] === "") throw new UsageError('--sysfs "": the sysfs root must not be empty');
  const envRoot = io.env["WD_SYSFS_ROOT"];
  const root = typeof v["sysfs"] === "string" ? v["sysfs"] : envRoot !== undefined && envRoot !== "" ? envRoot : DEFAULT_SYSFS_ROOT;
  switch (command) {
    case "list": {
      const inv = enumerate({ root });
      io.out(v["json"] ? JSON.stringify(listJson(inv), null, 2) : listText(inv, v["verbose"] === true));
      if (v["verbose"] === true && v["json"] !== true) io.out(barrierText());
      return inv.devices.length === 0 ? EXIT_FAILED : EXIT_OK;
    }
    case "pick": {
      const criteria = pickCriteria(v);
      const inv = enumerate({ root, alg: criteria.alg });
      const s = select(inv, { ...criteria, apis: criteria.apis ?? registeredDeviceApis() });
      if (v["json"]) {
        io.out(JSON.stringify({
          device: s.device.id,
          type: s.type.type,
          name: s.type.name,
          wdType: s.type.wdType,
          flags: s.type.flags,
          latency: s.type.latency,
          throughput: s.type.throughput,
          availableInstances: s.type.availableInstances,
          deviceApi: s.type.deviceApi,
          priority: s.device.priority,
          zoneId: s.device.zoneId,
          mdev: s.mdev,
        }));
      } else {
        io.out(`${s.device.id}/${s.type.type}  ${s.mdev === null ? "(a mediated device must be created)" : `mdev ${s.mdev}`}`);
      }
      if (v["explain"]) {
        const lines = s.candidates.map((c) =>
          `${c.accepted ? String(c.rank).padStart(3) : "  -"} ${c.device}${c.type ? `/${c.type}` : ""}: ${c.accepted ? "" : "rejected: "}${c.reason}`
        );
        io.err(lines.join("\n"));
      }
      return EXIT_OK;
    }
    case "create": {
      if (typeof v["device"] !== "string" || typeof v["type"] !== "string") {
        throw new UsageError("create needs --device DEV and --type TYPE_DIR");
      }
      const uuid = typeof v["uuid"] === "string" ? v["uuid"] : undefined;
      io.out(createMdev(v["device"], v["type"], uuid === undefined ? { root } : { root, uuid }));
      return EXIT_OK;
    }
    case "remove":
      removeMdev(pos[0] as string, { root });
      return EXIT_OK;
    case "priority":
      setPriority(pos[0] as string, int("priority", pos[1] as string), { root });
      return EXIT_OK;
    case "disable":
      disableDevice(pos[0] as string, { root });
      return EXIT_OK;
    case "zone":
      setZone(pos[0] as string, int("zone", pos[1] as string), { root });
      return EXIT_OK;
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}

/**
 * Runs the `wd` command line and returns its exit code: 0 done, 1 nothing found or the
 * operation failed, 2 bad usage.
 *
 * @example
 * ```ts
 * const code = main(["list", "--sysfs", "/tmp/tree"], { out: console.log, err: console.error, env: {} });
 * ```
 */
export function main(argv: readonly string[], io: CliIo): number {
  try {
    return run(argv, io);
  } catch (e) {
    const debug = io.env["WD_DEBUG"] === "1";
    const code = e instanceof UsageError || e instanceof TypeError || e instanceof RangeError ? EXIT_USAGE : EXIT_FAILED;
    if (e instanceof NoAcceleratorError) {
      // The first line says what failed; the candidates, one a line, come with --explain.
      const [head = "", ...rest] = e.message.split("\n");
      io.err(argv.includes("--explain") ? `wd: ${e.message}` : `wd: ${head}${rest.length > 0 ? " (--explain says why for each)" : ""}`);
    } else {
      io.err(`wd: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    }
    if (debug && e instanceof Error && e.stack) io.err(e.stack);
    return code;
  }
}

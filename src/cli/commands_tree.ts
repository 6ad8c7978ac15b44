/**
 * The `wd` commands that look at and arrange the tree: `list`, `pick`, `create`, `remove`,
 * `priority`, `disable`, `zone`. Each is defined once: help, options and handler together.
 *
 * @module
 */
import type { Criteria, Selection } from "../select/select.ts";
import { whereRead } from "../sysfs/errors.ts";
import type { Accelerator, AcceleratorClass, AcceleratorType, Inventory } from "../sysfs/model.ts";
import { describeFlags, formatFlags, parseFlags } from "../sysfs/parse.ts";
import { type Command, EXIT_FAILED, int, str, UsageError, type Values } from "./command.ts";
import { entry, pad } from "./table.ts";
import { lazy } from "./lazy.ts";

const show = (v: number | string | null): string => (v === null ? "?" : String(v));

function typeJson(t: AcceleratorType): Record<string, unknown> {
  return {
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
  };
}

function deviceJson(d: Accelerator): Record<string, unknown> {
  return {
    class: d.class,
    id: d.id,
    zoneId: d.zoneId,
    priority: d.priority,
    iommu: d.iommu,
    enabled: d.enabled,
    problems: d.problems,
    types: d.types.map(typeJson),
    uacce: d.uacce === null ? null : { ...d.uacce },
  };
}

const CLASSES: readonly AcceleratorClass[] = ["warpdrive", "uacce"];

/** The `--class` values (repeatable, or a comma list), or undefined for both classes. */
export function classesOf(v: Values): AcceleratorClass[] | undefined {
  const given = v["class"];
  if (!Array.isArray(given)) return undefined;
  const out: AcceleratorClass[] = [];
  for (const word of given.flatMap((g) => g.split(","))) {
    const c = CLASSES.find((k) => k === word.trim());
    if (c === undefined) throw new UsageError(`--class ${JSON.stringify(word)}: use warpdrive or uacce (repeatable, or a comma list)`);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

const classOption = {
  type: "string",
  multiple: true,
  choices: CLASSES,
  help: "only devices of this class (repeatable, or a comma list; default both)",
} as const;

function uacceLines(d: Accelerator, out: string[]): void {
  const u = d.uacce;
  const state = d.problems.length > 0 ? "unusable" : u?.isolate === 1 ? "isolated" : "enabled";
  if (u === null) {
    out.push(`${d.id}  uacce  ${state}`);
  } else {
    const flags = u.flags === null ? "?" : `${u.flags}${u.sva ? " (SVA)" : ""}`;
    const free = u.availableInstances === null && d.problems.length === 0 ? "not reported" : show(u.availableInstances);
    const isolate = u.isolate === null ? "" : `  isolate ${u.isolate} (strategy ${show(u.isolateStrategy)})`;
    out.push(
      `${d.id}  uacce  numa ${u.numaNode === null ? "-" : u.numaNode}  api ${show(u.api)}  flags ${flags}  free ${free}  mmio ${show(u.regionMmioSize)}  dus ${
        show(u.regionDusSize)
      }${isolate}  ${state}`,
    );
  }
  for (const p of d.problems) out.push(`  ! ${p}`);
  if (d.types.length > 0) out.push(`  algorithms: ${d.types.map((t) => t.type).join(", ")}`);
}

function listText(inv: Inventory, verbose: boolean): string {
  if (inv.devices.length === 0) return `No accelerators in ${whereRead(inv)}`;
  const out: string[] = [];
  for (const d of inv.devices) {
    if (d.class === "uacce") {
      uacceLines(d, out);
      continue;
    }
    const state = d.problems.length > 0 ? "unusable" : d.enabled ? "enabled" : "disabled";
    out.push(`${d.id}  zone ${show(d.zoneId)}  priority ${show(d.priority)}  iommu ${show(d.iommu)}  ${state}`);
    for (const p of d.problems) out.push(`  ! ${p}`);
    if (d.types.length === 0) continue;
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
    pad(rows).forEach((l, i) => {
      out.push(`  ${l}`);
      const t = i > 0 ? d.types[i - 1] : undefined;
      if (t !== undefined) for (const p of t.problems) out.push(`    ! ${p}`);
    });
  }
  return out.join("\n");
}

async function barrierJson(): Promise<Record<string, unknown>> {
  const { barrierInfo } = await lazy<typeof import("../sys/barrier.ts")>("../sys/barrier.ts", import.meta.url);
  return { ...barrierInfo() };
}

const list: Command = {
  ...entry("list"),
  details: `Both classes are listed: /sys/class/warpdrive, then /sys/class/uacce (a UACCE
device shows its NUMA node, api, flags, free queues, region sizes, isolation and
algorithms). CAPS decodes flags: the framework's low 8 bits by name (SHARE_ALL, SGL_MEM),
the algorithm's bits in hex (alg:0x100). --verbose lists mediated-device UUIDs and says
which doorbell barrier queues use (js: Atomics.store; c: c/wd_barrier.c) and why.
No device prints "No accelerators in DIR and DIR (absent)" (JSON: "devices": [],
"classDirs" with "present") and exits 1; a class directory that does not exist is not an
error unless none does.`,
  options: {
    class: classOption,
    verbose: { type: "boolean", short: "v", help: "mediated-device UUIDs and the doorbell barrier" },
  },
  args: [],
  sysfs: true,
  async run(ctx) {
    const { enumerate } = await lazy<typeof import("../sysfs/enumerate.ts")>("../sysfs/enumerate.ts", import.meta.url);
    const classes = classesOf(ctx.values);
    const inv = enumerate(classes === undefined ? { root: ctx.root() } : { root: ctx.root(), classes });
    const verbose = ctx.values["verbose"] === true;
    const json: Record<string, unknown> = {
      classDir: inv.classDir,
      classDirs: inv.classDirs.map((c) => ({ ...c })),
      devices: inv.devices.map(deviceJson),
    };
    if (verbose && ctx.json) json["barrier"] = await barrierJson();
    let text = listText(inv, verbose);
    if (verbose) {
      const b = await barrierJson();
      const what = b["backend"] === "c" ? `c (${String(b["library"])})` : "js (Atomics.store)";
      text += `\ndoorbell barrier: ${what} on ${String(b["arch"])}: ${String(b["reason"])}\n  ${String(b["guarantee"])}`;
    }
    return { code: inv.devices.length === 0 ? EXIT_FAILED : 0, json, text };
  },
};

async function pickCriteria(v: Values): Promise<Criteria> {
  const alg = str(v, "alg");
  if (alg === undefined || alg.trim() === "") throw new UsageError("pick needs --alg NAME (see wd help pick)");
  const c: { -readonly [K in keyof Criteria]: Criteria[K] } = { alg };
  const classes = classesOf(v);
  if (classes !== undefined) c.classes = classes;
  const wdType = str(v, "wd-type");
  if (wdType !== undefined) c.wdType = wdType;
  const flags = str(v, "flags");
  if (flags !== undefined) {
    const f = parseFlags(flags);
    if (!f.ok) throw new UsageError(`--flags ${JSON.stringify(flags)}: ${f.reason}`);
    c.flags = f.value;
  }
  if (Array.isArray(v["api"])) c.apis = v["api"];
  const zone = str(v, "zone");
  if (zone !== undefined) c.zone = int("--zone", zone);
  const prefer = str(v, "prefer");
  if (prefer !== undefined) {
    if (prefer !== "latency" && prefer !== "throughput") throw new UsageError(`--prefer ${JSON.stringify(prefer)}: use latency or throughput`);
    c.prefer = prefer;
  }
  const minT = str(v, "min-throughput");
  if (minT !== undefined) c.minThroughput = int("--min-throughput", minT);
  const maxL = str(v, "max-latency");
  if (maxL !== undefined) c.maxLatency = int("--max-latency", maxL);
  if (v["allow-create"] === true) c.allowCreate = true;
  if (v["allow-noiommu"] === true) c.allowNoIommu = true;
  return c;
}

/** The candidates of a selection (or of a refusal) as JSON. */
export function candidatesJson(cs: Selection["candidates"]): unknown[] {
  return cs.map((c) => ({ class: c.class, device: c.device, type: c.type ?? null, accepted: c.accepted, rank: c.accepted ? c.rank : null, reason: c.reason }));
}

/** The candidates as the text `--explain` prints. */
export function candidatesText(cs: Selection["candidates"]): string {
  return cs.map((c) =>
    `${c.accepted ? String(c.rank).padStart(3) : "  -"} ${c.device}${c.type ? `/${c.type}` : ""}${c.class === "uacce" ? " [uacce]" : ""}: ${c.accepted ? "" : "rejected: "}${c.reason}`
  ).join("\n");
}

const pick: Command = {
  ...entry("pick"),
  details: `Without --api, the accepted device_apis are those with a registered user-space
driver. --allow-create accepts types with no mediated device but free instances.
--allow-noiommu accepts devices whose wdev/iommu declares VFIO_NOIOMMU_IOMMU (no DMA
isolation). UACCE devices (/sys/class/uacce) are candidates too: their api must be
accepted like a device_api; priority and levels rank neutral (0 and 10), --zone matches
the NUMA node, available_instances 0 or isolate 1 rejects, --flags 0x2 (SGL_MEM) needs SVA. pick does not ask the kernel which IOMMU types it offers; a queue request does.
--explain lists every candidate and why it was ranked or rejected (stderr; with --json, in
"candidates").`,
  options: {
    alg: { type: "string", value: "NAME", required: true, help: "the algorithm (the type's name attribute)" },
    class: classOption,
    "wd-type": { type: "string", value: "T", help: "only types whose wd_type is T" },
    flags: { type: "string", value: "HEX", help: "every bit of this mask must be set in flags" },
    api: { type: "string", multiple: true, value: "API", help: "accept this device_api (repeatable)" },
    zone: { type: "string", value: "N", help: "prefer devices in zone N" },
    prefer: { type: "string", choices: ["latency", "throughput"], help: "what to rank by (default throughput)" },
    "min-throughput": { type: "string", value: "N", help: "reject types below this throughput" },
    "max-latency": { type: "string", value: "N", help: "reject types above this latency" },
    "allow-create": { type: "boolean", help: "accept a type with free instances but no mediated device" },
    "allow-noiommu": { type: "boolean", help: "accept devices without DMA isolation" },
    explain: { type: "boolean", help: "every candidate, and why" },
  },
  args: [],
  sysfs: true,
  async run(ctx) {
    const criteria = await pickCriteria(ctx.values);
    const [{ enumerate }, { select }, { registeredDeviceApis }] = await Promise.all([
      lazy<typeof import("../sysfs/enumerate.ts")>("../sysfs/enumerate.ts", import.meta.url),
      lazy<typeof import("../select/select.ts")>("../select/select.ts", import.meta.url),
      lazy<typeof import("../drivers/mod.ts")>("../drivers/mod.ts", import.meta.url),
    ]);
    const read = { root: ctx.root(), alg: criteria.alg, ...(criteria.classes === undefined ? {} : { classes: criteria.classes }) };
    const s = select(enumerate(read), { ...criteria, apis: criteria.apis ?? registeredDeviceApis() });
    const explain = ctx.values["explain"] === true;
    const json: Record<string, unknown> = {
      class: s.device.class,
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
      uacce: s.device.uacce === null ? null : { ...s.device.uacce },
    };
    if (explain) json["candidates"] = candidatesJson(s.candidates);
    const how = s.device.uacce !== null
      ? `uacce /dev/${s.device.uacce.devName}`
      : s.mdev === null
      ? "(a mediated device must be created)"
      : `mdev ${s.mdev}`;
    const text = `${s.device.id}/${s.type.type}  ${how}`;
    return explain ? { json, text, err: candidatesText(s.candidates) } : { json, text };
  },
};

const create: Command = {
  ...entry("create"),
  details: "Prints the new device's UUID. Checks that the type has free instances first.",
  options: {
    device: { type: "string", value: "DEV", required: true, help: "the accelerator (see wd list)" },
    type: { type: "string", value: "TYPE_DIR", required: true, help: "the type directory, e.g. wd_dummy-copy" },
    uuid: { type: "string", value: "UUID", help: "the UUID to give it (default: a new random one)" },
  },
  args: [],
  sysfs: true,
  async run(ctx) {
    const device = str(ctx.values, "device");
    const type = str(ctx.values, "type");
    if (device === undefined || type === undefined) throw new UsageError("create needs --device DEV and --type TYPE_DIR (see wd help create)");
    const uuid = str(ctx.values, "uuid");
    const { createMdev } = await lazy<typeof import("../mdev/mdev.ts")>("../mdev/mdev.ts", import.meta.url);
    const made = createMdev(device, type, uuid === undefined ? { root: ctx.root() } : { root: ctx.root(), uuid });
    return { json: { uuid: made, device, type }, text: made };
  },
};

const remove: Command = {
  ...entry("remove"),
  options: {},
  args: [{ name: "UUID", help: "the mediated device", complete: "uuid" }],
  sysfs: true,
  async run(ctx) {
    const uuid = ctx.args[0] as string;
    const { removeMdev } = await lazy<typeof import("../mdev/mdev.ts")>("../mdev/mdev.ts", import.meta.url);
    removeMdev(uuid, { root: ctx.root() });
    return { json: { removed: uuid.toLowerCase() } };
  },
};

const priority: Command = {
  ...entry("priority"),
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }, { name: "N", help: "the priority, in [-100, 99]" }],
  sysfs: true,
  async run(ctx) {
    const [device, n] = ctx.args as [string, string];
    const value = int("priority", n);
    const { setPriority } = await lazy<typeof import("../mdev/mdev.ts")>("../mdev/mdev.ts", import.meta.url);
    setPriority(device, value, { root: ctx.root() });
    return { json: { device, priority: value } };
  },
};

const disable: Command = {
  ...entry("disable"),
  details: "wd priority DEV N with N in range enables it again.",
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }],
  sysfs: true,
  async run(ctx) {
    const device = ctx.args[0] as string;
    const { disableDevice, DISABLED_PRIORITY } = await lazy<typeof import("../mdev/mdev.ts")>("../mdev/mdev.ts", import.meta.url);
    disableDevice(device, { root: ctx.root() });
    return { json: { device, priority: DISABLED_PRIORITY, enabled: false } };
  },
};

const zone: Command = {
  ...entry("zone"),
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }, { name: "N", help: "the zone, a C int" }],
  sysfs: true,
  async run(ctx) {
    const [device, n] = ctx.args as [string, string];
    const value = int("zone", n);
    const { setZone } = await lazy<typeof import("../mdev/mdev.ts")>("../mdev/mdev.ts", import.meta.url);
    setZone(device, value, { root: ctx.root() });
    return { json: { device, zoneId: value } };
  },
};

/** The tree commands, in the order help lists them. */
export const TREE_COMMANDS: readonly Command[] = [list, pick, create, remove, priority, disable, zone];

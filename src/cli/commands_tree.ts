/**
 * The `wd` commands that look at and arrange the tree: `list`, `pick`, `create`, `remove`,
 * `priority`, `disable`, `zone`. Each is defined once: help, options and handler together.
 *
 * @module
 */
import type { Criteria, Selection } from "../select/select.ts";
import type { Accelerator, AcceleratorType, Inventory } from "../sysfs/model.ts";
import { type Command, EXIT_FAILED, int, pad, str, UsageError, type Values } from "./command.ts";

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
    id: d.id,
    zoneId: d.zoneId,
    priority: d.priority,
    iommu: d.iommu,
    enabled: d.enabled,
    problems: d.problems,
    types: d.types.map(typeJson),
  };
}

async function listText(inv: Inventory, verbose: boolean): Promise<string> {
  if (inv.devices.length === 0) return `No accelerators in ${inv.classDir}`;
  const { describeFlags, formatFlags } = await import("../sysfs/parse.ts");
  const out: string[] = [];
  for (const d of inv.devices) {
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
  const { barrierInfo } = await import("../sys/barrier.ts");
  return { ...barrierInfo() };
}

const list: Command = {
  name: "list",
  summary: "list the accelerators, their types and mediated devices",
  details: `CAPS decodes flags: the framework's low 8 bits by name (SHARE_ALL, SGL_MEM), the
algorithm's bits in hex (alg:0x100). --verbose lists mediated-device UUIDs and says which
doorbell barrier queues use (js: Atomics.store; c: c/wd_barrier.c) and why.
An empty class directory prints "No accelerators in DIR" (JSON: "devices": []) and exits 1.`,
  options: { verbose: { type: "boolean", short: "v", help: "mediated-device UUIDs and the doorbell barrier" } },
  args: [],
  sysfs: true,
  async run(ctx) {
    const { enumerate } = await import("../sysfs/enumerate.ts");
    const inv = enumerate({ root: ctx.root() });
    const verbose = ctx.values["verbose"] === true;
    const json: Record<string, unknown> = { classDir: inv.classDir, devices: inv.devices.map(deviceJson) };
    if (verbose && ctx.json) json["barrier"] = await barrierJson();
    let text = await listText(inv, verbose);
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
  const wdType = str(v, "wd-type");
  if (wdType !== undefined) c.wdType = wdType;
  const flags = str(v, "flags");
  if (flags !== undefined) {
    const { parseFlags } = await import("../sysfs/parse.ts");
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
  return cs.map((c) => ({ device: c.device, type: c.type ?? null, accepted: c.accepted, rank: c.accepted ? c.rank : null, reason: c.reason }));
}

/** The candidates as the text `--explain` prints. */
export function candidatesText(cs: Selection["candidates"]): string {
  return cs.map((c) =>
    `${c.accepted ? String(c.rank).padStart(3) : "  -"} ${c.device}${c.type ? `/${c.type}` : ""}: ${c.accepted ? "" : "rejected: "}${c.reason}`
  ).join("\n");
}

const pick: Command = {
  name: "pick",
  summary: "choose the accelerator a queue request would get, and say why",
  details: `Without --api, the accepted device_apis are those with a registered user-space
driver. --allow-create accepts types with no mediated device but free instances.
--allow-noiommu accepts devices whose wdev/iommu declares VFIO_NOIOMMU_IOMMU (no DMA
isolation). pick does not ask the kernel which IOMMU types it offers; a queue request does.
--explain lists every candidate and why it was ranked or rejected (stderr; with --json, in
"candidates").`,
  options: {
    alg: { type: "string", value: "NAME", required: true, help: "the algorithm (the type's name attribute)" },
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
      import("../sysfs/enumerate.ts"),
      import("../select/select.ts"),
      import("../drivers/mod.ts"),
    ]);
    const s = select(enumerate({ root: ctx.root(), alg: criteria.alg }), { ...criteria, apis: criteria.apis ?? registeredDeviceApis() });
    const explain = ctx.values["explain"] === true;
    const json: Record<string, unknown> = {
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
    };
    if (explain) json["candidates"] = candidatesJson(s.candidates);
    const text = `${s.device.id}/${s.type.type}  ${s.mdev === null ? "(a mediated device must be created)" : `mdev ${s.mdev}`}`;
    return explain ? { json, text, err: candidatesText(s.candidates) } : { json, text };
  },
};

const create: Command = {
  name: "create",
  summary: "create a mediated device (root)",
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
    const { createMdev } = await import("../mdev/mdev.ts");
    const made = createMdev(device, type, uuid === undefined ? { root: ctx.root() } : { root: ctx.root(), uuid });
    return { json: { uuid: made, device, type }, text: made };
  },
};

const remove: Command = {
  name: "remove",
  summary: "remove a mediated device (root)",
  options: {},
  args: [{ name: "UUID", help: "the mediated device", complete: "uuid" }],
  sysfs: true,
  async run(ctx) {
    const uuid = ctx.args[0] as string;
    const { removeMdev } = await import("../mdev/mdev.ts");
    removeMdev(uuid, { root: ctx.root() });
    return { json: { removed: uuid.toLowerCase() } };
  },
};

const priority: Command = {
  name: "priority",
  summary: "set a device's priority, in [-100, 99]; smaller is preferred (root)",
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }, { name: "N", help: "the priority, in [-100, 99]" }],
  sysfs: true,
  async run(ctx) {
    const [device, n] = ctx.args as [string, string];
    const value = int("priority", n);
    const { setPriority } = await import("../mdev/mdev.ts");
    setPriority(device, value, { root: ctx.root() });
    return { json: { device, priority: value } };
  },
};

const disable: Command = {
  name: "disable",
  summary: "take a device out of choice (a priority outside the range) (root)",
  details: "wd priority DEV N with N in range enables it again.",
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }],
  sysfs: true,
  async run(ctx) {
    const device = ctx.args[0] as string;
    const { disableDevice, DISABLED_PRIORITY } = await import("../mdev/mdev.ts");
    disableDevice(device, { root: ctx.root() });
    return { json: { device, priority: DISABLED_PRIORITY, enabled: false } };
  },
};

const zone: Command = {
  name: "zone",
  summary: "set a device's zone (root)",
  options: {},
  args: [{ name: "DEV", help: "the accelerator", complete: "device" }, { name: "N", help: "the zone, a C int" }],
  sysfs: true,
  async run(ctx) {
    const [device, n] = ctx.args as [string, string];
    const value = int("zone", n);
    const { setZone } = await import("../mdev/mdev.ts");
    setZone(device, value, { root: ctx.root() });
    return { json: { device, zoneId: value } };
  },
};

/** The tree commands, in the order help lists them. */
export const TREE_COMMANDS: readonly Command[] = [list, pick, create, remove, priority, disable, zone];

/**
 * Steps 2–5 of the queue inquiry: matching and choosing, as a pure function over the
 * data {@link enumerate} returned. No I/O happens here. WarpDrive and UACCE devices are
 * candidates of one ranking; the rules for UACCE (neutral priority and levels, the NUMA
 * node as zone, free queues, isolation, SVA as `WD_CAPA_SGL_MEM`) are in `uacce.ts`.
 *
 * @module
 */
import { iommuTypeName, VFIO_NOIOMMU_IOMMU } from "../abi/vfio.ts";
import type { Accelerator, AcceleratorClass, AcceleratorType, Inventory } from "../sysfs/model.ts";
import { whereRead } from "../sysfs/errors.ts";
import { formatFlags, LEVEL_MAX, naturalCompare, PRIORITY_MAX, PRIORITY_MIN } from "../sysfs/parse.ts";
import { NEUTRAL_LEVEL, NEUTRAL_PRIORITY, uacceRankReason, uacceRejection } from "./uacce.ts";

/** What the caller asks for. Only `alg` is required. */
export interface Criteria {
  /** The algorithm; must equal a type's `name` (or a UACCE device's listed algorithm) exactly (step 2). */
  readonly alg: string;
  /** Only devices of these classes (`"warpdrive"`, `"uacce"`); both when unset. */
  readonly classes?: readonly AcceleratorClass[];
  /** Only types of this WarpDrive type (`wd_type`), e.g. `"crypto"` (step 3). */
  readonly wdType?: string;
  /**
   * WarpDrive flag bits that must all be set in the type's `flags` (step 3). A UACCE
   * device offers `WD_CAPA_SGL_MEM` when it has SVA, and no other bit.
   */
  readonly flags?: number;
  /**
   * Accepted `device_api` values (step 4): required by {@link select}, which is pure and
   * knows no driver registry; pass `registeredDeviceApis()` for the apis this process has a
   * user-space driver for. `requestQueue` fills it in so when omitted.
   */
  readonly apis?: readonly string[];
  /** The caller's zone: devices in it (for UACCE, on that NUMA node) are preferred after priority (step 5). */
  readonly zone?: number;
  /** What to favour after priority and zone; `"throughput"` by default. */
  readonly prefer?: "throughput" | "latency";
  /** Reject types whose throughput level is below this. */
  readonly minThroughput?: number;
  /** Reject types whose latency level is above this. */
  readonly maxLatency?: number;
  /** Whether a mediated device may be created when none exists (needs root); false by default. */
  readonly allowCreate?: boolean;
  /**
   * The VFIO IOMMU types the kernel offers (`VFIO_TYPE1_IOMMU`, `VFIO_TYPE1v2_IOMMU`,
   * `VFIO_NOIOMMU_IOMMU`, …): a device whose `wdev/iommu` declares another type is
   * rejected. `select` does no I/O, so the caller asks the kernel, e.g. with
   * `Container.checkExtension()` (VFIO_CHECK_EXTENSION) or {@link probeIommuTypes};
   * `requestQueue` does that itself. Unset: not checked.
   */
  readonly iommuTypes?: readonly number[];
  /**
   * Accept devices that declare `VFIO_NOIOMMU_IOMMU` (no DMA isolation: unsafe); false by
   * default, and such devices are rejected with that reason.
   */
  readonly allowNoIommu?: boolean;
}

/** The criteria of {@link select}: the accepted apis are required (select knows no registry). */
export type SelectCriteria = Criteria & { readonly apis: readonly string[] };

/** One device × type pair that was considered, and what became of it. */
export interface Candidate {
  /** The device's class. */
  readonly class: AcceleratorClass;
  /** The device id. */
  readonly device: string;
  /** The type directory name (for UACCE, the algorithm). */
  readonly type: string;
  /** The type's algorithm, when it could be read. */
  readonly name: string | null;
  /** Whether it passed every check. */
  readonly accepted: boolean;
  /** Why it was rejected, or, for accepted ones, how it ranks. */
  readonly reason: string;
  /** 1 for the chosen one, 2 for the next, …; 0 when rejected. */
  readonly rank: number;
}

/** The outcome of a successful selection. */
export interface Selection {
  /** The chosen accelerator. */
  readonly device: Accelerator;
  /** The chosen type on it. */
  readonly type: AcceleratorType;
  /**
   * The first existing mediated device of the type, or `null` when one must be created
   * (or for a UACCE device, which has none: a queue opens `/dev/<uacce.devName>`).
   * Whether it is free is known only when its VFIO group is opened (EBUSY means another
   * process holds it), so `mdevs` lists every one to try in order.
   */
  readonly mdev: string | null;
  /** Every existing mediated device of the chosen type, in the order to try them. */
  readonly mdevs: readonly string[];
  /** True when no mediated device exists and one must be created (never for UACCE). */
  readonly mustCreate: boolean;
  /** Every candidate, accepted (in rank order, first is chosen) then rejected. */
  readonly candidates: readonly Candidate[];
  /** The accepted candidates in rank order, as device/type pairs, for fallbacks. */
  readonly ranked: readonly { readonly device: Accelerator; readonly type: AcceleratorType }[];
}

/**
 * Nothing matched the criteria. The message lists every candidate of the algorithm and
 * why it was rejected; `candidates` holds the same as data. When candidates were refused
 * by failures (an open that returned EACCES, a refused create), `cause` holds that error,
 * or an `AggregateError` of all of them.
 *
 * @example
 * ```ts
 * import { enumerate, NoAcceleratorError, select } from "warpdrive";
 *
 * try {
 *   select(enumerate(), { alg: "zlib", apis: ["wd_dummy_v1"] });
 * } catch (e) {
 *   if (e instanceof NoAcceleratorError) for (const c of e.candidates) console.log(c.device, c.reason);
 * }
 * ```
 */
export class NoAcceleratorError extends Error {
  /** Always `"ENODEV"`, so callers can test `err.code` like other errors. */
  readonly code: string = "ENODEV";
  /** Every candidate considered, each with its reason. */
  readonly candidates: readonly Candidate[];
  /** The criteria that found nothing. */
  readonly criteria: Criteria;

  constructor(message: string, candidates: readonly Candidate[], criteria: Criteria, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NoAcceleratorError";
    this.candidates = candidates;
    this.criteria = criteria;
  }
}

function checkCriteria(c: Criteria): void {
  if (c === null || typeof c !== "object") throw new TypeError("Cannot select an accelerator: criteria must be an object");
  if (typeof c.alg !== "string" || c.alg.trim() === "") {
    throw new TypeError(`Cannot select an accelerator for algorithm ${JSON.stringify(c.alg)}: alg must be a non-empty string`);
  }
  if (c.wdType !== undefined && (typeof c.wdType !== "string" || c.wdType.trim() === "")) {
    throw new TypeError(`Cannot select with wdType ${JSON.stringify(c.wdType)}: it must be a non-empty string`);
  }
  if (c.allowCreate !== undefined && typeof c.allowCreate !== "boolean") {
    throw new TypeError(`Cannot select with allowCreate ${JSON.stringify(c.allowCreate)}: it must be a boolean`);
  }
  if (c.flags !== undefined && (!Number.isInteger(c.flags) || c.flags < 0 || c.flags > 0xffffffff)) {
    throw new RangeError(`Cannot select with flags ${JSON.stringify(c.flags)}: flags must be a 32-bit unsigned integer`);
  }
  if (c.zone !== undefined && !Number.isSafeInteger(c.zone)) {
    throw new RangeError(`Cannot select with zone ${JSON.stringify(c.zone)}: zone must be an integer`);
  }
  if (c.prefer !== undefined && c.prefer !== "throughput" && c.prefer !== "latency") {
    throw new RangeError(`Cannot select with prefer ${JSON.stringify(c.prefer)}: use "throughput" or "latency"`);
  }
  for (const [k, v] of [["minThroughput", c.minThroughput], ["maxLatency", c.maxLatency]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > LEVEL_MAX)) {
      throw new RangeError(`Cannot select with ${k} ${JSON.stringify(v)}: it must be an integer in [0, ${LEVEL_MAX}]`);
    }
  }
  if (c.allowNoIommu !== undefined && typeof c.allowNoIommu !== "boolean") {
    throw new TypeError(`Cannot select with allowNoIommu ${JSON.stringify(c.allowNoIommu)}: it must be a boolean`);
  }
  if (c.iommuTypes !== undefined && (!Array.isArray(c.iommuTypes) || c.iommuTypes.some((t) => !Number.isInteger(t) || t < 0))) {
    throw new TypeError("Cannot select an accelerator: iommuTypes must be an array of VFIO IOMMU type numbers");
  }
  if (c.classes !== undefined && (!Array.isArray(c.classes) || c.classes.some((k) => k !== "warpdrive" && k !== "uacce"))) {
    throw new TypeError(`Cannot select with classes ${JSON.stringify(c.classes)}: give an array of "warpdrive" and "uacce"`);
  }
  if (!Array.isArray(c.apis) || c.apis.some((a) => typeof a !== "string")) {
    throw new TypeError(
      "Cannot select an accelerator: apis must be an array of the accepted device_api strings (registeredDeviceApis() gives those with a driver)",
    );
  }
}

/** Returns why a pair cannot be chosen, or null when it can. Order follows the spec's steps. */
function rejection(d: Accelerator, t: AcceleratorType, c: Criteria, apis: readonly string[]): string | null {
  if (c.classes !== undefined && !c.classes.includes(d.class)) return `class ${d.class}, not asked for (classes: ${c.classes.join(", ")})`;
  if (t.name !== c.alg) {
    return t.name === null ? `unusable type: ${t.problems.join("; ")}` : `offers ${JSON.stringify(t.name)}, not ${JSON.stringify(c.alg)}`;
  }
  if (d.class === "uacce") return uacceRejection(d, t, c, apis);
  if (t.problems.length > 0) return `bad type attributes: ${t.problems.join("; ")}`;
  if (c.wdType !== undefined && t.wdType !== c.wdType) return `wd_type is "${t.wdType}", not "${c.wdType}"`;
  const want = c.flags ?? 0;
  const flags = t.flags ?? 0;
  if ((flags & want) >>> 0 !== want >>> 0) {
    return `flags ${formatFlags(flags)} lack ${formatFlags((want & ~flags) >>> 0)} (asked for ${formatFlags(want)})`;
  }
  if (!apis.includes(t.deviceApi ?? "")) {
    const accepted = apis.length === 0 ? "none registered" : apis.map((a) => `"${a}"`).join(", ");
    return `no user-space driver for device_api "${t.deviceApi}" (accepted: ${accepted})`;
  }
  if (d.problems.length > 0) return `bad device attributes: ${d.problems.join("; ")}`;
  if (d.iommu === VFIO_NOIOMMU_IOMMU && c.allowNoIommu !== true) {
    return `wdev/iommu declares ${iommuTypeName(d.iommu)} (no DMA isolation); accepted only with allowNoIommu`;
  }
  if (c.iommuTypes !== undefined && d.iommu !== null && !c.iommuTypes.includes(d.iommu)) {
    const offered = c.iommuTypes.length === 0 ? "none" : c.iommuTypes.map(iommuTypeName).join(", ");
    return `wdev/iommu declares ${iommuTypeName(d.iommu)}, which the kernel does not offer (offered: ${offered})`;
  }
  if (!d.enabled) return `device disabled: priority ${d.priority} is outside [${PRIORITY_MIN}, ${PRIORITY_MAX}]`;
  if (c.minThroughput !== undefined && (t.throughput ?? 0) < c.minThroughput) {
    return `throughput ${t.throughput} is below the minimum ${c.minThroughput}`;
  }
  if (c.maxLatency !== undefined && (t.latency ?? 0) > c.maxLatency) {
    return `latency ${t.latency} is above the maximum ${c.maxLatency}`;
  }
  if (t.mdevs.length === 0) {
    if (!c.allowCreate) {
      return (t.availableInstances ?? 0) > 0
        ? `no mediated device exists and creating one was not allowed (${t.availableInstances} could be created)`
        : "no mediated device exists and no capacity to create one";
    }
    if ((t.availableInstances ?? 0) <= 0) return "no mediated device exists and available_instances is 0";
  }
  return null;
}

type Pair = { readonly device: Accelerator; readonly type: AcceleratorType };

/**
 * Orders accepted pairs as step 5 says: priority ascending → the caller's zone first →
 * throughput descending (or latency ascending) → available_instances descending → device
 * id in natural order → type directory in natural order. What a UACCE device lacks ranks
 * neutral: priority 0, levels 10, unreported free queues 0.
 */
function compare(c: Criteria): (a: Pair, b: Pair) => number {
  const byLatency = c.prefer === "latency";
  return (a, b) => {
    const pa = a.device.priority ?? NEUTRAL_PRIORITY;
    const pb = b.device.priority ?? NEUTRAL_PRIORITY;
    if (pa !== pb) return pa - pb;
    if (c.zone !== undefined) {
      const za = a.device.zoneId === c.zone ? 0 : 1;
      const zb = b.device.zoneId === c.zone ? 0 : 1;
      if (za !== zb) return za - zb;
    }
    const ta = a.type.throughput ?? NEUTRAL_LEVEL, tb = b.type.throughput ?? NEUTRAL_LEVEL;
    const la = a.type.latency ?? NEUTRAL_LEVEL, lb = b.type.latency ?? NEUTRAL_LEVEL;
    if (byLatency ? la !== lb : ta !== tb) return byLatency ? la - lb : tb - ta;
    const ia = a.type.availableInstances ?? 0, ib = b.type.availableInstances ?? 0;
    if (ia !== ib) return ib - ia;
    return naturalCompare(a.device.id, b.device.id) || naturalCompare(a.type.type, b.type.type) ||
      classOrder(a.device) - classOrder(b.device);
  };
}

/** Ties between same-named devices of both classes: WarpDrive first. */
const classOrder = (d: Accelerator): number => (d.class === "uacce" ? 1 : 0);

function rankReason(p: Pair, c: Criteria): string {
  if (p.device.class === "uacce") return uacceRankReason(p.device, p.type, c);
  const parts = [`priority ${p.device.priority}`];
  if (c.zone !== undefined) parts.push(p.device.zoneId === c.zone ? `in zone ${c.zone}` : `zone ${p.device.zoneId}`);
  parts.push(c.prefer === "latency" ? `latency ${p.type.latency}` : `throughput ${p.type.throughput}`);
  parts.push(`${p.type.availableInstances} available`);
  parts.push(p.type.mdevs.length > 0 ? `${p.type.mdevs.length} mediated device(s)` : "mediated device to create");
  return parts.join(", ");
}

/**
 * Matches and ranks every device × type of an inventory against the criteria and returns
 * the best one with an explanation of every candidate (steps 2–5 of the inquiry).
 *
 * @throws {TypeError | RangeError} on malformed criteria (`apis` missing among them).
 * @throws {NoAcceleratorError} (`code` `"ENODEV"`) when nothing is acceptable; its
 *   message lists each rejected candidate of the algorithm and why.
 * @example
 * ```ts
 * import { enumerate, registeredDeviceApis, select, WD_CAPA_SGL_MEM } from "warpdrive";
 *
 * const inv = enumerate({ alg: "copy" });
 * const s = select(inv, { alg: "copy", flags: WD_CAPA_SGL_MEM, apis: registeredDeviceApis() });
 * console.log(s.device.id, s.type.type, s.mdev ?? "(create one)");
 * ```
 */
export function select(inventory: Inventory, criteria: SelectCriteria): Selection {
  checkCriteria(criteria);
  const apis = criteria.apis;
  const accepted: Pair[] = [];
  const rejected: Candidate[] = [];
  for (const device of inventory.devices) {
    if (device.types.length === 0) {
      rejected.push({
        class: device.class,
        device: device.id,
        type: "",
        name: null,
        accepted: false,
        reason: device.problems.length > 0 ? `bad device: ${device.problems.join("; ")}` : "offers no types",
        rank: 0,
      });
      continue;
    }
    for (const type of device.types) {
      const why = rejection(device, type, criteria, apis);
      if (why === null) accepted.push({ device, type });
      else rejected.push({ class: device.class, device: device.id, type: type.type, name: type.name, accepted: false, reason: why, rank: 0 });
    }
  }
  accepted.sort(compare(criteria));
  const candidates: Candidate[] = [
    ...accepted.map((p, i) => ({
      class: p.device.class,
      device: p.device.id,
      type: p.type.type,
      name: p.type.name,
      accepted: true,
      reason: rankReason(p, criteria),
      rank: i + 1,
    })),
    ...rejected,
  ];
  const best = accepted[0];
  if (best === undefined) throw new NoAcceleratorError(noneMessage(inventory, criteria, rejected), candidates, criteria);
  return {
    device: best.device,
    type: best.type,
    mdev: best.type.mdevs[0] ?? null,
    mdevs: best.type.mdevs,
    mustCreate: best.device.class === "warpdrive" && best.type.mdevs.length === 0,
    candidates,
    ranked: accepted,
  };
}

function noneMessage(inv: Inventory, c: Criteria, rejected: readonly Candidate[]): string {
  const head = `No accelerator offers ${JSON.stringify(c.alg)}`;
  if (inv.devices.length === 0) return `${head}: no device in ${whereRead(inv)}`;
  const relevant = rejected.filter((r) => r.name === c.alg || r.name === null);
  const others = new Map<string, number>();
  for (const r of rejected) if (r.name !== null && r.name !== c.alg) others.set(r.name, (others.get(r.name) ?? 0) + 1);
  const lines = relevant.map((r) => `  ${r.device}${r.type ? `/${r.type}` : ""}: ${r.reason}`);
  if (others.size > 0) {
    const list = [...others].sort((a, b) => naturalCompare(a[0], b[0])).map(([n, k]) => `${n} (${k})`).join(", ");
    lines.push(`  other algorithms offered: ${list}`);
  }
  const what = relevant.length === 0 ? "no type has that name" : `${relevant.length} candidate(s) rejected`;
  return `${head} that can be used: ${what}\n${lines.join("\n")}`;
}

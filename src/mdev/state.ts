/**
 * Declarative pre-work (the spec's step 0): a JSON document says, per device, its priority
 * and zone, and per type which mediated devices should exist; {@link planState} compares it
 * with the tree and lists the steps, {@link applySteps} takes them and undoes what it did
 * when one fails. {@link saveState} writes the tree's current state in the same format, so
 * applying what was saved changes nothing.
 *
 * ```json
 * { "schema": 1,
 *   "devices": {
 *     "wd_dummy0": { "priority": -5, "zone": 0,
 *                    "types": { "wd_dummy-copy": { "mdevs": 2 } } },
 *     "wd_dummy1": { "priority": "disabled",
 *                    "types": { "wd_dummy-csum": { "mdevs": ["83b8f4f2-509f-482f-8c1e-e6bfe0fa1001"] } } } } }
 * ```
 *
 * `mdevs` is a count (that many should exist; new ones get random UUIDs) or a list of UUIDs
 * (each should exist, created with that UUID). Mediated devices beyond what the document
 * asks for are left alone unless `prune` is set: they may be in use.
 *
 * @module
 */
import type { Accelerator, Inventory } from "../sysfs/model.ts";
import { isUuid, naturalCompare, PRIORITY_MAX, PRIORITY_MIN, ZONE_MAX, ZONE_MIN } from "../sysfs/parse.ts";
import { createMdev, disableDevice, removeMdev, setPriority, setZone } from "./mdev.ts";

/** A device's wanted priority: an integer in [-100, 99], or `"disabled"`. */
export type WantedPriority = number | "disabled";

/** What one type should have. */
export interface TypeState {
  /** How many mediated devices should exist, or exactly which (by UUID). */
  readonly mdevs: number | readonly string[];
}

/** What one device should be. Absent fields are left as they are. */
export interface DeviceState {
  readonly priority?: WantedPriority;
  readonly zone?: number;
  readonly types?: Readonly<Record<string, TypeState>>;
}

/** The document `wd apply` reads and `wd save` writes. */
export interface StateDocument {
  readonly schema: 1;
  readonly devices: Readonly<Record<string, DeviceState>>;
}

/** One change to the tree. `from` is what was there, for undoing it. */
export type Step =
  | { readonly action: "priority"; readonly device: string; readonly from: number | null; readonly to: WantedPriority }
  | { readonly action: "zone"; readonly device: string; readonly from: number | null; readonly to: number }
  | { readonly action: "create"; readonly device: string; readonly type: string; readonly uuid: string | null }
  | { readonly action: "remove"; readonly device: string; readonly type: string; readonly uuid: string };

/** The steps to make the tree so, and what was noticed but left alone. */
export interface Plan {
  readonly steps: readonly Step[];
  readonly notes: readonly string[];
}

/**
 * A malformed state document (`code` `"EINVAL"`), or one that names what the tree lacks
 * (`"ENOENT"`) or a UUID another type holds (`"EEXIST"`); the message names the key.
 */
export class StateError extends Error {
  readonly code: "EINVAL" | "ENOENT" | "EEXIST";
  override readonly name = "StateError";

  constructor(message: string, code: "EINVAL" | "ENOENT" | "EEXIST" = "EINVAL") {
    super(message);
    this.code = code;
  }
}

/**
 * A step failed: what it was, which one, what was undone, and what could not be.
 * The failed step's cause is kept; `code` is the cause's (`"ENOSPC"`, `"EACCES"`, …).
 */
export class ApplyError extends Error {
  override readonly name = "ApplyError";
  readonly code: string;
  /** The step that failed, with its 1-based index and the plan's length. */
  readonly step: Step & { readonly index: number; readonly of: number };
  /** The steps done before it and undone again, in the order they were undone. */
  readonly undone: readonly Step[];
  /** What could not be undone, one message each. */
  readonly undoFailures: readonly string[];

  constructor(step: ApplyError["step"], cause: unknown, undone: readonly Step[], undoFailures: readonly string[]) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const after = undoFailures.length > 0
      ? `; undid ${undone.length - undoFailures.length} of ${undone.length} earlier step(s), could not undo: ${undoFailures.join("; ")}`
      : `; undid the ${undone.length} earlier step(s) of this run`;
    super(`Step ${step.index} of ${step.of} failed (${describeStep(step)}): ${why}${after}`, { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === "string" ? code : "EFAILED";
    this.step = step;
    this.undone = undone;
    this.undoFailures = undoFailures;
  }
}

/** One step in words: `"set the priority of acc0 from 0 to -5"`. */
export function describeStep(s: Step): string {
  const was = (v: number | null): string => (v === null ? "an unreadable value" : String(v));
  switch (s.action) {
    case "priority":
      return s.to === "disabled" ? `disable ${s.device} (priority was ${was(s.from)})` : `set the priority of ${s.device} from ${was(s.from)} to ${s.to}`;
    case "zone":
      return `set the zone of ${s.device} from ${was(s.from)} to ${s.to}`;
    case "create":
      return `create a mediated device of ${s.device}/${s.type}${s.uuid === null ? "" : ` with UUID ${s.uuid}`}`;
    case "remove":
      return `remove mediated device ${s.uuid} of ${s.device}/${s.type}`;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function only(where: string, o: Record<string, unknown>, keys: readonly string[], source: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new StateError(`${source}: ${where}.${k}: unknown key; expected ${keys.join(", ")}`);
  }
}

/**
 * Reads a state document, checking every key and value.
 *
 * @param text The JSON text.
 * @param source What to name in messages (the file).
 * @throws {StateError} (`EINVAL`) naming the source and the key that is wrong.
 * @example
 * ```ts
 * const doc = parseState('{"schema":1,"devices":{"acc0":{"priority":-5}}}', "pre.json");
 * ```
 */
export function parseState(text: string, source: string): StateDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new StateError(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(raw)) throw new StateError(`${source}: expected an object with "schema": 1 and "devices"`);
  only("", raw, ["schema", "devices"], source);
  if (raw["schema"] !== 1) throw new StateError(`${source}: "schema" is ${JSON.stringify(raw["schema"])}; this wd reads schema 1`);
  const devices = raw["devices"];
  if (!isObject(devices)) throw new StateError(`${source}: "devices" must be an object keyed by device id`);
  const out: Record<string, DeviceState> = {};
  for (const [id, d] of Object.entries(devices)) {
    const at = `devices.${id}`;
    if (!isObject(d)) throw new StateError(`${source}: ${at}: expected an object`);
    only(at, d, ["priority", "zone", "types"], source);
    const dev: { priority?: WantedPriority; zone?: number; types?: Record<string, TypeState> } = {};
    const p = d["priority"];
    if (p !== undefined) {
      if (p !== "disabled" && !(Number.isInteger(p) && (p as number) >= PRIORITY_MIN && (p as number) <= PRIORITY_MAX)) {
        throw new StateError(`${source}: ${at}.priority is ${JSON.stringify(p)}: give an integer in [${PRIORITY_MIN}, ${PRIORITY_MAX}] or "disabled"`);
      }
      dev.priority = p as WantedPriority;
    }
    const z = d["zone"];
    if (z !== undefined) {
      if (!Number.isInteger(z) || (z as number) < ZONE_MIN || (z as number) > ZONE_MAX) {
        throw new StateError(`${source}: ${at}.zone is ${JSON.stringify(z)}: give an integer in [${ZONE_MIN}, ${ZONE_MAX}]`);
      }
      dev.zone = z as number;
    }
    const types = d["types"];
    if (types !== undefined) {
      if (!isObject(types)) throw new StateError(`${source}: ${at}.types must be an object keyed by type directory`);
      dev.types = {};
      for (const [type, t] of Object.entries(types)) {
        const tat = `${at}.types.${type}`;
        if (!isObject(t)) throw new StateError(`${source}: ${tat}: expected an object with "mdevs"`);
        only(tat, t, ["mdevs"], source);
        const m = t["mdevs"];
        if (Number.isInteger(m) && (m as number) >= 0) dev.types[type] = { mdevs: m as number };
        else if (Array.isArray(m) && m.every((u) => typeof u === "string" && isUuid(u))) {
          const uuids = m.map((u: string) => u.toLowerCase());
          if (new Set(uuids).size !== uuids.length) throw new StateError(`${source}: ${tat}.mdevs lists a UUID twice`);
          dev.types[type] = { mdevs: uuids };
        } else throw new StateError(`${source}: ${tat}.mdevs is ${JSON.stringify(m)}: give a count (0 or more) or a list of UUIDs`);
      }
    }
    out[id] = dev;
  }
  return { schema: 1, devices: out };
}

const inRange = (p: number | null): p is number => p !== null && p >= PRIORITY_MIN && p <= PRIORITY_MAX;

/**
 * The tree's current state as a document: every WarpDrive device's priority (or
 * `"disabled"`) and zone, every type's mediated devices by UUID. Values that could not be
 * read, and UACCE devices (which have no pre-work), are left out.
 *
 * @example
 * ```ts
 * import { enumerate } from "warpdrive";
 * import { saveState } from "./state.ts";
 * console.log(JSON.stringify(saveState(enumerate()), null, 2));
 * ```
 */
export function saveState(inventory: Inventory): StateDocument {
  const devices: Record<string, DeviceState> = {};
  for (const d of inventory.devices) {
    if (d.class !== "warpdrive") continue; // UACCE devices have no pre-work to save
    const types: Record<string, TypeState> = {};
    for (const t of d.types) types[t.type] = { mdevs: [...t.mdevs] };
    devices[d.id] = {
      ...(d.priority === null ? {} : { priority: inRange(d.priority) ? d.priority : "disabled" }),
      ...(d.zoneId === null ? {} : { zone: d.zoneId }),
      types,
    };
  }
  return { schema: 1, devices };
}

function planDevice(d: Accelerator, want: DeviceState, owner: ReadonlyMap<string, string>, prune: boolean, steps: Step[], notes: string[]): void {
  if (want.priority !== undefined) {
    const same = want.priority === "disabled" ? d.priority !== null && !inRange(d.priority) : d.priority === want.priority;
    if (!same) steps.push({ action: "priority", device: d.id, from: d.priority, to: want.priority });
  }
  if (want.zone !== undefined && d.zoneId !== want.zone) steps.push({ action: "zone", device: d.id, from: d.zoneId, to: want.zone });
  for (const [type, t] of Object.entries(want.types ?? {})) {
    const have = d.types.find((x) => x.type === type);
    if (have === undefined) {
      throw new StateError(`devices.${d.id}.types.${type}: ${d.id} has no such type (it has ${d.types.map((x) => x.type).join(", ") || "none"})`, "ENOENT");
    }
    const where = `${d.id}/${type}`;
    let surplus: string[];
    if (typeof t.mdevs === "number") {
      for (let i = have.mdevs.length; i < t.mdevs; i++) steps.push({ action: "create", device: d.id, type, uuid: null });
      surplus = have.mdevs.slice(t.mdevs);
    } else {
      for (const u of t.mdevs) {
        const at = owner.get(u);
        if (at !== undefined && at !== where) throw new StateError(`devices.${d.id}.types.${type}.mdevs: ${u} already exists, as a mediated device of ${at}`, "EEXIST");
        if (at === undefined) steps.push({ action: "create", device: d.id, type, uuid: u });
      }
      surplus = have.mdevs.filter((u) => !(t.mdevs as readonly string[]).includes(u));
    }
    if (surplus.length === 0) continue;
    if (prune) for (const u of surplus) steps.push({ action: "remove", device: d.id, type, uuid: u });
    else notes.push(`${where} has ${surplus.length} mediated device(s) the document does not ask for (${surplus.join(", ")}): left alone (prune removes them)`);
  }
}

/**
 * The steps that make the tree as the document says. Pure: reads nothing but its arguments.
 *
 * @throws {StateError} (`EINVAL`) when the document names a device or type the tree lacks,
 *   or a UUID that exists under another type.
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { enumerate } from "warpdrive";
 * import { parseState, planState } from "./state.ts";
 * const text = readFileSync("pre.json", "utf8");
 * const { steps } = planState(parseState(text, "pre.json"), enumerate());
 * ```
 */
export function planState(doc: StateDocument, inventory: Inventory, options: { readonly prune?: boolean } = {}): Plan {
  const owner = new Map<string, string>();
  for (const d of inventory.devices) for (const t of d.types) for (const u of t.mdevs) owner.set(u, `${d.id}/${t.type}`);
  const steps: Step[] = [];
  const notes: string[] = [];
  for (const id of Object.keys(doc.devices).sort(naturalCompare)) {
    const d = inventory.devices.find((x) => x.id === id && x.class === "warpdrive");
    if (d === undefined) throw new StateError(`devices.${id}: no such accelerator in ${inventory.classDir} (see wd list)`, "ENOENT");
    planDevice(d, doc.devices[id] as DeviceState, owner, options.prune === true, steps, notes);
  }
  return { steps, notes };
}

function take(s: Step, root: string): Step {
  switch (s.action) {
    case "priority":
      if (s.to === "disabled") disableDevice(s.device, { root });
      else setPriority(s.device, s.to, { root });
      return s;
    case "zone":
      setZone(s.device, s.to, { root });
      return s;
    case "create":
      return { ...s, uuid: createMdev(s.device, s.type, s.uuid === null ? { root } : { root, uuid: s.uuid }) };
    case "remove":
      removeMdev(s.uuid, { root });
      return s;
  }
}

function undo(s: Step, root: string): void {
  switch (s.action) {
    case "priority":
      if (s.from === null) throw new Error(`the priority of ${s.device} was unreadable before`);
      if (inRange(s.from)) setPriority(s.device, s.from, { root });
      else disableDevice(s.device, { root });
      return;
    case "zone":
      if (s.from === null) throw new Error(`the zone of ${s.device} was unreadable before`);
      setZone(s.device, s.from, { root });
      return;
    case "create":
      removeMdev(s.uuid as string, { root });
      return;
    case "remove":
      createMdev(s.device, s.type, { root, uuid: s.uuid });
      return;
  }
}

/**
 * Takes the steps in order. When one fails, undoes the steps this call took, newest
 * first (removes the mediated devices it created, restores priorities and zones), and
 * throws an {@link ApplyError} naming the step.
 *
 * @returns The steps as taken (a `create` carries the UUID it got).
 * @throws {ApplyError} with the failed step, its cause and what was undone.
 * @example
 * ```ts
 * import { enumerate } from "warpdrive";
 * import { applySteps, parseState, planState } from "./state.ts";
 * const doc = parseState('{ "schema": 1, "devices": {} }', "inline");
 * const done = applySteps(planState(doc, enumerate()).steps, { root: "/sys" });
 * ```
 */
export function applySteps(steps: readonly Step[], options: { readonly root?: string } = {}): Step[] {
  const root = options.root ?? "/sys";
  const done: Step[] = [];
  for (const [i, s] of steps.entries()) {
    try {
      done.push(take(s, root));
    } catch (cause) {
      const failures: string[] = [];
      const undone = [...done].reverse();
      for (const d of undone) {
        try {
          undo(d, root);
        } catch (e) {
          failures.push(`${describeStep(d)}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      throw new ApplyError({ ...s, index: i + 1, of: steps.length }, cause, undone, failures);
    }
  }
  return done;
}

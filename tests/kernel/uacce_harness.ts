// Shared code of the kernel tests that use the dummy UACCE driver (uacce_dummy.ko, on the
// UACCE framework uacce.ko, both built by the rig from scripts/rig/kmod; see
// scripts/rig/kmod/PROTOCOL_UACCE.md). They run as root inside the kernel rig, where
// WD_KMOD_DIR holds every built module; outside it, requireUacce() fails saying how to run them.
import { afterAll, beforeAll } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { attr, inRig, run } from "./kmod_harness.ts";

/** The UACCE class directory. */
export const UACCE_CLASS: string = "/sys/class/uacce";
/** The dummy driver's module (and platform driver) name. */
export const UACCE_MODULE: string = "uacce_dummy";
/** The framework's module name. */
export const UACCE_FRAMEWORK: string = "uacce";

const OUTSIDE =
  "the UACCE kernel tests run only inside the kernel rig (WD_RIG=1 is not set): use `bash scripts/rig.sh test uacce` or `npm run test:kernel`";

/** Paths of the built framework and driver modules. */
export interface UacceModules {
  readonly framework: string;
  readonly driver: string;
}

/**
 * Fails the calling test outside the rig, or when the rig built no UACCE modules.
 * @throws {Error} outside the rig, or when uacce.ko / uacce_dummy.ko are missing
 * @example const { driver } = requireUacce();
 */
export function requireUacce(): UacceModules {
  if (!inRig()) throw new Error(OUTSIDE);
  const dir = process.env["WD_KMOD_DIR"] ?? "";
  const mods = { framework: join(dir, `${UACCE_FRAMEWORK}.ko`), driver: join(dir, `${UACCE_MODULE}.ko`) };
  for (const ko of [mods.framework, mods.driver]) {
    if (dir === "" || !existsSync(ko)) {
      throw new Error(`WD_KMOD_DIR is "${dir}" and has no ${ko}: the rig built no UACCE modules (scripts/rig/kmod/Makefile, uacce.c from linux-source)`);
    }
  }
  return mods;
}

/** Whether a module is loaded. */
export function moduleLoaded(name: string): boolean {
  return existsSync(`/sys/module/${name}`);
}

/**
 * Unloads the dummy driver when loaded (the framework stays).
 * @throws {Error} when rmmod fails
 */
export function unloadUacce(): void {
  if (!moduleLoaded(UACCE_MODULE)) return;
  const r = run("rmmod", [UACCE_MODULE]);
  if (r.status !== 0) throw new Error(`rmmod ${UACCE_MODULE} failed: ${r.stderr.trim()}`);
}

/**
 * (Re)loads the dummy driver with the given parameters (none: the defaults), loading the
 * framework first when it is not loaded.
 * @throws {Error} when insmod fails
 * @example reloadUacce({ devices: 1, queues: 4 });
 */
export function reloadUacce(params: Record<string, string | number> = {}): void {
  const mods = requireUacce();
  if (!moduleLoaded(UACCE_FRAMEWORK)) {
    const r = run("insmod", [mods.framework]);
    if (r.status !== 0) throw new Error(`insmod ${mods.framework} failed: ${r.stderr.trim()}`);
  }
  unloadUacce();
  const args = [mods.driver, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
  const r = run("insmod", args);
  if (r.status !== 0) throw new Error(`insmod ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/**
 * Gives the calling suite a freshly loaded dummy driver (default parameters), then `setup`,
 * before its first test, and loads it afresh again after its last. Outside the rig it does
 * nothing: each test's requireUacce() fails there instead.
 * @example freshUacceAround();
 */
export function freshUacceAround(setup?: () => void): void {
  beforeAll(() => {
    if (!inRig()) return;
    reloadUacce();
    setup?.();
  }, 120_000);
  afterAll(() => {
    if (inRig()) reloadUacce();
  }, 60_000);
}

/** One device of the dummy driver, as its class entry shows it. */
export interface UacceDummyDevice {
  /** Class entry and /dev name, `uacce_dummy-<id>`. */
  readonly name: string;
  /** The platform device number (`uacce_dummy.<index>`): which algorithms it has. */
  readonly index: number;
  /** The `algorithms` attribute, one per line. */
  readonly algorithms: readonly string[];
}

/** The dummy driver's devices, by platform device number. */
export function uacceDummyDevices(): UacceDummyDevice[] {
  if (!existsSync(UACCE_CLASS)) return [];
  const out: UacceDummyDevice[] = [];
  for (const name of readdirSync(UACCE_CLASS)) {
    const dir = `${UACCE_CLASS}/${name}`;
    if (!existsSync(`${dir}/device/${UACCE_MODULE}/index`)) continue;
    out.push({
      name,
      index: Number(attr(`${dir}/device/${UACCE_MODULE}/index`)),
      algorithms: attr(`${dir}/algorithms`).split("\n"),
    });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * The class entry name of platform device `index`.
 * @throws {Error} when the driver has no such device
 */
export function uacceDeviceName(index: number): string {
  const d = uacceDummyDevices().find((x) => x.index === index);
  if (d === undefined) throw new Error(`no ${UACCE_MODULE}.${index} under ${UACCE_CLASS} (is ${UACCE_MODULE} loaded?)`);
  return d.name;
}

/** An attribute of a UACCE class entry, trimmed. */
export function uacceAttr(name: string, attribute: string): string {
  return attr(`${UACCE_CLASS}/${name}/${attribute}`);
}

/** A counter of the dummy driver's device (`<class entry>/device/uacce_dummy/<counter>`). */
export function uacceCounter(name: string, counter: string): number {
  return Number(attr(`${UACCE_CLASS}/${name}/device/${UACCE_MODULE}/${counter}`));
}

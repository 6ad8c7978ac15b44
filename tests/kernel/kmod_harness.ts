// Shared code of the kernel tests that use the dummy WarpDrive module (protocol_*, library_*,
// queue_api, cli_wd under tests/kernel).
// They run as root inside the kernel rig (scripts/rig.sh), where WD_KMOD_KO names the
// built wd_dummy.ko; outside it, requireRig() fails with a message saying how to run them.
import { afterAll, beforeAll } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Directory of the module sources, beside the rig that builds them. */
export const KMOD_DIR: string = fileURLToPath(new URL("../../scripts/rig/kmod/", import.meta.url)).replace(/\/$/, "");
/** The class directory the module populates. */
export const CLASS_DIR: string = "/sys/class/warpdrive";
/** Where mediated devices appear. */
export const MDEV_DIR: string = "/sys/bus/mdev/devices";
/** Name of the module (and of its parent driver). */
export const MODULE: string = "wd_dummy";

const OUTSIDE =
  "the wd_dummy kernel tests run only inside the kernel rig (WD_RIG=1 is not set): use `bash scripts/rig.sh test protocol_` or `npm run test:kernel`";

/** True inside the rig. */
export function inRig(): boolean {
  return process.env["WD_RIG"] === "1";
}

/**
 * Fails the calling test outside the rig, or when the rig built no module.
 * @throws {Error} outside the rig, or when WD_KMOD_KO is empty
 * @example requireRig();
 */
export function requireRig(): string {
  if (!inRig()) throw new Error(OUTSIDE);
  const ko = process.env["WD_KMOD_KO"] ?? "";
  if (ko === "" || !existsSync(ko)) {
    throw new Error(`WD_KMOD_KO is "${ko}": the rig built no wd_dummy.ko (scripts/rig/kmod/Makefile missing?)`);
  }
  return ko;
}

/** Result of a finished command. */
export interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion.
 * @example run("rmmod", ["wd_dummy"]);
 */
export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Reads a sysfs attribute, trimmed. */
export function attr(path: string): string {
  return readFileSync(path, "utf8").trim();
}

/** Whether the module is loaded. */
export function loaded(): boolean {
  return existsSync(`/sys/module/${MODULE}`);
}

/**
 * Unloads the module when loaded.
 * @throws {Error} when rmmod fails
 */
export function unload(): void {
  if (!loaded()) return;
  const r = run("rmmod", [MODULE]);
  if (r.status !== 0) throw new Error(`rmmod ${MODULE} failed: ${r.stderr.trim()}`);
}

/**
 * (Re)loads the module with the given parameters (none: the defaults).
 * @throws {Error} when insmod fails
 * @example reload({ devices: 5, priority: "1,2" });
 */
export function reload(params: Record<string, string | number> = {}): void {
  const ko = requireRig();
  unload();
  const args = [ko, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
  const r = run("insmod", args);
  if (r.status !== 0) throw new Error(`insmod ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/**
 * Gives the calling suite a freshly loaded module (default parameters), then `setup`, before
 * its first test, and loads it afresh again after its last, so suites never see each
 * other's mediated devices or parameters. Outside the rig it does nothing: each test's
 * requireRig() fails there instead.
 * @example freshModuleAround(() => client());
 */
export function freshModuleAround(setup?: () => void): void {
  beforeAll(() => {
    if (!inRig()) return;
    reload();
    setup?.();
  }, 120_000);
  afterAll(() => {
    if (inRig()) reload();
  }, 60_000);
}

/** Class device directories, sorted naturally. */
export function deviceNames(): string[] {
  if (!existsSync(CLASS_DIR)) return [];
  return readdirSync(CLASS_DIR).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** Path of a type directory of a device, as the spec writes it. */
export function typeDir(dev: string, algo: string): string {
  return `${CLASS_DIR}/${dev}/mdev_supported_types/${MODULE}-${algo}`;
}

/**
 * Creates a mediated device of `algo` on `dev`; returns its UUID.
 * @throws {Error} with the errno code (EUSERS, EEXIST, ...) when the kernel refuses
 */
export function createMdev(dev: string, algo: string, uuid: string = randomUUID()): string {
  writeFileSync(`${typeDir(dev, algo)}/create`, uuid);
  return uuid;
}

/** Removes a mediated device (blocks while it is open: use removeMdevAsync then). */
export function removeMdev(uuid: string): void {
  writeFileSync(`${MDEV_DIR}/${uuid}/remove`, "1");
}

/** A child process that can be awaited and killed. */
export interface Child {
  pid: number;
  /** Resolves with the first stdout line matching `re`, or rejects after `ms`. */
  line(re: RegExp, ms: number): Promise<string>;
  /** Resolves when the process exits, or rejects after `ms`. */
  exited(ms: number): Promise<Run>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts a command in the background.
 * @example const c = start("/tmp/wd_client", ["-m", "hold", uuid]);
 */
export function start(cmd: string, args: readonly string[]): Child {
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let result: Run | undefined;
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  p.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    wake();
  });
  p.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  p.on("close", (status, signal) => {
    result = { status, signal, stdout, stderr };
    wake();
  });
  const until = <T>(probe: () => T | undefined, ms: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${cmd} ${args.join(" ")}: ${what} not seen in ${ms} ms (stdout "${stdout}", stderr "${stderr}")`)),
        ms,
      );
      const check = (): void => {
        const v = probe();
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
        } else if (result !== undefined && what !== "exit") {
          clearTimeout(timer);
          reject(new Error(`${cmd} exited (${result.status ?? result.signal}) before ${what}: stdout "${stdout}", stderr "${stderr}"`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  if (p.pid === undefined) throw new Error(`cannot start ${cmd}`);
  return {
    pid: p.pid,
    line: (re, ms) => until(() => stdout.split("\n").find((l) => re.test(l)), ms, `a line matching ${re}`),
    exited: (ms) => until(() => result, ms, "exit"),
    kill: (signal) => {
      p.kill(signal);
    },
  };
}

let clientPath: string | undefined;

/**
 * Compiles scripts/rig/kmod/wd_client.c once per process into the temporary directory.
 * @throws {Error} with the compiler output when gcc fails
 */
export function client(): string {
  if (clientPath !== undefined) return clientPath;
  const out = join(tmpdir(), `wd_client-${process.pid}`);
  const r = run("gcc", ["-O2", "-Wall", "-Werror", "-o", out, join(KMOD_DIR, "wd_client.c")]);
  if (r.status !== 0) throw new Error(`gcc wd_client.c failed:\n${r.stderr}`);
  clientPath = out;
  return out;
}

/** Parses the client's `key=value ...` line. */
export function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.trim().split(/\s+/)) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/**
 * Runs the C client to completion and returns its result line's fields.
 * @throws {Error} when it prints no wd_client line
 */
export function runClient(args: readonly string[], timeoutMs = 120_000): Run & { f: Record<string, string> } {
  const r = run(client(), args, timeoutMs);
  const line = r.stdout.split("\n").find((l) => l.startsWith("wd_client "));
  return { ...r, f: line === undefined ? {} : fields(line) };
}

/** Per-mdev counter from /sys/bus/mdev/devices/<uuid>/wd_dummy/<name>. */
export function mdevCounter(uuid: string, name: string): string {
  return attr(`${MDEV_DIR}/${uuid}/${MODULE}/${name}`);
}

/** Per-device counter from /sys/class/warpdrive/<dev>/wd_dummy/<name>. */
export function devCounter(dev: string, name: string): number {
  return Number(attr(`${CLASS_DIR}/${dev}/${MODULE}/${name}`));
}

/** Polls `probe` until it returns true or `ms` pass; returns the last answer. */
export async function waitFor(probe: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (probe()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const BAD_KERNEL_LINE = /WARNING|\bBUG\b|Oops|general protection|Call Trace|refcount_t:|list_(add|del) corruption/;

/** Kernel log lines that show a kernel bug (WARNING, BUG, Oops, GPF, call traces). */
export function kernelProblems(): string[] {
  const r = run("dmesg", []);
  if (r.status !== 0) throw new Error(`dmesg failed: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter((l) => BAD_KERNEL_LINE.test(l));
}

/**
 * The `#define WD_DUMMY_V1_* value` constants of scripts/rig/kmod/wd_dummy_v1.h: numbers
 * (decimal or hex) as numbers, string literals without their quotes.
 * @example headerConstants().get("WD_DUMMY_V1_REQ_SIZE"); // 32
 */
export function headerConstants(): Map<string, number | string> {
  const out = new Map<string, number | string>();
  const text = readFileSync(join(KMOD_DIR, "wd_dummy_v1.h"), "utf8");
  for (const m of text.matchAll(/^#define\s+(WD_DUMMY_V1_\w+)\s+(\S+)\s*$/gm)) {
    const name = m[1] ?? "";
    const raw = m[2] ?? "";
    if (raw.startsWith('"')) out.set(name, raw.slice(1, -1));
    else if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(raw)) out.set(name, Number(raw));
  }
  return out;
}

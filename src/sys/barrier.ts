/**
 * The doorbell barrier: which code orders a driver's descriptor stores before the store
 * that rings the device's doorbell, and the doorbell functions built on it.
 *
 * Two backends:
 * - `"js"`: `Atomics.store` on a typed array over the mapped register. On x86-64 it is a
 *   sequentially consistent store (`xchg`, or `mov` + `mfence`), a full barrier that also
 *   drains write-combining buffers. On arm64 it is a store-release (`stlr`): it orders the
 *   earlier stores to normal memory before the doorbell for other CPUs, but it is not a
 *   `dsb st`, so the architecture does not promise that earlier stores to Device memory (a
 *   ring inside a BAR) reach the device first.
 * - `"c"`: `wd_doorbell32/64` of `c/wd_barrier.c` through koffi (build it with
 *   `bash scripts/build_barrier.sh`): `sfence` + store on x86-64, `dsb st` + store on
 *   arm64, a C11 release fence + store elsewhere.
 *
 * Policy (`"auto"`, the default): on x86-64 always `"js"`: the hardware needs no more than
 * `Atomics.store` gives, and a koffi call to `wd_doorbell32` costs 70–200 ns against 3–22 ns
 * for `Atomics.store` (measured by `scripts/bench_send.ts`). On every other architecture
 * `"c"` when the library loads (correctness for rings in device memory, paid once per
 * batch), else `"js"`, and a debug callback is told once what the fallback does and does
 * not guarantee.
 *
 * The choice is made once, on first use, and captured by each doorbell when it is created
 * (when a queue opens): `configureBarrier` changes what later doorbells use.
 *
 * @example
 * ```ts
 * import { barrierInfo, configureBarrier } from "warpdrive";
 * configureBarrier({ onDebug: (m) => console.error(m) });
 * console.log(barrierInfo().backend); // "js" on x86-64
 * ```
 *
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type BarrierLib, loadBarrierLib } from "./_ffi.ts";
import { ClosedError } from "./error.ts";
import type { MappedMemory } from "./mman.ts";

/** Which code rings doorbells: `Atomics.store` (`"js"`) or `c/wd_barrier.c` (`"c"`). */
export type BarrierBackend = "js" | "c";

/** What `configureBarrier` is asked for: a backend, or `"auto"` (the documented policy). */
export type BarrierPreference = BarrierBackend | "auto";

/** The barrier in use, and why. */
export interface BarrierInfo {
  /** The backend doorbells created from now on use. */
  readonly backend: BarrierBackend;
  /** The architecture it was chosen for (`os.arch()` names: `"x64"`, `"arm64"`, …). */
  readonly arch: string;
  /** The C library loaded, or `null` when none was (the JS backend may still be chosen with one loaded). */
  readonly library: string | null;
  /** The barrier set the library was compiled with (`"x64"`, `"arm64"`, `"portable"`), or `null`. */
  readonly libraryArch: string | null;
  /** Why this backend. */
  readonly reason: string;
  /** What ordering the doorbell guarantees with this backend. */
  readonly guarantee: string;
}

/** Options of {@link configureBarrier}. */
export interface BarrierOptions {
  /** `"auto"` (default), or force `"js"` or `"c"`. */
  readonly backend?: BarrierPreference;
  /**
   * The shared object to load; by default `WD_BARRIER_LIB`, else
   * `.cache/wd_barrier/linux-<arch>/libwd_barrier.so` in the package directory.
   */
  readonly library?: string;
  /** Receives one-line debug messages (the choice; the arm64 fallback note, once per process). */
  readonly onDebug?: (message: string) => void;
  /** The architecture to decide for; `os.arch()` by default (tests use it to check the policy). */
  readonly arch?: string;
}

/** A 32-bit doorbell: stores `value` after every earlier store, in one untorn store. */
export interface Doorbell32 {
  (value: number): void;
  /** The backend this doorbell was built with. */
  readonly backend: BarrierBackend;
}

/** A 64-bit doorbell: stores `value` after every earlier store, in one untorn store. */
export interface Doorbell64 {
  (value: bigint | number): void;
  /** The backend this doorbell was built with. */
  readonly backend: BarrierBackend;
}

const GUARANTEE: Record<string, string> = {
  "js:x64": "Atomics.store is a sequentially consistent store on x86-64 (xchg, or mov + mfence): a full barrier; every earlier store, to any memory type, is visible before the doorbell",
  "js:arm64": "Atomics.store is a store-release (stlr) on arm64: earlier stores to normal memory are ordered before the doorbell; it is not a dsb st, so earlier stores to Device memory (a ring in a BAR) are not guaranteed to reach the device first",
  "js:other": "Atomics.store is sequentially consistent in the JavaScript memory model: it orders earlier stores to normal memory; nothing is promised for device memory on this architecture",
  "c:x64": "wd_doorbell: sfence, then one store: every earlier store, including to write-combining memory, is visible before the doorbell",
  "c:arm64": "wd_doorbell: dsb st, then one store: every earlier store, to normal or Device memory, completes before the doorbell",
  "c:portable": "wd_doorbell: a C11 release fence, then one store: earlier stores to normal memory are ordered before the doorbell",
};

const ARM64_FALLBACK_NOTE =
  "warpdrive barrier: arm64 without c/wd_barrier.c (run `bash scripts/build_barrier.sh`): doorbells use Atomics.store, a store-release (stlr). " +
  "It orders earlier stores to normal memory (rings in RAM, like the dummy accelerator's) but is not a dsb st: " +
  "a device whose rings live in Device memory may see the doorbell before the descriptors";

const OTHER_FALLBACK_NOTE = (arch: string) =>
  `warpdrive barrier: ${arch} without c/wd_barrier.c (run \`bash scripts/build_barrier.sh\`): doorbells use Atomics.store, ` +
  "which orders earlier stores to normal memory only; device-memory ordering on this architecture is not guaranteed";

interface State {
  info: BarrierInfo;
  lib: BarrierLib | null;
}

let state: State | undefined;
let debug: ((message: string) => void) | undefined;
let noteDelivered = false;
let pendingNote: string | undefined;

/**
 * The package's root: the nearest ancestor of this module that holds `c/wd_barrier.c`
 * (sources or dist/). A module loaded over https (JSR) has no directory: `undefined`.
 */
function packageRoot(): string | undefined {
  if (!import.meta.url.startsWith("file:")) return undefined;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "c", "wd_barrier.c"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/**
 * Where the barrier library is looked for by default: `WD_BARRIER_LIB` when set, else
 * `.cache/wd_barrier/linux-<arch>/libwd_barrier.so` under the package directory (where
 * `scripts/build_barrier.sh` puts it).
 *
 * @returns The path (it may not exist), or `undefined` when the package directory is unknown.
 * @example
 * ```ts
 * defaultBarrierLibrary(); // ".../.cache/wd_barrier/linux-x64/libwd_barrier.so"
 * ```
 */
export function defaultBarrierLibrary(arch: string = os.arch()): string | undefined {
  const env = process.env["WD_BARRIER_LIB"];
  if (env !== undefined && env !== "") return env;
  const root = packageRoot();
  return root === undefined ? undefined : path.join(root, ".cache", "wd_barrier", `linux-${arch}`, "libwd_barrier.so");
}

/**
 * The documented policy, as a pure function: the backend for an architecture, given whether
 * the C library loaded.
 *
 * @example
 * ```ts
 * chooseBarrierBackend("x64", true).backend;    // "js"
 * chooseBarrierBackend("arm64", true).backend;  // "c"
 * chooseBarrierBackend("arm64", false).backend; // "js" (with a note)
 * ```
 */
export function chooseBarrierBackend(arch: string, libraryLoaded: boolean): { readonly backend: BarrierBackend; readonly reason: string; readonly note?: string } {
  if (arch === "x64") {
    return {
      backend: "js",
      reason: "Atomics.store is already a full barrier on x86-64, and a koffi call to the C doorbell costs 70-200 ns against 3-22 ns for Atomics.store (scripts/bench_send.ts)",
    };
  }
  if (libraryLoaded) return { backend: "c", reason: "the C doorbell puts the architecture's write barrier (dsb st on arm64) before the store" };
  return {
    backend: "js",
    reason: "the C barrier library is not built (bash scripts/build_barrier.sh), so doorbells fall back to Atomics.store",
    note: arch === "arm64" ? ARM64_FALLBACK_NOTE : OTHER_FALLBACK_NOTE(arch),
  };
}

function guaranteeOf(backend: BarrierBackend, arch: string, libraryArch: string | null): string {
  if (backend === "js") return GUARANTEE[`js:${arch === "x64" || arch === "arm64" ? arch : "other"}`] as string;
  return GUARANTEE[`c:${libraryArch ?? "portable"}`] ?? GUARANTEE["c:portable"] as string;
}

function tryLoad(file: string | undefined): { lib: BarrierLib; arch: string } | { error: string } {
  if (file === undefined) return { error: "the package directory is unknown, so there is no default library path" };
  if (!fs.existsSync(file)) return { error: `"${file}" does not exist` };
  let lib: BarrierLib;
  try {
    lib = loadBarrierLib(file);
  } catch (e) {
    return { error: `"${file}" does not load: ${e instanceof Error ? e.message : String(e)}` };
  }
  const version = lib.wd_barrier_version();
  if (version !== 1) return { error: `"${file}" has interface version ${version}, this library speaks 1: rebuild it` };
  return { lib, arch: lib.wd_barrier_arch() };
}

function say(message: string): void {
  debug?.(message);
}

function deliverNote(): void {
  if (pendingNote !== undefined && !noteDelivered && debug !== undefined) {
    noteDelivered = true;
    const note = pendingNote;
    pendingNote = undefined;
    debug(note);
  }
}

/**
 * Chooses the doorbell backend again (the first doorbell or `barrierInfo()` does it with
 * the defaults) and returns what was chosen. Doorbells already created keep their backend.
 *
 * @throws {Error} when `backend: "c"` is asked for and the library cannot be loaded (the
 *   message says where it was looked for and how to build it).
 * @throws {TypeError} on an unknown backend name.
 * @example
 * ```ts
 * configureBarrier({ backend: "c", library: ".cache/wd_barrier/linux-x64/libwd_barrier.so" });
 * ```
 */
export function configureBarrier(options: BarrierOptions = {}): BarrierInfo {
  const want = options.backend ?? "auto";
  if (want !== "auto" && want !== "js" && want !== "c") {
    throw new TypeError(`Cannot use barrier backend ${JSON.stringify(want)}: use "auto", "js" or "c"`);
  }
  if (options.onDebug !== undefined) debug = options.onDebug;
  const arch = options.arch ?? os.arch();
  const file = options.library ?? defaultBarrierLibrary(arch);
  // The JS backend needs no library; do not load one just to ignore it.
  const loaded = want === "js" ? { error: "not needed" } : tryLoad(file);
  if (want === "c" && "error" in loaded) {
    throw new Error(`Cannot use the C doorbell barrier: ${loaded.error}; build it with \`bash scripts/build_barrier.sh\` (needs a C compiler)`);
  }
  const lib = "lib" in loaded ? loaded.lib : null;
  const libraryArch = "arch" in loaded ? loaded.arch : null;
  let backend: BarrierBackend;
  let reason: string;
  if (want === "auto") {
    const choice = chooseBarrierBackend(arch, lib !== null);
    backend = choice.backend;
    reason = choice.reason;
    if (choice.note !== undefined && !noteDelivered) pendingNote = choice.note;
  } else {
    backend = want;
    reason = `asked for "${want}"`;
  }
  const info: BarrierInfo = {
    backend,
    arch,
    library: lib === null ? null : (file as string),
    libraryArch,
    reason,
    guarantee: guaranteeOf(backend, arch, libraryArch),
  };
  state = { info, lib: backend === "c" ? lib : null };
  say(`warpdrive barrier: ${backend} (${reason})`);
  deliverNote();
  return info;
}

function current(): State {
  if (state === undefined) configureBarrier();
  return state as State;
}

/**
 * The doorbell backend in use and why (deciding with the defaults on first call).
 *
 * @example
 * ```ts
 * const { backend, reason } = barrierInfo();
 * ```
 */
export function barrierInfo(): BarrierInfo {
  return current().info;
}

/**
 * A 32-bit doorbell at `offset` of a mapping, on the current backend. The caller's
 * descriptor stores made before a call are ordered before the doorbell store.
 *
 * @param mem The register mapping (read-write).
 * @param offset Byte offset of the register, 4-byte aligned.
 * @throws {RangeError} out of bounds or misaligned.
 * @throws {ClosedError} when the mapping is closed (also from the doorbell itself, later).
 * @example
 * ```ts
 * import { doorbell32, MappedMemory } from "warpdrive/sys";
 * using ctrl = MappedMemory.anonymous(4096); // a device's control page, mapped
 * const ring = doorbell32(ctrl, 0x40);
 * ring(1); // the new tail
 * ```
 */
export function doorbell32(mem: MappedMemory, offset: number): Doorbell32 {
  const cell = mem.view(Uint32Array, offset, 1); // checks bounds, alignment, closed
  const s = current();
  if (s.lib === null) {
    // Barrier: every store before the call -> the doorbell store (Atomics.store, see above).
    // The view is detached when the mapping closes, so a stale doorbell throws.
    return Object.assign((value: number): void => void Atomics.store(cell, 0, value), { backend: "js" as const });
  }
  const ring = s.lib.wd_doorbell32;
  // The address lives as long as the mapping; the closed check keeps a stale one from C.
  const address = mem.address + BigInt(offset);
  return Object.assign((value: number): void => {
    if (mem.closed) throw new ClosedError("ring a doorbell", mem.label);
    // Barrier: every store before the call -> the doorbell store (wmb inside wd_doorbell32).
    ring(address, value >>> 0);
  }, { backend: "c" as const });
}

/**
 * A 64-bit doorbell at `offset` of a mapping, on the current backend (see {@link doorbell32}).
 *
 * @param mem The register mapping (read-write).
 * @param offset Byte offset of the register, 8-byte aligned.
 * @throws {RangeError} out of bounds or misaligned.
 * @throws {ClosedError} when the mapping is closed.
 * @example
 * ```ts
 * import { doorbell64, MappedMemory } from "warpdrive/sys";
 * using ctrl = MappedMemory.anonymous(4096); // a device's control page, mapped
 * const ring = doorbell64(ctrl, 0x100);
 * ring(0x1_0000_0001n);
 * ```
 */
export function doorbell64(mem: MappedMemory, offset: number): Doorbell64 {
  const cell = mem.view(BigUint64Array, offset, 1);
  const s = current();
  if (s.lib === null) {
    // Barrier: every store before the call -> the doorbell store (Atomics.store, see above).
    return Object.assign((value: bigint | number): void => void Atomics.store(cell, 0, BigInt.asUintN(64, BigInt(value))), { backend: "js" as const });
  }
  const ring = s.lib.wd_doorbell64;
  const address = mem.address + BigInt(offset);
  return Object.assign((value: bigint | number): void => {
    if (mem.closed) throw new ClosedError("ring a doorbell", mem.label);
    // Barrier: every store before the call -> the doorbell store (wmb inside wd_doorbell64).
    ring(address, BigInt.asUintN(64, BigInt(value)));
  }, { backend: "c" as const });
}

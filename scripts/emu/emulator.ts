/**
 * The host-native `wd_dummy_v1` device: `scripts/emu/wd_emu.c` built with the host's gcc
 * into `.cache/emu/`, started as a child process on a memfd and two eventfds this process
 * creates and hands over as inherited descriptors (spawn's stdio array: fd 3 the memory,
 * 4 the completion interrupt, 5 the wake-up; the same in Bun, Node and Deno), and a
 * `DevicePort` over it, so the real `Queue` and the real `wd_dummy_v1` driver run against a
 * device that runs concurrently, natively, without the kernel module or a VM.
 *
 * The memory layout is `scripts/emu/emu_layout.h`; an IOVA is `EMU_IOVA_BASE` + the byte
 * offset in the DMA arena, and only ranges handed out by `allocDma` (and not freed) are
 * mapped for the device. Used by the unit tests (tests/unit/emu_*.test.ts) and by
 * `npm run bench:queue`; it lives under scripts/ because it needs gcc and the C sources
 * at run time, which neither the npm package nor JSR carries.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type DummyCompletion, type DummyRequest, wdDummyV1Driver } from "../../src/drivers/wd_dummy_v1.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { MFD_CLOEXEC } from "../../src/abi/libc.ts";
import type { DevicePort, QueueDmaOptions } from "../../src/queue/port.ts";
import { Queue } from "../../src/queue/queue.ts";
import type { QueueTuning } from "../../src/queue/types.ts";
import { closeAll } from "../../src/sys/error.ts";
import { EventFd } from "../../src/sys/eventfd.ts";
import { close as closeFd } from "../../src/sys/fd.ts";
import { ftruncate, MappedMemory, memfdCreate, pageSize } from "../../src/sys/mman.ts";
import { DmaBuffer, IovaAllocator } from "../../src/vfio/dma.ts";

/** The values of `emu_layout.h` (tests/unit/emu_layout.test.ts compares them). */
export const EMU = {
  CTRL_OFFSET: 0x0,
  QUEUE_OFFSET: 0x10000,
  HOST_OFFSET: 0x20000,
  ARENA_OFFSET: 0x40000,
  IOVA_BASE: 0x40000000,
  IOVA_PAGE: 4096,
  HOST_CMD: 0x00,
  HOST_SEQ: 0x04,
  HOST_ACK: 0x08,
  HOST_STATE: 0x0c,
  HOST_PID: 0x10,
  HOST_IRQ_ATTACHED: 0x14,
  HOST_IRQS: 0x18,
  HOST_IOVA_FAULTS: 0x20,
  HOST_NAPS: 0x28,
  HOST_PAGE_MAP: 0x1000,
  HOST_PAGE_MAP_MAX: 126976,
  CMD_RESET: 1,
  CMD_CLOSE: 2,
  STATE_RUNNING: 1,
  STATE_ENDED: 2,
} as const;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const ROOT: string = path.resolve(HERE, "..", "..");
const CACHE = path.join(ROOT, ".cache", "emu");
const SOURCES = ["scripts/emu/wd_emu.c", "scripts/emu/emu_layout.h", "scripts/emu/emu_client.c", "scripts/rig/kmod/wd_dummy_v1.h"];
/** How long a command to the emulator may take before it counts as gone. */
const COMMAND_TIMEOUT_MS = 5000;

/**
 * Builds `scripts/emu/<name>.c` with gcc into `.cache/emu/<name>-<hash of the sources>`
 * (once; a changed source gets a new binary) and returns its path.
 *
 * @throws {Error} One line saying how to get gcc when it is missing; gcc's messages when the build fails.
 */
export function buildEmu(name: "wd_emu" | "emu_client"): string {
  const hash = createHash("sha256");
  for (const f of SOURCES) hash.update(fs.readFileSync(path.join(ROOT, f)));
  const out = path.join(CACHE, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (fs.existsSync(out)) return out;
  const cc = process.env["CC"] ?? "gcc";
  const probe = spawnSync(cc, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(`The wd_dummy_v1 emulator is built at run time with gcc, and "${cc}" is not there: run "bash scripts/check_cc.sh" (as root it installs Debian's gcc and libc6-dev), or set CC`);
  }
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(cc, ["-O2", "-Wall", "-Wextra", "-Werror", "-I", path.join(ROOT, "scripts", "rig", "kmod"), "-o", tmp, path.join(ROOT, "scripts", "emu", `${name}.c`)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cc} scripts/emu/${name}.c failed:\n${r.stderr}`);
  fs.renameSync(tmp, out);
  return out;
}

/** Options of {@link Emulator.start}. */
export interface EmulatorOptions {
  /** The queue's algorithm: "copy" (default) or "csum". */
  readonly alg?: "copy" | "csum";
  /** Bytes of DMA arena; 4 MiB by default. */
  readonly arenaSize?: number;
  /** Microseconds the emulator busy-polls after work before it naps; 2000 by default. */
  readonly spinUs?: number;
  /** The CPU the emulator is pinned to (`wd_emu -c`); unpinned by default. */
  readonly cpu?: number;
}

/** Counters the emulator keeps in its host page. */
export interface EmulatorStats {
  readonly irqs: number;
  readonly iovaFaults: number;
  readonly naps: number;
}

/** A running emulator: one device (one queue), its port, its process. */
export class Emulator {
  readonly alg: "copy" | "csum";
  readonly arenaSize: number;
  #memfd: number;
  #child: ChildProcess;
  #exited: Promise<number | null>;
  #host: MappedMemory;
  #host32: Uint32Array;
  #irq: EventFd;
  #wake: EventFd;
  #seq = 0;
  #port: DevicePort | undefined;
  #ended = false;

  private constructor(alg: "copy" | "csum", arenaSize: number, memfd: number, child: ChildProcess, host: MappedMemory, irq: EventFd, wake: EventFd) {
    this.alg = alg;
    this.arenaSize = arenaSize;
    this.#memfd = memfd;
    this.#child = child;
    this.#host = host;
    this.#host32 = host.view(Uint32Array);
    this.#irq = irq;
    this.#wake = wake;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once("exit", (code) => resolve(code));
    });
  }

  /**
   * Builds the emulator if needed, starts it, and waits until it serves the rings.
   *
   * @throws {Error} When gcc is missing, the build fails, or the emulator does not start within 5 s.
   */
  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const alg = options.alg ?? "copy";
    const arenaSize = options.arenaSize ?? 4 << 20;
    if (alg !== "copy" && alg !== "csum") throw new RangeError(`Cannot start the emulator with alg ${JSON.stringify(alg)}: it is "copy" or "csum"`);
    if (!Number.isSafeInteger(arenaSize) || arenaSize <= 0 || arenaSize % EMU.IOVA_PAGE !== 0 || arenaSize / EMU.IOVA_PAGE > EMU.HOST_PAGE_MAP_MAX) {
      throw new RangeError(`Cannot start the emulator with an arena of ${arenaSize} bytes: it is a positive multiple of 4096 up to ${EMU.HOST_PAGE_MAP_MAX * EMU.IOVA_PAGE}`);
    }
    const bin = buildEmu("wd_emu");
    const memfd = memfdCreate("wd_emu", MFD_CLOEXEC);
    const irq = EventFd.create({ label: "emulator completion interrupt" });
    const wake = EventFd.create({ label: "emulator wake-up" });
    let host: MappedMemory | undefined;
    try {
      ftruncate(memfd, EMU.ARENA_OFFSET + arenaSize);
      host = MappedMemory.mapFile(memfd, EMU.HOST_OFFSET, EMU.ARENA_OFFSET - EMU.HOST_OFFSET, { label: "emulator host page" });
      const args = ["-a", alg, ...(options.spinUs === undefined ? [] : ["-s", String(options.spinUs)]), ...(options.cpu === undefined ? [] : ["-c", String(options.cpu)])];
      const child = spawn(bin, args, { stdio: ["pipe", "inherit", "inherit", memfd, irq.fd, wake.fd] });
      let spawnError: Error | undefined;
      child.on("error", (e) => (spawnError = e));
      // A forgotten emulator never holds the process open; it dies with it (PR_SET_PDEATHSIG).
      child.unref();
      (child.stdin as { unref?: () => void } | null)?.unref?.();
      const emu = new Emulator(alg, arenaSize, memfd, child, host, irq, wake);
      const deadline = performance.now() + COMMAND_TIMEOUT_MS;
      while (emu.#hostWord(EMU.HOST_STATE) !== EMU.STATE_RUNNING) {
        if (spawnError !== undefined || child.exitCode !== null || performance.now() > deadline) {
          emu.#kill();
          throw new Error(`The emulator ${bin} did not start within ${COMMAND_TIMEOUT_MS} ms (exit status ${child.exitCode}${spawnError ? `, ${spawnError.message}` : ""})`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      return emu;
    } catch (e) {
      closeAll("emulator start", [() => host?.close(), () => irq.close(), () => wake.close(), () => closeFd(memfd)]);
      throw e;
    }
  }

  #hostWord(off: number): number {
    return Atomics.load(this.#host32, off >>> 2);
  }

  #hostU64(off: number): number {
    return this.#host32[off >>> 2]! + this.#host32[(off >>> 2) + 1]! * 2 ** 32;
  }

  /** The emulator's process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Settles with the exit status when the emulator process has ended. */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  /** The emulator's counters. */
  stats(): EmulatorStats {
    return { irqs: this.#hostU64(EMU.HOST_IRQS), iovaFaults: this.#hostU64(EMU.HOST_IOVA_FAULTS), naps: this.#hostU64(EMU.HOST_NAPS) };
  }

  /**
   * Runs a host command and waits (synchronously, as an ioctl would) until the emulator
   * has done it.
   */
  #command(cmd: number, what: string): void {
    if (this.#ended) throw new Error(`Cannot ${what} the emulator: it has ended`);
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    Atomics.store(this.#host32, EMU.HOST_CMD >>> 2, cmd);
    Atomics.store(this.#host32, EMU.HOST_SEQ >>> 2, seq);
    this.#wake.signal();
    const deadline = performance.now() + COMMAND_TIMEOUT_MS;
    for (let i = 0; this.#hostWord(EMU.HOST_ACK) !== seq; i++) {
      if ((i & 1023) === 1023 && performance.now() > deadline) {
        throw new Error(`The emulator (pid ${this.pid}) did not ${what} within ${COMMAND_TIMEOUT_MS} ms: it is stuck or gone`);
      }
    }
  }

  /**
   * The device as the queue sees it. One port per emulator (one device file): a second
   * call is refused.
   */
  port(): DevicePort {
    if (this.#port !== undefined) throw new Error(`The emulator (pid ${this.pid}) already has its port: one queue per emulator`);
    const emu = this;
    const memfd = this.#memfd;
    const regions: MappedMemory[] = [];
    const dma = new Set<DmaBuffer>();
    const pageMap = this.#host.bytes(EMU.HOST_PAGE_MAP, this.arenaSize / EMU.IOVA_PAGE);
    const page = Math.max(pageSize(), EMU.IOVA_PAGE);
    const iovas = new IovaAllocator([{ start: BigInt(EMU.IOVA_BASE), end: BigInt(EMU.IOVA_BASE + this.arenaSize - 1) }], { alignment: BigInt(page) });
    let deviceOpen = true;
    let open = true;
    const mark = (iova: bigint, size: number, mapped: number): void => {
      const first = (Number(iova) - EMU.IOVA_BASE) / EMU.IOVA_PAGE;
      pageMap.fill(mapped, first, first + size / EMU.IOVA_PAGE);
    };
    const port: DevicePort = {
      regionCount: 2,
      mapRegion(index: number): MappedMemory {
        if (!deviceOpen) throw new Error("Cannot map a region of the emulator: its device is closed");
        const at = index === L.WD_DUMMY_V1_CTRL_REGION ? EMU.CTRL_OFFSET : index === L.WD_DUMMY_V1_QUEUE_REGION ? EMU.QUEUE_OFFSET : -1;
        if (at < 0) throw new RangeError(`The emulator has no region ${index}: it has 0 (control) and 1 (queue)`);
        const size = index === L.WD_DUMMY_V1_CTRL_REGION ? L.WD_DUMMY_V1_CTRL_SIZE : L.WD_DUMMY_V1_QUEUE_SIZE;
        const m = MappedMemory.mapFile(memfd, at, Math.ceil(size / pageSize()) * pageSize(), { label: `emulator region ${index}` });
        regions.push(m);
        return m;
      },
      allocDma(size: number, options: QueueDmaOptions = {}): DmaBuffer {
        if (!open) throw new Error("Cannot allocate DMA memory of the emulator: its port is closed");
        if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`Cannot allocate "${size}" bytes of DMA memory: size must be a positive integer`);
        const len = Math.ceil(size / page) * page;
        const iova = iovas.allocate(BigInt(len), options.addressBits === undefined ? {} : { addressBits: options.addressBits });
        let mem: MappedMemory;
        try {
          mem = MappedMemory.mapFile(memfd, EMU.ARENA_OFFSET + Number(iova) - EMU.IOVA_BASE, len, { label: `emulator DMA at 0x${iova.toString(16)}` });
        } catch (e) {
          iovas.release(iova, BigInt(len));
          throw e;
        }
        mem.bytes().fill(0);
        mark(iova, len, 1);
        const buf: DmaBuffer = new DmaBuffer(mem, iova, {
          ownsMemory: true,
          owner: {
            alive: () => open,
            unmap: (at, n) => {
              mark(at, Number(n), 0);
              iovas.release(at, n);
            },
            forget: () => void dma.delete(buf),
          },
        });
        dma.add(buf);
        return buf;
      },
      interrupt(index: number): EventFd {
        if (index !== L.WD_DUMMY_V1_IRQ_CQ) throw new RangeError(`The emulator has no interrupt ${index}: it has ${L.WD_DUMMY_V1_IRQ_CQ} (completions)`);
        if (!deviceOpen) throw new Error("Cannot attach the emulator's interrupt: its device is closed");
        Atomics.store(emu.#host32, EMU.HOST_IRQ_ATTACHED >>> 2, 1);
        return emu.#irq;
      },
      reset(): void {
        if (deviceOpen) emu.#command(EMU.CMD_RESET, "reset");
      },
      closeDevice(): void {
        if (!deviceOpen) return;
        deviceOpen = false;
        closeAll("emulator device", [
          () => Atomics.store(emu.#host32, EMU.HOST_IRQ_ATTACHED >>> 2, 0),
          () => emu.#command(EMU.CMD_CLOSE, "close"),
          ...regions.map((m) => () => m.close()),
          () => emu.#irq.close(),
        ]);
        emu.#ended = true;
      },
      close(): void {
        if (!open) return;
        if (deviceOpen) port.closeDevice();
        const left = [...dma];
        open = false;
        closeAll("emulator DMA", left.map((b) => () => b.close()));
      },
    };
    this.#port = port;
    return port;
  }

  /**
   * A queue over this emulator, through the real `wd_dummy_v1` driver, as `requestQueue`
   * would build it over a mediated device.
   */
  queue(tuning: QueueTuning = {}): Queue<DummyRequest, DummyCompletion> {
    return new Queue<DummyRequest, DummyCompletion>(
      { device: "wd_emu", type: `wd_emu-${this.alg}`, alg: this.alg, deviceApi: L.WD_DUMMY_V1_API, mdev: `wd_emu-${this.pid}`, created: false },
      { driver: wdDummyV1Driver, port: this.port(), tuning },
    );
  }

  #kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  /**
   * Ends the emulator: closes its device if a queue left it open, its memory and
   * descriptors, and waits for the process to exit (killing it after 5 s).
   */
  async close(): Promise<void> {
    const steps: (() => void)[] = [];
    // The device is still open (no queue closed it) and the process runs: the close
    // command goes first; the emulator counts as ended once it was sent, answered or not.
    if (!this.#ended && this.#child.exitCode === null && this.#child.signalCode === null) steps.push(() => this.#command(EMU.CMD_CLOSE, "close"));
    steps.push(
      () => {
        this.#ended = true;
      },
      () => this.#child.stdin?.end(),
      () => this.#host.close(),
      () => this.#irq.close(),
      () => this.#wake.close(),
      () => {
        if (this.#memfd >= 0) closeFd(this.#memfd);
        this.#memfd = -1;
      },
    );
    try {
      closeAll("emulator", steps);
    } finally {
      const timer = setTimeout(() => this.#kill(), COMMAND_TIMEOUT_MS);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * `wd bench`: requests through a real queue (`requestQueue`), `--depth` in flight, for
 * `--seconds`, then requests/s, MB/s and the latency from send to completion (p50, p99).
 * Defined once: help, options and handler together.
 *
 * The requests are the driver's: a table keyed by `device_api` (a UACCE device's `api`)
 * says which algorithms it can bench and how to make one request (the built-in
 * `wd_dummy_v1`: `copy` and `csum`; `uacce_dummy_v1`: `copy` and `crc32`).
 *
 * @module
 */
import type { UacceDummyRequest } from "../drivers/uacce_dummy_v1.ts";
import type { DummyRequest } from "../drivers/wd_dummy_v1.ts";
import { type Command, int, str, UsageError } from "./command.ts";
import { classesOf } from "./commands_tree.ts";
import { entry } from "./table.ts";
import { lazy } from "./lazy.ts";

/** A request of one of the drivers bench knows. */
export type BenchRequest = DummyRequest | UacceDummyRequest;

/** How to bench one `device_api`: the algorithms it can, and one request for a slot. */
interface RequestFormat {
  /** The algorithms, each with whether its request writes a destination buffer. */
  readonly algs: Readonly<Record<string, { readonly dst: boolean }>>;
  /** The request for `alg` (one of `algs`) over the slot's buffers. */
  readonly make: (alg: string, id: number, src: number, dst: number, len: number) => BenchRequest;
}

const FORMATS: Readonly<Record<string, RequestFormat>> = {
  wd_dummy_v1: {
    algs: { copy: { dst: true }, csum: { dst: false } },
    make: (alg, id, src, dst, len) => (alg === "copy" ? { op: "copy", id, src, dst, len } : { op: "csum", id, src, len }),
  },
  uacce_dummy_v1: {
    algs: { copy: { dst: true }, crc32: { dst: false } },
    make: (alg, id, src, dst, len) => (alg === "copy" ? { op: "copy", id, src, dst, len } : { op: "crc32", id, src, len }),
  },
};

/** What bench can do, for messages: `wd_dummy_v1 (copy, csum), uacce_dummy_v1 (copy, crc32)`. */
export function benchFormats(): string {
  return Object.entries(FORMATS).map(([api, f]) => `${api} (${Object.keys(f.algs).join(", ")})`).join(", ");
}

/** The device APIs whose requests bench can make for `alg` (empty when none). */
export function benchApisFor(alg: string): string[] {
  return Object.keys(FORMATS).filter((api) => Object.hasOwn(FORMATS[api]!.algs, alg));
}

/** One benchmark request maker, for an algorithm on a device's driver. */
export interface BenchMaker {
  /** Bytes between two slots' buffers: the source, then the destination when the request writes one. */
  readonly stride: number;
  /** The request of slot buffers at `src` (and `src + size` for a destination). */
  readonly make: (id: number, src: number) => BenchRequest;
}

/**
 * The request maker for `alg` on a device whose driver speaks `deviceApi`.
 *
 * @throws {UsageError} When bench has no request format for that algorithm on that
 *   driver, naming the device and what bench knows.
 */
export function benchMaker(alg: string, deviceApi: string, size: number, device: string): BenchMaker {
  const f = FORMATS[deviceApi];
  const a = f !== undefined && Object.hasOwn(f.algs, alg) ? f.algs[alg] : undefined;
  if (f === undefined || a === undefined) {
    const offers = f === undefined ? "bench has no request format for it at all" : `bench makes ${Object.keys(f.algs).join(", ")} requests for it`;
    throw new UsageError(`bench: cannot bench ${JSON.stringify(alg)} on ${device}: its driver is ${deviceApi} and ${offers}; wd bench knows ${benchFormats()}`);
  }
  return { stride: a.dst ? 2 * size : size, make: (id, src) => f.make(alg, id, src, src + size, size) };
}

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k] as number;
}

/** What bench uses of a queue (a `Queue`; tests wrap one to step a fake device). */
export interface BenchQueue {
  alloc(size: number): { readonly iova: bigint; bytes(): Uint8Array };
  sendBatch(requests: readonly BenchRequest[]): number;
  poll(): readonly { readonly id: number; readonly status: number; readonly statusName: string }[];
}

/** How long and how hard to bench. */
export interface BenchPlan {
  readonly alg: string;
  readonly depth: number;
  readonly seconds: number;
  /** Shown every 250 ms while it runs. */
  readonly progress?: ((text: string) => void) | undefined;
}

/** What a run measured. */
export interface BenchRun {
  /** Completions reaped (failed ones included). */
  readonly requests: number;
  /** Failed completions by status name (a completion for no request in flight counts too). */
  readonly failures: ReadonlyMap<string, number>;
  /** Wall time of the run. */
  readonly seconds: number;
  /** Send-to-reap latencies, ms, sorted. */
  readonly latenciesMs: Float64Array;
}

/**
 * Keeps `plan.depth` requests in flight for `plan.seconds` (each slot has its own source,
 * and destination when the request writes one), reaps every completion and times it.
 *
 * @throws {Error} When requests are still in flight 10 s after the run should have ended.
 */
export function benchRun(q: BenchQueue, maker: BenchMaker, plan: BenchPlan): BenchRun {
  const { alg, depth, seconds } = plan;
  const stride = maker.stride;
  const buf = q.alloc(depth * stride);
  crypto.getRandomValues(buf.bytes().subarray(0, Math.min(65536, depth * stride)));
  const base = Number(buf.iova);
  const free: number[] = [];
  for (let i = depth - 1; i >= 0; i--) free.push(i);
  const sentAt = new Float64Array(depth);
  const slotOf = new Map<number, number>();
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const reqs: BenchRequest[] = [];
  let nextId = 0, done = 0, lastShown = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (true) {
    const now = performance.now();
    if (now < end && free.length > 0) {
      reqs.length = 0;
      const pending: number[] = [];
      while (free.length > 0) {
        const s = free.pop() as number;
        const id = nextId++ >>> 0;
        slotOf.set(id, s);
        pending.push(s);
        reqs.push(maker.make(id, base + s * stride));
      }
      const sent = q.sendBatch(reqs);
      for (let k = 0; k < pending.length; k++) {
        if (k < sent) sentAt[pending[k] as number] = now;
        else {
          slotOf.delete((reqs[k] as BenchRequest).id);
          free.push(pending[k] as number);
        }
      }
    }
    if (slotOf.size === 0 && now >= end) break;
    const got = q.poll();
    const at = performance.now();
    for (const c of got) {
      const s = slotOf.get(c.id);
      if (s === undefined) {
        failures.set(c.statusName, (failures.get(c.statusName) ?? 0) + 1);
        continue;
      }
      slotOf.delete(c.id);
      latencies.push(at - (sentAt[s] as number));
      if (c.status !== 0) failures.set(c.statusName, (failures.get(c.statusName) ?? 0) + 1);
      free.push(s);
      done++;
    }
    if (plan.progress !== undefined && at - lastShown > 250) {
      lastShown = at;
      const el = (at - t0) / 1000;
      plan.progress(`${alg}: ${done} requests in ${el.toFixed(1)} s, ${Math.round(done / el)} req/s`);
    }
    if (at - end > 10_000) throw new Error(`bench: ${slotOf.size} request(s) never completed, 10 s after the run ended`);
  }
  return { requests: done, failures, seconds: (performance.now() - t0) / 1000, latenciesMs: Float64Array.from(latencies).sort() };
}

const bench: Command = {
  ...entry("bench"),
  details: `Opens a queue as an application would (the inquiry of wd pick: a mediated device
through VFIO, root or access to /dev/vfio; or a UACCE device's char device), keeps --depth
requests of --size bytes in flight for --seconds, and checks every completion's status.
Latency is from the send to the poll that reaped the completion. A progress line is shown
while it runs when stdout is a terminal. Only devices whose driver bench can make requests
for are chosen: device_api wd_dummy_v1 (copy, csum) and UACCE api uacce_dummy_v1 (copy,
crc32; buffers come from the device's arena, so --depth x --size is bounded by it).`,
  options: {
    alg: { type: "string", value: "NAME", required: true, help: "the algorithm" },
    size: { type: "string", value: "B", help: "bytes per request (default 4096)" },
    depth: { type: "string", value: "N", help: "requests in flight (default 16)" },
    seconds: { type: "string", value: "S", help: "how long to run (default 3)" },
    class: {
      type: "string",
      multiple: true,
      choices: ["warpdrive", "uacce"],
      help: "only devices of this class (repeatable, or a comma list; default both)",
    },
    api: { type: "string", multiple: true, value: "API", help: "accept this device_api (repeatable; default: those bench knows for --alg)" },
    "allow-create": { type: "boolean", help: "create a mediated device when none is free (removed afterwards)" },
    explain: { type: "boolean", help: "when no queue can be had: every candidate, and why" },
  },
  args: [],
  sysfs: true,
  async run(ctx) {
    const alg = str(ctx.values, "alg");
    if (alg === undefined || alg.trim() === "") throw new UsageError("bench needs --alg NAME (see wd help bench)");
    const size = int("--size", str(ctx.values, "size") ?? "4096", [1, 1 << 20]);
    const depth = int("--depth", str(ctx.values, "depth") ?? "16", [1, 4096]);
    const secText = str(ctx.values, "seconds") ?? "3";
    const seconds = Number(secText);
    if (!/^\d+(\.\d+)?$/.test(secText) || !(seconds > 0) || seconds > 3600) {
      throw new UsageError(`--seconds ${JSON.stringify(secText)}: give a number of seconds above 0, at most 3600`);
    }
    const classes = classesOf(ctx.values);
    const given = Array.isArray(ctx.values["api"]) ? ctx.values["api"] : undefined;
    const apis = given ?? benchApisFor(alg);
    if (apis.length === 0) throw new UsageError(`bench: no driver bench knows makes ${JSON.stringify(alg)} requests; wd bench knows ${benchFormats()}`);
    const { requestQueue } = await lazy<typeof import("../queue/request.ts")>("../queue/request.ts", import.meta.url);
    const q = await requestQueue<BenchRequest, { id: number; status: number; statusName: string }>({
      alg,
      root: ctx.root(),
      allowCreate: ctx.values["allow-create"] === true,
      apis,
      ...(classes === undefined ? {} : { classes }),
    });
    try {
      const where = `${q.device}/${q.type}`;
      const maker = benchMaker(alg, q.deviceApi, size, where);
      const run = benchRun(q, maker, { alg, depth, seconds, progress: ctx.io.progress });
      if (ctx.io.progress !== undefined) ctx.io.progress("");
      const done = run.requests;
      const failed = [...run.failures.values()].reduce((a, b) => a + b, 0);
      const result = {
        alg,
        class: q.class,
        device: q.device,
        type: q.type,
        mdev: q.mdev,
        deviceApi: q.deviceApi,
        size,
        depth,
        seconds: Number(run.seconds.toFixed(3)),
        requests: done,
        failed,
        requestsPerSecond: Math.round(done / run.seconds),
        mbPerSecond: Number(((done * size) / run.seconds / 1e6).toFixed(2)),
        latencyUs: { p50: Math.round(percentile(run.latenciesMs, 50) * 1000), p99: Math.round(percentile(run.latenciesMs, 99) * 1000) },
      };
      if (failed > 0) {
        const kinds = [...run.failures].map(([k, n]) => `${n} ${k}`).join(", ");
        throw new Error(`bench: ${failed} of ${done} request(s) failed on ${where} (${kinds}); try another --size`);
      }
      const text = [
        `${alg} on ${where} (${q.class === "uacce" ? q.mdev : `mdev ${q.mdev}`}): ${size} B x ${depth} in flight, ${result.seconds} s`,
        `  ${done} requests, ${result.requestsPerSecond} req/s, ${result.mbPerSecond} MB/s`,
        `  latency p50 ${result.latencyUs.p50} us, p99 ${result.latencyUs.p99} us`,
      ].join("\n");
      return { json: result, text };
    } finally {
      q.release();
    }
  },
};

/** The `bench` command. */
export const BENCH_COMMAND: Command = bench;

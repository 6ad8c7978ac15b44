/**
 * `wd bench`: requests through a real queue (`requestQueue`), `--depth` in flight, for
 * `--seconds`, then requests/s, MB/s and the latency from send to completion (p50, p99).
 * Defined once: help, options and handler together.
 *
 * The requests are the driver's: a table keyed by `device_api` says how to make one for an
 * algorithm (the built-in `wd_dummy_v1`: `copy` and `csum`).
 *
 * @module
 */
import type { DummyRequest } from "../drivers/wd_dummy_v1.ts";
import { type Command, int, str, UsageError } from "./command.ts";
import { entry } from "./table.ts";

/** How to make benchmark requests for one `device_api`: a request per slot, or why not. */
type RequestMaker = (alg: string, id: number, src: number, dst: number, len: number) => DummyRequest | undefined;

const MAKERS: Readonly<Record<string, RequestMaker>> = {
  wd_dummy_v1: (alg, id, src, dst, len) =>
    alg === "copy" ? { op: "copy", id, src, dst, len } : alg === "csum" ? { op: "csum", id, src, len } : undefined,
};

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k] as number;
}

const bench: Command = {
  ...entry("bench"),
  details: `Opens a queue as an application would (the inquiry of wd pick, then VFIO; root or
access to /dev/vfio), keeps --depth requests of --size bytes in flight for --seconds, and
checks every completion's status. Latency is from the send to the poll that reaped the
completion. A progress line is shown while it runs when stdout is a terminal. Request
formats are known for device_api wd_dummy_v1 (copy, csum).`,
  options: {
    alg: { type: "string", value: "NAME", required: true, help: "the algorithm" },
    size: { type: "string", value: "B", help: "bytes per request (default 4096)" },
    depth: { type: "string", value: "N", help: "requests in flight (default 16)" },
    seconds: { type: "string", value: "S", help: "how long to run (default 3)" },
    api: { type: "string", multiple: true, value: "API", help: "accept this device_api (repeatable)" },
    "allow-create": { type: "boolean", help: "create a mediated device when none is free (removed afterwards)" },
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
    const { requestQueue } = await import("../queue/request.ts");
    const apis = Array.isArray(ctx.values["api"]) ? ctx.values["api"] : undefined;
    const q = await requestQueue<DummyRequest, { id: number; status: number; statusName: string }>({
      alg,
      root: ctx.root(),
      allowCreate: ctx.values["allow-create"] === true,
      ...(apis === undefined ? {} : { apis }),
    });
    try {
      const make = MAKERS[q.deviceApi];
      if (make === undefined || make(alg, 0, 0, 0, size) === undefined) {
        throw new UsageError(`bench: no request format for ${JSON.stringify(alg)} on device_api ${q.deviceApi}; wd bench knows ${Object.keys(MAKERS).join(", ")} (copy, csum)`);
      }
      const stride = 2 * size;
      const buf = q.alloc(depth * stride);
      crypto.getRandomValues(buf.bytes().subarray(0, Math.min(65536, depth * stride)));
      const base = Number(buf.iova);
      const free: number[] = [];
      for (let i = depth - 1; i >= 0; i--) free.push(i);
      const sentAt = new Float64Array(depth);
      const slotOf = new Map<number, number>();
      const latencies: number[] = [];
      const failures = new Map<string, number>();
      const reqs: DummyRequest[] = [];
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
            reqs.push(make(alg, id, base + s * stride, base + s * stride + size, size) as DummyRequest);
          }
          const sent = q.sendBatch(reqs);
          for (let k = 0; k < pending.length; k++) {
            if (k < sent) sentAt[pending[k] as number] = now;
            else {
              slotOf.delete((reqs[k] as DummyRequest).id);
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
        if (ctx.io.progress !== undefined && at - lastShown > 250) {
          lastShown = at;
          const el = (at - t0) / 1000;
          ctx.io.progress(`${alg}: ${done} requests in ${el.toFixed(1)} s, ${Math.round(done / el)} req/s`);
        }
        if (at - end > 10_000) throw new Error(`bench: ${slotOf.size} request(s) never completed, 10 s after the run ended`);
      }
      const elapsed = (performance.now() - t0) / 1000;
      if (ctx.io.progress !== undefined) ctx.io.progress("");
      const sorted = Float64Array.from(latencies).sort();
      const failed = [...failures.values()].reduce((a, b) => a + b, 0);
      const result = {
        alg,
        device: q.device,
        type: q.type,
        mdev: q.mdev,
        deviceApi: q.deviceApi,
        size,
        depth,
        seconds: Number(elapsed.toFixed(3)),
        requests: done,
        failed,
        requestsPerSecond: Math.round(done / elapsed),
        mbPerSecond: Number(((done * size) / elapsed / 1e6).toFixed(2)),
        latencyUs: { p50: Math.round(percentile(sorted, 50) * 1000), p99: Math.round(percentile(sorted, 99) * 1000) },
      };
      if (failed > 0) {
        const kinds = [...failures].map(([k, n]) => `${n} ${k}`).join(", ");
        throw new Error(`bench: ${failed} of ${done} request(s) failed on ${q.device}/${q.type} (${kinds}); try another --size`);
      }
      const text = [
        `${alg} on ${q.device}/${q.type} (mdev ${q.mdev}): ${size} B x ${depth} in flight, ${result.seconds} s`,
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

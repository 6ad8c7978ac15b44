// The reactor under each runtime (Node and Deno on the build, Bun on the sources): 1,000
// concurrent eventfd waits signalled in random order all resolve, with one koffi async
// call outstanding, while timers and fs.promises keep their pace; the numbers are printed
// for the record. Once they resolved, no call is outstanding; once their eventfds are closed,
// none of their fds is left in the epoll set.
import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { EventFd, reactor } from "warpdrive/sys";

const runtime = globalThis.Bun !== undefined ? "bun" : globalThis.Deno !== undefined ? "deno" : "node";

test("1,000 concurrent waits resolve, with one async call, while timers and fs.promises keep their pace", async () => {
  const N = 1000;
  const efds = Array.from({ length: N }, () => EventFd.create());
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "wd-smoke-reactor-"));
  try {
    const signalled = new Array(N).fill(0);
    const latency = new Array(N).fill(0);
    const waits = efds.map((e, i) => e.wait({ timeout: 60_000 }).then((n) => ((latency[i] = performance.now() - signalled[i]), n)));
    assert.equal(reactor().stats.waits, N);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const f = path.join(dir, `f${i}`);
      await fsp.writeFile(f, String(i));
      assert.equal(await fsp.readFile(f, "utf8"), String(i));
    }
    const fsMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(timer);
    const elapsed = performance.now() - t0;
    const order = [...Array(N).keys()].sort(() => Math.random() - 0.5);
    for (let k = 0; k < N; k += 10) {
      await new Promise((r) => setTimeout(r, 0));
      for (const i of order.slice(k, k + 10)) {
        signalled[i] = performance.now();
        efds[i].signal(i + 1);
      }
    }
    const values = await Promise.all(waits);
    assert.deepEqual(values, efds.map((_, i) => i + 1));
    const s = [...latency].sort((a, b) => a - b);
    console.log(
      `${runtime}: 1,000 waits, wake-up p50 ${s[N / 2].toFixed(2)} ms p99 ${s[Math.floor(N * 0.99)].toFixed(2)} ms max ${s[N - 1].toFixed(2)} ms; ` +
        `20 fs rounds ${fsMs.toFixed(1)} ms; ${ticks} of ${Math.floor(elapsed / 10)} timer ticks; epoll_wait calls ${reactor().stats.calls}, most outstanding ${reactor().stats.maxOutstanding}`,
    );
    assert.ok(s[N - 1] < 1000, `slowest wake-up ${s[N - 1]} ms`);
    assert.ok(fsMs < 10_000, `fs rounds took ${fsMs} ms`);
    assert.ok(ticks >= Math.floor(elapsed / 10 / 3), `${ticks} ticks in ${elapsed} ms`);
    assert.equal(reactor().stats.maxOutstanding, 1);
    // Idle: no call outstanding, though the fds last waited on linger in the epoll set
    // until they are closed.
    assert.deepEqual([reactor().stats.waits, reactor().stats.outstanding, reactor().stats.fds > 0], [0, false, true]);
    for (const e of efds) e.close();
    assert.deepEqual([reactor().stats.fds, reactor().stats.lingering], [0, 0]);
  } finally {
    for (const e of efds) e.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

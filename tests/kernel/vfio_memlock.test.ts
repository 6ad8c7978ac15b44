// Who enforces RLIMIT_MEMLOCK for DMA: the kernel, where it pins. A process without
// CAP_IPC_LOCK and with a 64 KiB limit maps 1 MiB for DMA, once on QEMU's edu (a PCI
// device behind a real IOMMU: VFIO_IOMMU_MAP_DMA pins the pages and accounts them) and
// once on a dummy WarpDrive mediated device (an emulated IOMMU: nothing is pinned at map
// time, the module reaches memory through vfio_dma_rw). The library adds no check of its
// own: on edu the kernel's ENOMEM comes back explained; on the mdev the queue works, which
// a library-side pre-check would have refused. Runs as root inside the kernel rig.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { eduBdf } from "./edu_device.ts";

const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));
const VFIO = fileURLToPath(new URL("../../src/vfio/mod.ts", import.meta.url));
const LIMIT = 64 * 1024;

type Outcome = { ok?: boolean; name?: string; code?: string; message?: string; status?: string; locked?: string };

/** Runs `code` in a Bun process with RLIMIT_MEMLOCK at 64 KiB and no CAP_IPC_LOCK. */
function limited(code: string): Outcome {
  const r = spawnSync(
    "prlimit",
    [`--memlock=${LIMIT}:${LIMIT}`, "setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--", process.execPath, "-e", code],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (r.error) throw new Error(`cannot run prlimit/setpriv: ${r.error.message}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Outcome;
  } catch {
    throw new Error(`the limited process printed no result (status ${r.status}): ${r.stdout} ${r.stderr}`);
  }
}

const REPORT = `(e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message }))`;

describe("RLIMIT_MEMLOCK and DMA", () => {
  test("the limited process really lacks CAP_IPC_LOCK and has the 64 KiB limit", () => {
    const r = limited(`
      const s = require("node:fs").readFileSync("/proc/self/status", "utf8");
      const cap = BigInt("0x" + /^CapEff:\\s+(\\w+)/m.exec(s)[1]);
      const lim = require("node:fs").readFileSync("/proc/self/limits", "utf8").split("\\n").find((l) => l.startsWith("Max locked memory"));
      console.log(JSON.stringify({ ok: ((cap >> 14n) & 1n) === 0n, status: lim.replace(/\\s+/g, " ") }));`);
    expect(r.ok).toBe(true);
    expect(r.status).toContain(`Max locked memory ${LIMIT} ${LIMIT} bytes`);
  });

  test("edu (pinned by MAP_DMA): the kernel refuses 1 MiB with ENOMEM, and the error says how to raise the limit", () => {
    const bdf = eduBdf();
    const r = limited(`
      import { Container } from ${JSON.stringify(VFIO)};
      const c = Container.open();
      try {
        c.openDevice(${JSON.stringify(bdf)});
        c.allocDma(1 << 20, { addressBits: 28 });
        console.log(JSON.stringify({ ok: true }));
      } catch (e) { (${REPORT})(e); } finally { c.close(); }`);
    expect(r.ok).toBeUndefined();
    expect(r.name).toBe("SyscallError"); // the kernel's answer, not a library-side refusal
    expect(r.code).toBe("ENOMEM");
    expect(r.message).toContain("VFIO_IOMMU_MAP_DMA");
    expect(r.message).toContain("RLIMIT_MEMLOCK 64 KiB");
    expect(r.message).toContain("ulimit -l");
  });

  test("a dummy mdev (emulated IOMMU, nothing pinned): 1 MiB maps and a copy through it completes", () => {
    const r = limited(`
      import { requestQueue } from ${JSON.stringify(MOD)};
      try {
        const q = await requestQueue({ alg: "copy", allowCreate: true });
        try {
          const b = q.alloc(1 << 20);
          const bytes = b.bytes();
          for (let i = 0; i < 256; i++) bytes[i] = i;
          q.send({ op: "copy", id: 7, src: b.iova, dst: b.iova + BigInt((1 << 20) - 256), len: 256 });
          const c = await q.wait({ timeout: 30000 });
          let same = true;
          for (let i = 0; i < 256; i++) if (bytes[(1 << 20) - 256 + i] !== i) same = false;
          console.log(JSON.stringify({ ok: c.id === 7 && c.status === 0 && same, status: c.statusName }));
        } finally { q.release(); }
      } catch (e) { (${REPORT})(e); }`);
    expect(r).toEqual({ ok: true, status: "ok" });
  });
});

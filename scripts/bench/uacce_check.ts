#!/usr/bin/env bun
/**
 * The cost of a UACCE queue's removal check (`UacceQueueFd.check`, made before every
 * submit, poll and arm), against the way it was made before `ioctlErrno`: the same
 * START_Q probe through the throwing `ioctl`, its expected EINVAL caught as a
 * `SyscallError`. Numbers, not a test.
 *
 *   bun scripts/bench/uacce_check.ts [--calls 20000] [--rounds 7] [--device uacce_dummy-0]
 *
 * With the device's char device present (inside the kernel rig, which loads the dummy
 * driver: `bash scripts/rig.sh run -- node_modules/.bin/bun scripts/bench/uacce_check.ts`)
 * it opens one queue and times, per call:
 * - `check`: `UacceQueueFd.check()`, the errno-returning probe;
 * - `throwing probe`: START_Q through `ioctl`, the EINVAL caught (the former check);
 * - `ioctlErrno`: the bare probe, the system call's floor.
 * Without the device (any machine) it times the same two ways of failing on a memfd
 * (TCGETS: ENOTTY), which shows the cost of the exception without the driver.
 * Rounds are interleaved; the median of the rounds is printed in ns per call.
 */
import { existsSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { UACCE_CMD_START_Q } from "../../src/abi/uacce.ts";
import { errorCode } from "../../src/sys/errno.ts";
import { ioctl, ioctlErrno } from "../../src/sys/fd.ts";
import { MFD_CLOEXEC } from "../../src/abi/libc.ts";
import { memfdCreate } from "../../src/sys/mman.ts";
import { UacceQueueFd } from "../../src/uacce/queue_fd.ts";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "20000" },
    rounds: { type: "string", default: "7" },
    device: { type: "string", default: "uacce_dummy-0" },
  },
});
const calls = Number(values.calls);
const rounds = Number(values.rounds);
if (!Number.isInteger(calls) || calls < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`uacce_check: --calls ${values.calls} --rounds ${values.rounds}: give whole numbers above 0`);
  process.exit(2);
}

/** ns per call of `f` over `calls` calls. */
function time(f: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) f();
  return Number(process.hrtime.bigint() - t0) / calls;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function throwingProbe(fd: number, request: number, expected: string, op: string, path: string): () => void {
  return () => {
    try {
      ioctl(fd, request, undefined, { op, path });
    } catch (e) {
      if (errorCode(e) !== expected) throw e;
      return;
    }
  };
}

const devPath = `/dev/${values.device}`;
const cases: [string, () => void][] = [];
let queue: UacceQueueFd | undefined;
let where: string;
if (existsSync(devPath)) {
  queue = UacceQueueFd.open(values.device, { regionSizes: [null, null] });
  const q = queue;
  const fd = q.fd;
  where = `${devPath}: START_Q on a started queue (EINVAL)`;
  cases.push(
    ["check", () => q.check("benchmark")],
    ["throwing probe", throwingProbe(fd, UACCE_CMD_START_Q, "EINVAL", "UACCE_CMD_START_Q", devPath)],
    ["ioctlErrno", () => void ioctlErrno(fd, UACCE_CMD_START_Q)],
  );
} else {
  const fd = memfdCreate("uacce_check", MFD_CLOEXEC);
  const TCGETS = 0x5401;
  where = `no ${devPath}: TCGETS on a memfd (ENOTTY), x86/Arm request number`;
  cases.push(
    ["throwing probe", throwingProbe(fd, TCGETS, "ENOTTY", "TCGETS", "memfd")],
    ["ioctlErrno", () => void ioctlErrno(fd, TCGETS)],
  );
}

const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, f] of cases) time(f); // warm-up
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? cases : [...cases].reverse();
  for (const [name, f] of order) samples.get(name)!.push(time(f));
}
queue?.release();

console.log(`${where}; ${process.versions.bun === undefined ? `node ${process.version}` : `bun ${process.versions.bun}`}; ${calls} calls x ${rounds} rounds, median ns per call`);
for (const [name, xs] of samples) {
  console.log(`  ${name.padEnd(16)} ${median(xs).toFixed(0).padStart(7)} ns   (rounds: ${xs.map((x) => x.toFixed(0)).join(" ")})`);
}

// A child process for protocol_uacce.test.ts: holds a started, mapped uacce_dummy queue
// while the parent unloads the driver, then reports what the file does afterwards and
// finally touches the former mapping, which must kill it with SIGBUS. It runs apart
// from the test runner so that signal cannot take the runner down.
//
//   bun tests/kernel/uacce_holder.ts <class entry name, e.g. uacce_dummy-0>
//
// Prints one `key=value` line per step: `ready` once the queue served a request, then
// (after the class entry went away) `startq=`, `putq=`, `poll=`, `devnode=`, `touching`,
// and `survived` only if the access did not fault.
import { existsSync } from "node:fs";
import process from "node:process";
import {
  _IO,
  Fd,
  MappedMemory,
  O_CLOEXEC,
  O_RDWR,
  pageSize,
  POLLIN,
  pollNow,
  SyscallError,
} from "../../src/sys/mod.ts";
import * as L from "../../src/drivers/uacce_dummy_v1_layout.ts";

const name = process.argv[2] ?? "";
if (!/^[\w.-]+$/.test(name)) {
  console.error(`usage: uacce_holder.ts <uacce class entry>, not "${name}"`);
  process.exit(2);
}

function code(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof SyscallError ? e.code : String(e);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const fd = Fd.open(`/dev/${name}`, O_RDWR | O_CLOEXEC);
fd.ioctl(_IO("W", 0), undefined, "UACCE_CMD_START_Q");
const mmio = MappedMemory.mapFile(fd.fd, L.UACCE_DUMMY_V1_QFRT_MMIO * pageSize(), L.UACCE_DUMMY_V1_MMIO_SIZE);
const dus = MappedMemory.mapFile(fd.fd, L.UACCE_DUMMY_V1_QFRT_DUS * pageSize(), L.UACCE_DUMMY_V1_DUS_SIZE);
const regs = mmio.view(Uint32Array, 0, L.UACCE_DUMMY_V1_MMIO_SIZE / 4);

// One nop, so the queue is known to work before the driver goes.
dus.write16(L.UACCE_DUMMY_V1_SQ_OFFSET + L.UACCE_DUMMY_V1_REQ_OFF_OPCODE, L.UACCE_DUMMY_V1_OP_NOP);
dus.write32(L.UACCE_DUMMY_V1_SQ_OFFSET + L.UACCE_DUMMY_V1_REQ_OFF_ID, 7);
Atomics.store(regs, L.UACCE_DUMMY_V1_REG_DOORBELL / 4, 1);
for (let i = 0; Atomics.load(regs, L.UACCE_DUMMY_V1_REG_CQ_TAIL / 4) !== 1; i++) {
  if (i > 3000) {
    console.log("error=no completion of the first request");
    process.exit(1);
  }
  await sleep(10);
}
const status = dus.read16(L.UACCE_DUMMY_V1_CQ_OFFSET + L.UACCE_DUMMY_V1_CPL_OFF_STATUS);
console.log(`ready status=${status} poll=${pollNow(fd.fd, POLLIN)}`);

for (let i = 0; existsSync(`/sys/class/uacce/${name}`); i++) {
  if (i > 6000) {
    console.log("error=the class entry did not go away");
    process.exit(1);
  }
  await sleep(10);
}
console.log(`startq=${code(() => fd.ioctl(_IO("W", 0), undefined, "UACCE_CMD_START_Q"))}`);
console.log(`putq=${code(() => fd.ioctl(_IO("W", 1), undefined, "UACCE_CMD_PUT_Q"))}`);
console.log(`poll=${pollNow(fd.fd, POLLIN)}`);
console.log(`devnode=${existsSync(`/dev/${name}`)}`);
console.log("touching");
// Must fault: the driver is gone and its pages were torn out of this process.
const magic = Atomics.load(regs, L.UACCE_DUMMY_V1_REG_MAGIC / 4);
console.log(`survived magic=${magic}`);
process.exit(0);

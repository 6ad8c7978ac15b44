// Opens QEMU's edu device through VFIO, maps BAR0 and prints its identification register
// as one JSON line. Run inside the kernel rig by tests/kernel/runtimes_vfio.test.ts under
// Node (the build in dist/, through package.json "exports") and Deno (the sources, through
// the import map deno_sources.json that mirrors jsr.json). Not a test file itself.
import process from "node:process";
import { Container, VFIO_PCI_BAR0_REGION_INDEX } from "warpdrive/vfio";

const bdf = process.env["WD_EDU_BDF"];
if (!bdf) throw new Error("WD_EDU_BDF is not set: run this inside the kernel rig (bash scripts/rig.sh)");

const container = Container.open();
try {
  const device = container.openDevice(bdf);
  const bar0 = device.region(VFIO_PCI_BAR0_REGION_INDEX).map();
  const id = bar0.read32(0);
  // A register that reads back the bitwise inverse of what is written.
  bar0.write32(4, 0x12345678);
  const liveness = bar0.read32(4);
  container.close(); // closes the device and unmaps BAR0 first
  let closed = "";
  try {
    bar0.read32(0);
  } catch (e) {
    closed = e instanceof Error ? e.name : String(e);
  }
  process.stdout.write(`${JSON.stringify({ module: import.meta.resolve("warpdrive/vfio"), device: device.name, id, liveness, closed })}\n`);
} finally {
  container.close();
}

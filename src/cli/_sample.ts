/**
 * The tree `wd sample DIR` writes: three WarpDrive accelerators (two algorithms, one
 * disabled device, one malformed attribute) and two UACCE devices (one offering two
 * algorithms in the 6.2 layout, one with no free queue in the 6.1 layout), for trying `wd`
 * without an accelerator.
 *
 * @module
 */
import { makeSysfs } from "../sysfs/fixture.ts";

/** Writes the sample tree into `dir` (new or empty) and keeps it there. */
export function writeSample(dir: string): void {
  makeSysfs({
    dir,
    devices: [
      {
        id: "wd_dummy0",
        zoneId: 0,
        priority: 0,
        types: [
          { name: "copy", flags: 0x103, throughput: 20, latency: 5, mdevs: ["83b8f4f2-509f-482f-8c1e-e6bfe0fa1001"] },
          { name: "csum", flags: 0x201, throughput: 10, latency: 10 },
        ],
      },
      {
        id: "wd_dummy1",
        zoneId: 1,
        priority: -10,
        types: [
          { name: "copy", flags: 0x103, throughput: 10, latency: 10 },
          { name: "csum", flags: "0xzz" },
        ],
      },
      { id: "wd_dummy2", zoneId: 1, priority: 150, types: [{ name: "copy", flags: 0x3, mdevs: ["0f0e0d0c-0b0a-4908-8706-050403020100"] }] },
    ],
    uacce: [
      { id: "uacce_dummy-0", layout: "6.2", algorithms: ["copy", "crc32"], numaNode: 0, availableInstances: 2 },
      { id: "uacce_dummy-1", layout: "6.1", algorithms: ["crc32"], availableInstances: 0 },
    ],
  });
}

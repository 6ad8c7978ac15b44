#!/usr/bin/env bun
/**
 * Writes a small sample WarpDrive sysfs tree (three accelerators, two algorithms, one
 * disabled device, one broken attribute) and prints its root, for trying `wd` without
 * an accelerator:
 *
 *   npx bun scripts/sample_sysfs.ts /tmp/wd-sample
 *   npx wd list --sysfs /tmp/wd-sample
 */
import * as fs from "node:fs";
import { makeSysfs } from "../src/sysfs/fixture.ts";

const dir = process.argv[2];
if (dir === undefined || dir.startsWith("-")) {
  process.stderr.write("usage: bun scripts/sample_sysfs.ts DIR   (writes a sample tree into the new or empty DIR)\n");
  process.exit(dir === "--help" || dir === "-h" ? 0 : 2);
}
if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
  process.stderr.write(`sample_sysfs: ${dir} is not empty; give a new or empty directory\n`);
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
makeSysfs({
  dir,
  devices: [
    {
      id: "wd_dummy0",
      zoneId: 0,
      priority: 0,
      types: [
        { name: "copy", flags: 0x103, throughput: 20, latency: 5, mdevs: ["83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"] },
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
});
process.stdout.write(`${dir}\n`);

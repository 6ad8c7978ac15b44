/**
 * wdev/iommu on the real kernel: the kernel's offered IOMMU types come from
 * VFIO_CHECK_EXTENSION, a device declaring a type the kernel does not offer is rejected
 * with that reason, and the queue opens with the type the device declares (the dummy
 * module declares VFIO_TYPE1v2_IOMMU). Runs inside the rig.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { enumerate, NoAcceleratorError, probeIommuTypes, requestQueue, select } from "../../mod.ts";
import { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from "../../src/vfio/mod.ts";
import { createMdev, inRig, reload, requireRig } from "./kmod_harness.ts";

describe("wdev/iommu", () => {
  beforeAll(() => {
    if (!inRig()) return;
    reload();
    createMdev("wd_dummy0", "copy");
  }, 120_000);
  afterAll(() => {
    if (inRig()) reload();
  }, 60_000);

  test("the kernel offers TYPE1 and TYPE1v2, and every dummy device declares TYPE1v2", () => {
    requireRig();
    const offered = probeIommuTypes("/dev");
    expect(offered).toContain(VFIO_TYPE1v2_IOMMU);
    expect(offered).toContain(VFIO_TYPE1_IOMMU);
    for (const d of enumerate({ classes: ["warpdrive"] }).devices) expect([d.id, d.iommu]).toEqual([d.id, VFIO_TYPE1v2_IOMMU]);
  });

  test("a declared type the kernel does not offer is rejected with that reason", async () => {
    requireRig();
    const inv = enumerate({ alg: "copy", classes: ["warpdrive"] });
    let err: unknown;
    try {
      select(inv, { alg: "copy", iommuTypes: [VFIO_TYPE1_IOMMU], apis: ["wd_dummy_v1"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoAcceleratorError);
    expect((err as NoAcceleratorError).candidates.every((c) => c.accepted || c.name !== "copy" || c.reason.includes("does not offer"))).toBe(true);
    await expect(requestQueue({ alg: "copy", classes: ["warpdrive"], iommuTypes: [VFIO_TYPE1_IOMMU] })).rejects.toThrow(/does not offer/);
  });

  test("the queue opens with the declared type when the kernel offers it", async () => {
    requireRig();
    await using q = await requestQueue({ alg: "copy", classes: ["warpdrive"] });
    expect(q.mdev).toMatch(/^[0-9a-f-]{36}$/);
  });
});

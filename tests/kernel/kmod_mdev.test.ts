// Mediated devices of the dummy WarpDrive module: create, remove, limits, permissions,
// removal and unloading while in use. Runs as root inside the kernel rig; fails outside it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { basename } from "node:path";
import {
  attr,
  client,
  createMdev,
  inRig,
  kernelProblems,
  loaded,
  MDEV_DIR,
  MODULE,
  mdevCounter,
  reload,
  removeMdev,
  requireRig,
  run,
  start,
  typeDir,
} from "../kmod/harness.ts";

const DEV = "wd_dummy0";

function available(dev: string, algo: string): number {
  return Number(attr(`${typeDir(dev, algo)}/available_instances`));
}

describe("wd_dummy mediated devices", () => {
  beforeAll(() => {
    if (inRig()) {
      reload();
      client();
    }
  }, 120_000);
  afterAll(() => {
    if (inRig()) reload();
  }, 60_000);

  test("writing a UUID to create makes devices/<uuid> and lowers available_instances", () => {
    requireRig();
    const before = available(DEV, "copy");
    const uuid = createMdev(DEV, "copy");
    try {
      expect(available(DEV, "copy")).toBe(before - 1);
      expect(available(DEV, "csum")).toBe(before); // types are counted separately
      expect(readdirSync(`${typeDir(DEV, "copy")}/devices`)).toEqual([uuid]);
      expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(true);
      expect(realpathSync(`${MDEV_DIR}/${uuid}/mdev_type`)).toBe(realpathSync(typeDir(DEV, "copy")));
      const group = basename(readlinkSync(`${MDEV_DIR}/${uuid}/iommu_group`));
      expect(group).toMatch(/^[0-9]+$/);
      expect(statSync(`/dev/vfio/${group}`).isCharacterDevice()).toBe(true);
      expect(mdevCounter(uuid, "state")).toBe("idle");
    } finally {
      removeMdev(uuid);
    }
  });

  test("writing 1 to remove deletes the mdev and gives its instance back", () => {
    requireRig();
    const before = available(DEV, "csum");
    const uuid = createMdev(DEV, "csum");
    removeMdev(uuid);
    expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(false);
    expect(readdirSync(`${typeDir(DEV, "csum")}/devices`)).toEqual([]);
    expect(available(DEV, "csum")).toBe(before);
  });

  test("the same UUID cannot be created twice (EEXIST)", () => {
    requireRig();
    const uuid = createMdev(DEV, "copy");
    try {
      expect(() => createMdev("wd_dummy1", "csum", uuid)).toThrow(expect.objectContaining({ code: "EEXIST" }));
    } finally {
      removeMdev(uuid);
    }
  });

  test("creating more than available_instances fails (EUSERS) and creates nothing", () => {
    requireRig();
    const n = available(DEV, "copy");
    expect(n).toBe(4);
    const made: string[] = [];
    try {
      for (let i = 0; i < n; i++) made.push(createMdev(DEV, "copy"));
      expect(available(DEV, "copy")).toBe(0);
      const extra = randomUUID();
      expect(() => createMdev(DEV, "copy", extra)).toThrow(expect.objectContaining({ code: "EUSERS" }));
      expect(existsSync(`${MDEV_DIR}/${extra}`)).toBe(false);
      expect(readdirSync(`${typeDir(DEV, "copy")}/devices`).length).toBe(n);
      expect(available(DEV, "copy")).toBe(0);
    } finally {
      for (const u of made) removeMdev(u);
    }
    expect(available(DEV, "copy")).toBe(n);
  });

  test("a malformed UUID is refused (EINVAL)", () => {
    requireRig();
    expect(() => createMdev(DEV, "copy", "not-a-uuid-at-all-not-a-uuid-at-all!")).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(available(DEV, "copy")).toBe(4);
  });

  test("an unprivileged user cannot create an mdev or change priority (permission denied)", () => {
    requireRig();
    const uuid = randomUUID();
    const asNobody = (cmd: string) =>
      run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", cmd]);
    const r = asNobody(`echo ${uuid} > ${typeDir(DEV, "copy")}/create`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
    expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(false);
    const p = asNobody(`echo 5 > /sys/class/warpdrive/${DEV}/wdev/priority`);
    expect(p.status).not.toBe(0);
    expect(p.stderr).toMatch(/Permission denied/);
    expect(attr(`/sys/class/warpdrive/${DEV}/wdev/priority`)).toBe("0");
  });

  test("removing an open mdev waits; the holder sees REMOVE_REQUESTED, closes, and the removal completes", async () => {
    requireRig();
    const uuid = createMdev(DEV, "copy");
    const holder = start(client(), ["-m", "hold", uuid]);
    await holder.line(/state=ready/, 30_000);
    expect(mdevCounter(uuid, "state")).toBe("open");
    const remover = start("sh", ["-c", `echo 1 > ${MDEV_DIR}/${uuid}/remove`]);
    const left = await holder.exited(30_000);
    expect(left.stdout).toMatch(/state=remove-requested/);
    expect(left.status).toBe(0);
    const removed = await remover.exited(30_000);
    expect(removed.status).toBe(0);
    expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(false);
    expect(available(DEV, "copy")).toBe(4);
  }, 90_000);

  test("rmmod fails while an mdev is open (module in use) and succeeds once it is closed", async () => {
    requireRig();
    const uuid = createMdev(DEV, "csum");
    const holder = start(client(), ["-m", "hold", uuid]);
    try {
      await holder.line(/state=ready/, 30_000);
      const r = run("rmmod", [MODULE]);
      expect(r.status).not.toBe(0);
      // delete_module(2) answers EWOULDBLOCK for a module in use: kmod's rmmod says "is in
      // use", busybox's (the rig's) prints strerror, "Resource temporarily unavailable".
      expect(r.stderr).toMatch(/in use|Resource temporarily unavailable/);
      expect(loaded()).toBe(true);
      expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(true);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited(30_000);
    }
    const r = run("rmmod", [MODULE]);
    expect(r.status).toBe(0);
    expect(existsSync(`${MDEV_DIR}/${uuid}`)).toBe(false);
    reload();
  }, 90_000);

  test("unloading the module with mdevs present removes them", () => {
    requireRig();
    reload();
    const a = createMdev(DEV, "copy");
    const b = createMdev("wd_dummy2", "csum");
    expect(existsSync(`${MDEV_DIR}/${a}`) && existsSync(`${MDEV_DIR}/${b}`)).toBe(true);
    const r = run("rmmod", [MODULE]);
    expect(r.status).toBe(0);
    expect(loaded()).toBe(false);
    expect(existsSync(`${MDEV_DIR}/${a}`)).toBe(false);
    expect(existsSync(`${MDEV_DIR}/${b}`)).toBe(false);
    reload();
    expect(available(DEV, "copy")).toBe(4);
  }, 60_000);

  test("the kernel log has no WARNING, BUG, Oops or general protection fault", () => {
    requireRig();
    expect(kernelProblems()).toEqual([]);
  });
});

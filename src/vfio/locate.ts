/**
 * The few sysfs facts VFIO needs: where a device is, its IOMMU group, and which drivers the
 * group's devices are bound to (for the "group not viable" advice). All paths go through an
 * injectable root so tests can use a fake tree.
 *
 * @module
 */

import { readdirSync, readlinkSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { errorCode } from "../sys/errno.ts";
import { VfioError } from "./errors.ts";

/**
 * A device to open through VFIO:
 * - a name: a PCI address (`"0000:00:03.0"`, or `"00:03.0"` for domain 0) or a mediated
 *   device UUID;
 * - `{ path }`: its sysfs directory (`/sys/bus/mdev/devices/<uuid>`, `/sys/devices/…`);
 * - `{ bus, name }`: `/sys/bus/<bus>/devices/<name>`.
 */
export type DeviceRef = string | { readonly path: string } | { readonly bus: string; readonly name: string };

/** A device located in sysfs. */
export interface LocatedDevice {
  /** The name VFIO_GROUP_GET_DEVICE_FD takes (PCI address or UUID). */
  readonly name: string;
  /** Its sysfs directory (as given or built, not resolved). */
  readonly sysfsPath: string;
  /** Its IOMMU group number. */
  readonly groupId: number;
}

const PCI_FULL = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const PCI_SHORT = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;


/**
 * Finds a device's sysfs directory and name from a `DeviceRef`.
 *
 * @throws {TypeError} When a string is neither a PCI address, a UUID nor an absolute path.
 */
export function devicePath(ref: DeviceRef, sysfsRoot: string): { name: string; sysfsPath: string } {
  if (typeof ref === "string") {
    if (ref.startsWith("/")) return devicePath({ path: ref }, sysfsRoot);
    if (PCI_FULL.test(ref)) return devicePath({ bus: "pci", name: ref.toLowerCase() }, sysfsRoot);
    if (PCI_SHORT.test(ref)) return devicePath({ bus: "pci", name: `0000:${ref.toLowerCase()}` }, sysfsRoot);
    if (UUID.test(ref)) return devicePath({ bus: "mdev", name: ref.toLowerCase() }, sysfsRoot);
    throw new TypeError(
      `Cannot find VFIO device "${ref}": give a PCI address (0000:00:03.0), a mediated device UUID, a sysfs path, or { bus, name }`,
    );
  }
  if ("path" in ref) {
    let name = basename(ref.path);
    try {
      name = basename(realpathSync(ref.path));
    } catch (e) {
      // A missing path is reported by the group lookup, with its own advice; an error with
      // no errno (Deno's NotCapable) is not about the path, so it goes up as it is.
      if (errorCode(e) === undefined) throw e;
    }
    return { name, sysfsPath: ref.path };
  }
  if (!ref.bus || !ref.name || ref.bus.includes("/") || ref.name.includes("/")) {
    throw new TypeError(`Cannot find VFIO device "${ref.bus}/${ref.name}": bus and name must be non-empty and contain no "/"`);
  }
  return { name: ref.name, sysfsPath: join(sysfsRoot, "bus", ref.bus, "devices", ref.name) };
}

/**
 * Locates a device and reads its `iommu_group` link.
 *
 * @throws {VfioError} `ENOENT` with advice when the device or its IOMMU group is missing;
 *   `EINVAL` when the group link does not end in a decimal group number.
 */
export function locateDevice(ref: DeviceRef, sysfsRoot: string): LocatedDevice {
  const { name, sysfsPath } = devicePath(ref, sysfsRoot);
  const link = join(sysfsPath, "iommu_group");
  let target: string;
  try {
    target = readlinkSync(link);
  } catch (e) {
    const code = errorCode(e);
    if (code === undefined) throw e; // not a file system answer (Deno's NotCapable): say it as it is
    let exists = true;
    try {
      realpathSync(sysfsPath);
    } catch {
      exists = false;
    }
    const why = exists
      ? `it has no IOMMU group ("${link}" is missing): enable the IOMMU (intel_iommu=on / amd_iommu=on) or, ` +
        `for a mediated device, check that its parent driver registers it with VFIO`
      : `"${sysfsPath}" does not exist: check the address, or create the mediated device first`;
    throw new VfioError(`Cannot open VFIO device "${name}": ${why}`, { code, path: link, cause: e });
  }
  // The group's node is /dev/vfio/<the exact name>: decimal digits as the kernel writes
  // them, nothing Number() would also take (" ", "0x10", "1e3", "-0", "07").
  const last = basename(target);
  const id = /^(?:0|[1-9][0-9]{0,9})$/.test(last) ? Number(last) : NaN;
  if (!Number.isSafeInteger(id) || id > 0xffffffff) {
    throw new VfioError(
      `Cannot open VFIO device "${name}": IOMMU group link ${link} -> "${target}" does not end in a decimal group number`,
      { code: "EINVAL", path: link },
    );
  }
  return { name, sysfsPath, groupId: id };
}

/** A device of an IOMMU group and the driver it is bound to. */
export interface GroupMember {
  readonly name: string;
  /** Driver name, or undefined when unbound. */
  readonly driver: string | undefined;
}

/** Lists the devices of IOMMU group `id` and their drivers; empty when sysfs cannot tell. */
export function groupMembers(id: number, sysfsRoot: string): GroupMember[] {
  const dir = join(sysfsRoot, "kernel", "iommu_groups", String(id), "devices");
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    let driver: string | undefined;
    try {
      driver = basename(readlinkSync(join(dir, name, "driver")));
    } catch {
      driver = undefined;
    }
    return { name, driver };
  });
}

/** Whether a driver lets the group stay viable (VFIO's own drivers, or the stub). */
export function isVfioFriendlyDriver(driver: string | undefined): boolean {
  return driver === undefined || driver.startsWith("vfio") || driver === "pci-stub" || driver === "pcieport";
}

/** The advice for a non-viable group: which members to unbind. */
export function viabilityAdvice(id: number, sysfsRoot: string): string {
  const members = groupMembers(id, sysfsRoot);
  const bad = members.filter((m) => !isVfioFriendlyDriver(m.driver));
  if (bad.length === 0) {
    return `bind every device of IOMMU group ${id} to vfio-pci (or unbind it from its driver)`;
  }
  const list = bad.map((m) => `${m.name} (bound to ${m.driver})`).join(", ");
  const first = bad[0]!;
  return (
    `devices of IOMMU group ${id} are bound to host drivers: ${list}; unbind them ` +
    `(echo ${first.name} > /sys/bus/pci/devices/${first.name}/driver/unbind) and bind vfio-pci ` +
    `(echo vfio-pci > /sys/bus/pci/devices/${first.name}/driver_override; echo ${first.name} > /sys/bus/pci/drivers_probe)`
  );
}

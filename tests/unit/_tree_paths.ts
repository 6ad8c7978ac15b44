// Small helpers of the sysfs-writing tests: where a fixture tree (makeSysfs) keeps a
// device's wdev/ attributes and type directories, and the error a call threw.
import * as path from "node:path";

/** The error `f` threw; fails the test when it returned instead. */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

/** `<root>/devices/warpdrive/<dev>/wdev/<f>`, where makeSysfs keeps a device's attributes. */
export const wdev = (root: string, dev: string, f: string): string => path.join(root, "devices", "warpdrive", dev, "wdev", f);

/** `<root>/devices/warpdrive/<dev>/mdev_supported_types/<t>`. */
export const typeDir = (root: string, dev: string, t: string): string =>
  path.join(root, "devices", "warpdrive", dev, "mdev_supported_types", t);

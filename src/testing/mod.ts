/**
 * `warpdrive/testing`: what a program's own tests need to try warpdrive without an
 * accelerator. `makeSysfs` builds a `/sys/class/warpdrive` tree (devices, types, mediated
 * devices, bad values) and a `/sys/class/uacce` tree (the 6.1 and 6.2 layouts) in a
 * temporary directory; every inquiry function takes its `root`.
 * The reader interface lets a test serve attribute values from anywhere.
 *
 * @example
 * ```ts
 * import { enumerate, registeredDeviceApis, select } from "warpdrive";
 * import { makeSysfs } from "warpdrive/testing";
 *
 * using tree = makeSysfs({ devices: [{ id: "acc0", types: [{ name: "copy", deviceApi: "wd_dummy_v1" }] }] });
 * const choice = select(enumerate({ root: tree.root }), { alg: "copy", allowCreate: true, apis: registeredDeviceApis() });
 * ```
 *
 * @module
 */
export {
  type AttrValue,
  type Fixture,
  type FixtureDevice,
  type FixtureSpec,
  type FixtureType,
  type FixtureUacceDevice,
  makeSysfs,
} from "../sysfs/fixture.ts";
export { ATTRIBUTE_MAX_BYTES, type Entry, type EntryKind, nodeFsReader, nodeReader, type SysfsReader } from "../sysfs/reader.ts";

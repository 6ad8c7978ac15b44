/**
 * What the sysfs model asks of a file system reader, shared by the readers over `node:fs`
 * and over the `Deno` namespace.
 *
 * @module
 */
import { SysfsError } from "./errors.ts";

/** The largest attribute the kernel shows: one page. Anything longer is not sysfs. */
export const ATTRIBUTE_MAX_BYTES = 4096;

/** What a directory entry is, as far as the model cares. */
export type EntryKind = "dir" | "file" | "link" | "other";

/** One entry of a directory listing. */
export interface Entry {
  /** The name, decoded as UTF-8 (bytes that are not UTF-8 show as U+FFFD). */
  readonly name: string;
  readonly kind: EntryKind;
  /** The name's bytes in hex (`"61 63 63 ff"`) when they are not valid UTF-8, so the name cannot be used to open it. */
  readonly invalidName?: string;
}

/**
 * The file operations the sysfs model needs. Every method throws a Node-style error
 * (with `code`) on failure.
 */
export interface SysfsReader {
  /** Reads one attribute file; throws `EFBIG`-coded errors for files over one page. */
  readAttribute(path: string): string;
  /** Lists a directory, without following the entries. */
  list(path: string): Entry[];
  /** Follows links: `"dir"`, `"file"`, `"other"`, or throws (ENOENT for a dangling link). */
  kindOf(path: string): EntryKind;
  /** Whether a path exists as a link whose target is missing. */
  isDanglingLink(path: string): boolean;
}

/** The error for an attribute over one page, as every reader raises it. */
export function tooLarge(path: string): SysfsError {
  return new SysfsError(`${path} is larger than ${ATTRIBUTE_MAX_BYTES} bytes, not a sysfs attribute`, { code: "EFBIG", path });
}

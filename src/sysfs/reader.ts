/**
 * The file access used by the sysfs model, behind an interface so tests and benchmarks
 * can count or fake it.
 *
 * @module
 */
import * as fs from "node:fs";

/** The largest attribute the kernel shows: one page. Anything longer is not sysfs. */
export const ATTRIBUTE_MAX_BYTES = 4096;

/** What a directory entry is, as far as the model cares. */
export type EntryKind = "dir" | "file" | "link" | "other";

/** One entry of a directory listing. */
export interface Entry {
  readonly name: string;
  readonly kind: EntryKind;
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

const buffer = new Uint8Array(ATTRIBUTE_MAX_BYTES + 1);
const decoder = new TextDecoder("utf-8", { fatal: false });

function tooLarge(path: string): Error {
  return Object.assign(new Error(`${path} is larger than ${ATTRIBUTE_MAX_BYTES} bytes`), { code: "EFBIG" });
}

/**
 * The reader over the real file system. Attributes are opened non-blocking so that a
 * FIFO planted in the tree cannot hang the enumeration, and read at most one page plus
 * one byte, so that a huge file is refused without being read whole.
 */
export const nodeReader: SysfsReader = {
  readAttribute(path: string): string {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      // One read of one page plus one byte: sysfs hands an attribute over in a single
      // read, and a regular file shorter than the buffer is read whole, so a second
      // read(2) to see end of file would only cost a syscall.
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n > ATTRIBUTE_MAX_BYTES) throw tooLarge(path);
      return decoder.decode(buffer.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  },
  list(path: string): Entry[] {
    return fs.readdirSync(path, { withFileTypes: true }).map((d) => ({
      name: d.name,
      kind: d.isDirectory() ? "dir" : d.isFile() ? "file" : d.isSymbolicLink() ? "link" : "other",
    }));
  },
  kindOf(path: string): EntryKind {
    const s = fs.statSync(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  },
  isDanglingLink(path: string): boolean {
    try {
      if (!fs.lstatSync(path).isSymbolicLink()) return false;
    } catch {
      return false;
    }
    try {
      fs.statSync(path);
      return false;
    } catch {
      return true;
    }
  },
};

/**
 * The file access used by the sysfs model, behind an interface so tests and benchmarks
 * can count or fake it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
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

/**
 * The one buffer attributes are read into. A Buffer, since its own UTF-8 decoding of a
 * range (bytes that are not UTF-8 become U+FFFD, as with a non-fatal TextDecoder) makes no
 * view per attribute: about a tenth of the JavaScript time of an enumeration.
 */
const buffer = Buffer.alloc(ATTRIBUTE_MAX_BYTES + 1);
const decoder = new TextDecoder("utf-8", { fatal: false });

function tooLarge(path: string): SysfsError {
  return new SysfsError(`${path} is larger than ${ATTRIBUTE_MAX_BYTES} bytes, not a sysfs attribute`, { code: "EFBIG", path });
}

const strict = new TextDecoder("utf-8", { fatal: true });

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

function kindOfDirent(d: fs.Dirent | fs.Dirent<Buffer>): EntryKind {
  return d.isDirectory() ? "dir" : d.isFile() ? "file" : d.isSymbolicLink() ? "link" : "other";
}

/**
 * Marks the names that are not valid UTF-8: such a name reads back with U+FFFD in it and
 * no longer opens, so the directory is listed again as bytes to say what it is.
 */
function withInvalidNames(path: string, entries: Entry[]): Entry[] {
  if (!entries.some((e) => e.name.includes("\uFFFD"))) return entries;
  let raw: Uint8Array[];
  try {
    raw = fs.readdirSync(path, { encoding: "buffer" });
  } catch {
    return entries; // the decoded listing is all there is
  }
  const kinds = new Map(entries.map((e) => [e.name, e.kind]));
  const out = entries.filter((e) => !e.name.includes("\uFFFD"));
  for (const b of raw) {
    const bytes = new Uint8Array(b);
    let name: string;
    try {
      name = strict.decode(bytes);
    } catch {
      out.push({ name: decoder.decode(bytes), kind: "other", invalidName: hexBytes(bytes) });
      continue;
    }
    if (name.includes("\uFFFD")) out.push({ name, kind: kinds.get(name) ?? "other" });
  }
  return out;
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
      return buffer.toString("utf8", 0, n);
    } finally {
      fs.closeSync(fd);
    }
  },
  list(path: string): Entry[] {
    const entries: Entry[] = fs.readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
    return withInvalidNames(path, entries);
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

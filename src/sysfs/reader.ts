/**
 * The file access used by the sysfs model, behind an interface so tests and benchmarks
 * can count or fake it. The real file system is read through `node:fs` under Node and Bun
 * and through the `Deno` namespace under Deno (`reader_deno.ts`), so that an inquiry under
 * Deno never loads its `node:` compatibility layer; both read the same tree the same way.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type * as Fs from "node:fs";
import { builtin, runtime } from "../_runtime.ts";
import { makeDenoReader } from "./reader_deno.ts";
import { ATTRIBUTE_MAX_BYTES, type Entry, type EntryKind, type SysfsReader, tooLarge } from "./reader_types.ts";

export { ATTRIBUTE_MAX_BYTES, type Entry, type EntryKind, type SysfsReader } from "./reader_types.ts";

/**
 * The one buffer attributes are read into, made on first use. A Buffer, since its own
 * UTF-8 decoding of a range (bytes that are not UTF-8 become U+FFFD, as with a non-fatal
 * TextDecoder) makes no view per attribute: about a tenth of the JavaScript time of an
 * enumeration.
 */
let buffer: Buffer | undefined;
let fsm: typeof Fs | undefined;
const decoder = new TextDecoder("utf-8", { fatal: false });

/** `node:fs`, taken on first use. */
function nodeFs(): typeof Fs {
  return (fsm ??= builtin("node:fs"));
}

const strict = new TextDecoder("utf-8", { fatal: true });

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

function kindOfDirent(d: Fs.Dirent | Fs.Dirent<Buffer>): EntryKind {
  return d.isDirectory() ? "dir" : d.isFile() ? "file" : d.isSymbolicLink() ? "link" : "other";
}

/**
 * Marks the names that are not valid UTF-8: such a name reads back with U+FFFD in it and
 * no longer opens, so the directory is listed again as bytes to say what it is.
 *
 * @internal
 */
export function withInvalidNames(path: string, entries: Entry[]): Entry[] {
  if (!entries.some((e) => e.name.includes("\uFFFD"))) return entries;
  let raw: Uint8Array[];
  try {
    raw = nodeFs().readdirSync(path, { encoding: "buffer" });
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
 * The reader over the real file system through `node:fs` (any runtime with it). Attributes
 * are opened non-blocking so that a FIFO planted in the tree cannot hang the enumeration
 * (it reads as empty while no writer holds it), and read at most one page plus one byte,
 * so that a huge file is refused without being read whole.
 */
export const nodeFsReader: SysfsReader = {
  readAttribute(path: string): string {
    const fs = nodeFs();
    const buf = (buffer ??= builtin("node:buffer").Buffer.alloc(ATTRIBUTE_MAX_BYTES + 1));
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      // One read of one page plus one byte: sysfs hands an attribute over in a single
      // read, and a regular file shorter than the buffer is read whole, so a second
      // read(2) to see end of file would only cost a syscall.
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n > ATTRIBUTE_MAX_BYTES) throw tooLarge(path);
      return buf.toString("utf8", 0, n);
    } finally {
      fs.closeSync(fd);
    }
  },
  list(path: string): Entry[] {
    const entries: Entry[] = nodeFs().readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
    return withInvalidNames(path, entries);
  },
  kindOf(path: string): EntryKind {
    const s = nodeFs().statSync(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : "other";
  },
  isDanglingLink(path: string): boolean {
    const fs = nodeFs();
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

/**
 * The reader over the real file system this runtime reads best: the `Deno` namespace
 * under Deno (`reader_deno.ts`), `node:fs` elsewhere ({@link nodeFsReader}). The same
 * tree reads the same under both, errors included (Node-style, with `code`, `errno` and
 * `syscall`).
 */
export const nodeReader: SysfsReader = runtime === "deno" ? makeDenoReader(withInvalidNames) : nodeFsReader;

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
function tooLarge(path: string): SysfsError {
  return new SysfsError(`${path} is larger than ${ATTRIBUTE_MAX_BYTES} bytes, not a sysfs attribute`, { code: "EFBIG", path });
}

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
 */
function withInvalidNames(path: string, entries: Entry[]): Entry[] {
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


/*
 * The reader over the `Deno` namespace, so that an inquiry under Deno (`wd list`,
 * `enumerate`) never loads Deno's `node:` compatibility layer. It reads a tree exactly as
 * the reader over `node:fs` does, errors included:
 * - an attribute (a regular file) is read whole in one call once `stat` has said it is at
 *   most one page; anything else other than a FIFO gets one read of at most one page plus
 *   one byte; a longer one is refused (`EFBIG`);
 * - Deno cannot open non-blocking, so a FIFO is recognised by `stat` before the open and
 *   reads as empty, as it does through `node:fs` while no writer holds it;
 * - a failed call throws a Node-style error: `code`, `errno` and `syscall` (`open`, `read`,
 *   `readdir`, `stat`) as Deno's `node:fs` gives them, and a message that starts with the code
 *   (`ENOENT: no such file or directory, open 'PATH'`; the words are the system's);
 * - a name that is not valid UTF-8 (Deno hands it over with U+FFFD) is listed again as
 *   bytes through `node:fs`, as the other reader does (only then is Deno's `node:` layer
 *   loaded).
 */

interface DenoFile {
  readSync(p: Uint8Array): number | null;
  close(): void;
}
interface DenoStat {
  readonly size: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymlink: boolean;
  readonly isFifo: boolean | null;
}
interface DenoDirEntry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymlink: boolean;
}
/** The part of the `Deno` namespace this reader uses. */
interface DenoFs {
  openSync(path: string, options: { read: true }): DenoFile;
  readFileSync(path: string): Uint8Array;
  statSync(path: string): DenoStat;
  lstatSync(path: string): DenoStat;
  readDirSync(path: string): Iterable<DenoDirEntry>;
}

/**
 * A failed file system call as `node:fs` reports one (its `name` stays `"Error"`, as
 * Node's is): the errno name, Node's negative errno, the call and the path.
 */
class FsCallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;

  constructor(code: string, errno: number, what: string, syscall: string, path: string, cause: unknown) {
    super(`${code}: ${what}, ${syscall} '${path}'`, { cause });
    this.code = code;
    this.errno = -errno;
    this.syscall = syscall;
    this.path = path;
  }
}

/** Deno's error as Node reports it: "No such file or directory (os error 2)" becomes ENOENT, errno -2. */
function nodeStyle(e: unknown, syscall: string, path: string): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  const m = e instanceof Error ? /^(.*?) \(os error (\d+)\)/.exec(e.message) : null;
  if (typeof code !== "string" || m === null) return e; // a refusal of Deno's own (NotCapable), as it is
  const what = (m[1] as string).charAt(0).toLowerCase() + (m[1] as string).slice(1);
  return new FsCallError(code, Number(m[2]), what, syscall, path, e);
}

function call<T>(syscall: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw nodeStyle(e, syscall, path);
  }
}

/** Makes the reader over the `Deno` namespace (only under Deno). */
function denoReader(): SysfsReader {
  const deno = (globalThis as unknown as { Deno: DenoFs }).Deno;
  const buf = new Uint8Array(ATTRIBUTE_MAX_BYTES + 1);
  return {
    readAttribute(path: string): string {
      // The stat stands in for the open of node:fs (a missing file fails as the open would).
      const st = call("open", path, () => deno.statSync(path));
      if (st.isFifo === true) return "";
      if (st.isFile) {
        // A regular file (every sysfs attribute) in one call; its size says first whether
        // it is over a page, so a huge file is refused without being read.
        if (st.size > ATTRIBUTE_MAX_BYTES) throw tooLarge(path);
        const data = call("open", path, () => deno.readFileSync(path));
        if (data.length > ATTRIBUTE_MAX_BYTES) throw tooLarge(path);
        return decoder.decode(data);
      }
      // Anything else gets one bounded read (a directory fails it with EISDIR, as in node:fs).
      const f = call("open", path, () => deno.openSync(path, { read: true }));
      try {
        const n = call("read", path, () => f.readSync(buf)) ?? 0;
        if (n > ATTRIBUTE_MAX_BYTES) throw tooLarge(path);
        return decoder.decode(buf.subarray(0, n));
      } finally {
        f.close();
      }
    },
    list(path: string): Entry[] {
      const entries = call("readdir", path, () => [...deno.readDirSync(path)]).map((d): Entry => ({
        name: d.name,
        kind: d.isDirectory ? "dir" : d.isFile ? "file" : d.isSymlink ? "link" : "other",
      }));
      return withInvalidNames(path, entries);
    },
    kindOf(path: string): EntryKind {
      const s = call("stat", path, () => deno.statSync(path));
      return s.isDirectory ? "dir" : s.isFile ? "file" : "other";
    },
    isDanglingLink(path: string): boolean {
      try {
        if (!deno.lstatSync(path).isSymlink) return false;
      } catch {
        return false;
      }
      try {
        deno.statSync(path);
        return false;
      } catch {
        return true;
      }
    },
  };
}

/** Calls through the Deno namespace before the Deno reader hands over to `node:fs`. */
const DENO_CALLS = 4096;

/**
 * Under Deno: the `Deno` namespace for the first {@link DENO_CALLS} calls, `node:fs` after.
 * A read through the namespace costs Deno about 15 µs against 10 through its `node:fs`,
 * whose compatibility layer costs about 50 ms to load: a small tree (`wd list`, or the
 * inquiry of a machine with a few accelerators: some hundred calls) never loads it, a
 * large one pays for it once.
 */
function denoFirst(): SysfsReader {
  const deno = denoReader();
  let calls = 0;
  const pick = (): SysfsReader => (calls++ < DENO_CALLS ? deno : nodeFsReader);
  return {
    readAttribute: (path) => pick().readAttribute(path),
    list: (path) => pick().list(path),
    kindOf: (path) => pick().kindOf(path),
    isDanglingLink: (path) => pick().isDanglingLink(path),
  };
}

/**
 * The reader over the real file system this runtime reads best: under Deno the `Deno`
 * namespace (then `node:fs` for a large tree), `node:fs` elsewhere ({@link nodeFsReader}).
 * The same tree reads the same under both, errors included (Node-style, with `code`,
 * `errno` and `syscall`).
 */
export const nodeReader: SysfsReader = runtime === "deno" ? denoFirst() : nodeFsReader;

/**
 * The sysfs reader over the `Deno` namespace, so that an inquiry under Deno (`wd list`,
 * `enumerate`) never loads Deno's `node:` compatibility layer. It reads a tree exactly as
 * the reader over `node:fs` does, errors included:
 * - an attribute is read with one read of at most one page plus one byte; a longer one is
 *   refused (`EFBIG`);
 * - Deno cannot open non-blocking, so a FIFO is recognised by `stat` before the open and
 *   reads as empty, as it does through `node:fs` while no writer holds it;
 * - a failed call throws a Node-style error: `code`, `errno` and `syscall` (`open`, `read`,
 *   `readdir`, `stat`) as Deno's `node:fs` gives them, and a message that starts with the code
 *   (`ENOENT: no such file or directory, open 'PATH'`; the words are the system's);
 * - a name that is not valid UTF-8 (Deno hands it over with U+FFFD) is resolved by the
 *   `fixNames` it is made with, which lists the directory again as bytes.
 *
 * @module
 */
import { ATTRIBUTE_MAX_BYTES, type Entry, type EntryKind, type SysfsReader, tooLarge } from "./reader_types.ts";

interface DenoFile {
  readSync(p: Uint8Array): number | null;
  close(): void;
}
interface DenoStat {
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

/**
 * Makes the reader over the `Deno` namespace.
 *
 * @param fixNames Lists a directory again when a name came back with U+FFFD in it.
 */
export function makeDenoReader(fixNames: (path: string, entries: Entry[]) => Entry[]): SysfsReader {
  const deno = (globalThis as unknown as { Deno: DenoFs }).Deno;
  const buf = new Uint8Array(ATTRIBUTE_MAX_BYTES + 1);
  const decoder = new TextDecoder("utf-8", { fatal: false });
  return {
    readAttribute(path: string): string {
      // The stat stands in for the open of node:fs (a missing file fails as the open would).
      if (call("open", path, () => deno.statSync(path)).isFifo === true) return "";
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
      return fixNames(path, entries);
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

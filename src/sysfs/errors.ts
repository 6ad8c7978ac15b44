/**
 * Errors raised while reading or writing a sysfs tree, and how messages name what was read.
 *
 * @module
 */
import type { Inventory } from "./model.ts";

/** What a system call failure adds to a {@link SysfsError}, read from its cause. */
function syscallOf(cause: unknown): { errno: number | undefined; syscall: string | undefined } {
  if (typeof cause !== "object" || cause === null) return { errno: undefined, syscall: undefined };
  const c = cause as { errno?: unknown; syscall?: unknown };
  const syscall = typeof c.syscall === "string" ? c.syscall : undefined;
  // Node reports errno negated (-2 for ENOENT); the kernel's value is positive.
  const errno = typeof c.errno === "number" && Number.isInteger(c.errno) && c.errno !== 0 ? Math.abs(c.errno) : undefined;
  return { errno, syscall };
}

/**
 * A sysfs file or directory could not be used: the class directory is missing, an
 * attribute cannot be written, root is needed. `code` is the errno name when one was
 * reported (`"ENOENT"`, `"EACCES"`, …), and `path` names the file. When a system call
 * failed, `errno` and `syscall` say which and how (`2`, `"open"`), and `cause` is the
 * runtime's own error.
 *
 * @example
 * ```ts
 * import { enumerate, SysfsError } from "warpdrive";
 *
 * try {
 *   enumerate({ root: "/nonexistent" });
 * } catch (e) {
 *   if (e instanceof SysfsError && e.code === "ENOENT") console.log(e.path);
 * }
 * ```
 */
export class SysfsError extends Error {
  /** The errno name (`"ENOENT"`, `"EACCES"`, `"EPERM"`, …) or `"EINVAL"` for content. */
  readonly code: string;
  /** The file or directory the error is about. */
  readonly path: string;
  /** The errno value when a system call failed (`2` for ENOENT), otherwise undefined. */
  readonly errno: number | undefined;
  /** The system call that failed (`"open"`, `"write"`, `"scandir"`), otherwise undefined. */
  readonly syscall: string | undefined;

  constructor(message: string, options: { code: string; path: string; cause?: unknown; errno?: number; syscall?: string }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SysfsError";
    this.code = options.code;
    this.path = options.path;
    const from = syscallOf(options.cause);
    this.errno = options.errno ?? from.errno;
    this.syscall = options.syscall ?? from.syscall;
  }
}

/**
 * Returns the errno name of a Node-style error, or `"EIO"` when it has none. (The `code`
 * is read here rather than through `sys/errno.ts`, which `wd list` would load for it.)
 */
export function errnoCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  // Deno refuses a read its permissions do not grant with an error that has no errno.
  if (e instanceof Error && e.name === "NotCapable") return "ERR_NOT_CAPABLE";
  return "EIO";
}

/** Describes an errno name in a few words, for problem reasons. */
export function describeCode(code: string): string {
  switch (code) {
    case "ENOENT":
      return "missing";
    case "EACCES":
    case "EPERM":
      return "not readable (permission denied)";
    case "EISDIR":
      return "is a directory, not an attribute file";
    case "ENOTDIR":
      return "not a directory";
    case "ELOOP":
      return "symbolic link loop";
    case "EAGAIN":
      return "not a regular file (would block)";
    case "ERR_NOT_CAPABLE":
      return "not readable under this runtime's permissions (Deno: reading /sys needs --allow-all)";
    default:
      return `cannot be read (${code})`;
  }
}

/** The class directories read, for messages: `/sys/class/warpdrive and /sys/class/uacce (absent)`. */
export function whereRead(inv: Inventory): string {
  const dirs = inv.classDirs ?? [{ path: inv.classDir, present: true }];
  return dirs.map((d) => `${d.path}${d.present ? "" : " (absent)"}`).join(" and ");
}

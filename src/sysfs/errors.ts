/**
 * Errors raised while reading or writing a WarpDrive sysfs tree.
 *
 * @module
 */
import { errorCode } from "../sys/errno.ts";

/**
 * A sysfs file or directory could not be used: the class directory is missing, an
 * attribute cannot be written, root is needed. `code` is the errno name when one was
 * reported (`"ENOENT"`, `"EACCES"`, …), and `path` names the file.
 *
 * @example
 * ```ts
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

  constructor(message: string, options: { code: string; path: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SysfsError";
    this.code = options.code;
    this.path = options.path;
  }
}

/** Returns the errno name of a Node-style error, or `"EIO"` when it has none. */
export function errnoCode(e: unknown): string {
  const code = errorCode(e);
  if (code !== undefined) return code;
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

/**
 * The UACCE user-space ABI, from `<misc/uacce/uacce.h>` (Linux 6.1 uapi,
 * `include/uapi/misc/uacce/uacce.h`), with the kernel's names kept verbatim so a grep
 * against the header finds them. UACCE is mainline Linux's successor of WarpDrive: one
 * open of `/dev/<name>-<id>` is one queue; the queue's regions are mapped at
 * `offset = qfrt × page size`.
 *
 * @module
 */

import { _IO } from "./ioctl.ts";

/**
 * Starts the queue of the opened fd (`_IO('W', 0)`): after the regions are mapped, before
 * the first request. A second START_Q on the same fd fails with EINVAL; on a queue whose
 * driver was removed (or that was put) it fails with ENXIO.
 */
export const UACCE_CMD_START_Q: number = _IO("W", 0);
/**
 * Stops the queue and gives it back to the driver (`_IO('W', 1)`). The instance counts as
 * free again only when the last mapping of the queue is unmapped, not at this call.
 */
export const UACCE_CMD_PUT_Q: number = _IO("W", 1);

/** Device flag bit 0 (`flags` attribute): the device shares the process's address space (SVA). */
export const UACCE_DEV_SVA = 1;

/** Queue file region type 0: the device's MMIO (doorbells, registers), mapped at offset 0. */
export const UACCE_QFRT_MMIO = 0;
/** Queue file region type 1: device-user-share memory (rings, buffers), mapped at one page. */
export const UACCE_QFRT_DUS = 1;
/** The number of region types (`UACCE_MAX_REGION` in the kernel's `uacce.h`). */
export const UACCE_MAX_REGION = 2;

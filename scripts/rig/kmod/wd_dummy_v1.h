/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * wd_dummy_v1: the queue protocol of the dummy WarpDrive accelerator.
 *
 * Shared by the kernel module (wd_dummy.c) and user space (wd_client.c; the
 * TypeScript driver follows PROTOCOL.md, which says the same in prose).
 * Every multi-byte value is little-endian and naturally aligned.
 *
 * Every constant is a plain "#define NAME value" line so that a test can
 * parse this file and compare it with another implementation's layout.
 */
#ifndef WD_DUMMY_V1_H
#define WD_DUMMY_V1_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/stddef.h>
#else
#include <stddef.h>
#endif

/* The device_api string of every wd_dummy type (sysfs "device_api"). */
#define WD_DUMMY_V1_API "wd_dummy_v1"

/* ---- VFIO regions ------------------------------------------------------ */

/* Region index of the control page (registers below). */
#define WD_DUMMY_V1_CTRL_REGION 0
/* Region index of the queue memory (request ring, then completion ring). */
#define WD_DUMMY_V1_QUEUE_REGION 1
/* Number of regions VFIO_DEVICE_GET_INFO reports. */
#define WD_DUMMY_V1_NUM_REGIONS 2
/* Region file offset is index << 40; user space must still use the offset
 * that VFIO_DEVICE_GET_REGION_INFO returns. */
#define WD_DUMMY_V1_REGION_SHIFT 40
/* Size of the control region in bytes (one 4 KiB page). */
#define WD_DUMMY_V1_CTRL_SIZE 4096

/* ---- VFIO interrupts ---------------------------------------------------- */

/* IRQ index of the completion interrupt (VFIO_DEVICE_SET_IRQS "index"). */
#define WD_DUMMY_V1_IRQ_CQ 0
/* Number of IRQ indexes VFIO_DEVICE_GET_INFO reports (one vector each). */
#define WD_DUMMY_V1_NUM_IRQS 1

/* ---- Control region registers (byte offsets, all 32-bit unless noted) -- */

/* ro: WD_DUMMY_V1_MAGIC. */
#define WD_DUMMY_V1_REG_MAGIC 0x000
/* ro: WD_DUMMY_V1_VERSION. */
#define WD_DUMMY_V1_REG_VERSION 0x004
/* ro: number of request-ring entries (WD_DUMMY_V1_SQ_ENTRIES). */
#define WD_DUMMY_V1_REG_SQ_ENTRIES 0x008
/* ro: number of completion-ring entries (WD_DUMMY_V1_CQ_ENTRIES). */
#define WD_DUMMY_V1_REG_CQ_ENTRIES 0x00c
/* ro: largest accepted request length in bytes (WD_DUMMY_V1_MAX_LEN). */
#define WD_DUMMY_V1_REG_MAX_LEN 0x010
/* ro: byte offset of the request ring inside the queue region. */
#define WD_DUMMY_V1_REG_SQ_OFFSET 0x014
/* ro: byte offset of the completion ring inside the queue region. */
#define WD_DUMMY_V1_REG_CQ_OFFSET 0x018
/* ro: the queue's own opcode (WD_DUMMY_V1_OP_COPY or WD_DUMMY_V1_OP_CSUM). */
#define WD_DUMMY_V1_REG_ALGO_OP 0x01c

/* User-written registers (own cache line). */
/* wo by user: the doorbell; store the new request-ring tail (free-running). */
#define WD_DUMMY_V1_REG_DOORBELL 0x040
/* wo by user: completion-ring head (free-running count of completions consumed). */
#define WD_DUMMY_V1_REG_CQ_HEAD 0x044
/* wo by user: store a value other than the last one to arm the completion
 * interrupt once (see PROTOCOL.md, "Completion interrupt"). */
#define WD_DUMMY_V1_REG_IRQ_ARM 0x048

/* Kernel-written registers (own cache line); user stores here are ignored. */
/* ro: request-ring head (free-running count of requests consumed). */
#define WD_DUMMY_V1_REG_SQ_HEAD 0x080
/* ro: completion-ring tail (free-running count of completions written). */
#define WD_DUMMY_V1_REG_CQ_TAIL 0x084
/* ro: WD_DUMMY_V1_STATUS_* bits. */
#define WD_DUMMY_V1_REG_STATUS 0x088
/* ro: first queue-level error (WD_DUMMY_V1_ERR_*), sticky until reset. */
#define WD_DUMMY_V1_REG_ERROR 0x08c
/* ro, 64-bit: requests completed with WD_DUMMY_V1_ST_OK since open/reset. */
#define WD_DUMMY_V1_REG_COMPLETED 0x090
/* ro, 64-bit: error completions written since open/reset. */
#define WD_DUMMY_V1_REG_FAILED 0x098

/* Value of REG_MAGIC: "WDD1" read as a big-endian word. */
#define WD_DUMMY_V1_MAGIC 0x57444431
/* Value of REG_VERSION. */
#define WD_DUMMY_V1_VERSION 1

/* REG_STATUS bits. */
/* The queue is open and the device polls the doorbell. */
#define WD_DUMMY_V1_STATUS_READY 0x1
/* REG_ERROR is non-zero. */
#define WD_DUMMY_V1_STATUS_ERROR 0x2
/* The administrator asked to remove this mediated device: close it. */
#define WD_DUMMY_V1_STATUS_REMOVE_REQUESTED 0x4

/* REG_ERROR values (queue-level errors). */
/* No error. */
#define WD_DUMMY_V1_ERR_NONE 0
/* A doorbell value was more than SQ_ENTRIES ahead of SQ_HEAD. */
#define WD_DUMMY_V1_ERR_DOORBELL 1
/* CQ_HEAD was more than CQ_ENTRIES behind CQ_TAIL (or ahead of it). */
#define WD_DUMMY_V1_ERR_CQ_HEAD 2

/* ---- Queue region ------------------------------------------------------ */

/* Request-ring entries (power of two). */
#define WD_DUMMY_V1_SQ_ENTRIES 256
/* Completion-ring entries (power of two). */
#define WD_DUMMY_V1_CQ_ENTRIES 256
/* Size of one request descriptor in bytes. */
#define WD_DUMMY_V1_REQ_SIZE 32
/* Size of one completion in bytes. */
#define WD_DUMMY_V1_CPL_SIZE 16
/* Byte offset of the request ring in the queue region. */
#define WD_DUMMY_V1_SQ_OFFSET 0
/* Byte offset of the completion ring in the queue region (SQ_ENTRIES * REQ_SIZE). */
#define WD_DUMMY_V1_CQ_OFFSET 8192
/* Size of the queue region in bytes (CQ_OFFSET + CQ_ENTRIES * CPL_SIZE). */
#define WD_DUMMY_V1_QUEUE_SIZE 12288
/* Largest request length in bytes. */
#define WD_DUMMY_V1_MAX_LEN 1048576

/* Request descriptor fields (byte offsets inside one descriptor). */
/* u16: WD_DUMMY_V1_OP_*. */
#define WD_DUMMY_V1_REQ_OFF_OPCODE 0x00
/* u16: must be 0 in v1. */
#define WD_DUMMY_V1_REQ_OFF_FLAGS 0x02
/* u32: caller's cookie, copied to the completion. */
#define WD_DUMMY_V1_REQ_OFF_ID 0x04
/* u64: source IOVA (mapped with VFIO_IOMMU_MAP_DMA). */
#define WD_DUMMY_V1_REQ_OFF_SRC 0x08
/* u64: destination IOVA (COPY only, else 0). */
#define WD_DUMMY_V1_REQ_OFF_DST 0x10
/* u32: length in bytes, 1..MAX_LEN (NOP: 0). */
#define WD_DUMMY_V1_REQ_OFF_LEN 0x18
/* u32: must be 0 in v1. */
#define WD_DUMMY_V1_REQ_OFF_RSVD 0x1c

/* Completion fields (byte offsets inside one completion). */
/* u32: the request's id (WD_DUMMY_V1_ID_NONE for a doorbell error). */
#define WD_DUMMY_V1_CPL_OFF_ID 0x00
/* u16: WD_DUMMY_V1_ST_*. */
#define WD_DUMMY_V1_CPL_OFF_STATUS 0x04
/* u16: the request's opcode as the device read it (0 for a doorbell error). */
#define WD_DUMMY_V1_CPL_OFF_OPCODE 0x06
/* u32: COPY: bytes copied; CSUM: the CRC-32; NOP: 0; doorbell error: the rejected doorbell value; other errors: 0. */
#define WD_DUMMY_V1_CPL_OFF_RESULT 0x08
/* u32: free-running request-ring index of the request (doorbell error: SQ_HEAD). */
#define WD_DUMMY_V1_CPL_OFF_SQ_INDEX 0x0c

/* Opcodes. */
/* Copy len bytes from src to dst (only on a "copy" queue). */
#define WD_DUMMY_V1_OP_COPY 1
/* CRC-32 (IEEE 802.3, as zlib's crc32()) of len bytes at src (only on a "csum" queue). */
#define WD_DUMMY_V1_OP_CSUM 2
/* Does nothing; src, dst, len must be 0 (any queue). */
#define WD_DUMMY_V1_OP_NOP 3

/* Completion status values. */
/* Done. */
#define WD_DUMMY_V1_ST_OK 0
/* Unknown opcode, or an opcode this queue's algorithm does not do. */
#define WD_DUMMY_V1_ST_BAD_OPCODE 1
/* flags or rsvd not 0, or a field the opcode does not use not 0. */
#define WD_DUMMY_V1_ST_BAD_FIELD 2
/* len is 0 or above MAX_LEN. */
#define WD_DUMMY_V1_ST_BAD_LEN 3
/* An IOVA range is not (fully) mapped, not readable/writable, or wraps. */
#define WD_DUMMY_V1_ST_BAD_IOVA 4
/* The doorbell value was out of range; nothing was consumed. */
#define WD_DUMMY_V1_ST_BAD_INDEX 5
/* COPY source and destination IOVA ranges overlap. */
#define WD_DUMMY_V1_ST_OVERLAP 6

/* Completion id of a doorbell error. */
#define WD_DUMMY_V1_ID_NONE 0xffffffff

/* Request descriptor, 32 bytes. */
struct wd_dummy_v1_req {
	__le16 opcode;	/* WD_DUMMY_V1_OP_* */
	__le16 flags;	/* 0 */
	__le32 id;	/* cookie echoed in the completion */
	__le64 src;	/* source IOVA */
	__le64 dst;	/* destination IOVA (COPY), else 0 */
	__le32 len;	/* bytes, 1..MAX_LEN (NOP: 0) */
	__le32 rsvd;	/* 0 */
};

/* Completion, 16 bytes. */
struct wd_dummy_v1_cpl {
	__le32 id;	 /* request id, or WD_DUMMY_V1_ID_NONE */
	__le16 status;	 /* WD_DUMMY_V1_ST_* */
	__le16 opcode;	 /* request opcode as read */
	__le32 result;	 /* see WD_DUMMY_V1_CPL_OFF_RESULT */
	__le32 sq_index; /* free-running request index */
};

_Static_assert(sizeof(struct wd_dummy_v1_req) == WD_DUMMY_V1_REQ_SIZE,
	       "request size");
_Static_assert(sizeof(struct wd_dummy_v1_cpl) == WD_DUMMY_V1_CPL_SIZE,
	       "completion size");
_Static_assert(offsetof(struct wd_dummy_v1_req, opcode) == WD_DUMMY_V1_REQ_OFF_OPCODE &&
	       offsetof(struct wd_dummy_v1_req, flags) == WD_DUMMY_V1_REQ_OFF_FLAGS &&
	       offsetof(struct wd_dummy_v1_req, id) == WD_DUMMY_V1_REQ_OFF_ID &&
	       offsetof(struct wd_dummy_v1_req, src) == WD_DUMMY_V1_REQ_OFF_SRC &&
	       offsetof(struct wd_dummy_v1_req, dst) == WD_DUMMY_V1_REQ_OFF_DST &&
	       offsetof(struct wd_dummy_v1_req, len) == WD_DUMMY_V1_REQ_OFF_LEN &&
	       offsetof(struct wd_dummy_v1_req, rsvd) == WD_DUMMY_V1_REQ_OFF_RSVD,
	       "request field offsets");
_Static_assert(offsetof(struct wd_dummy_v1_cpl, id) == WD_DUMMY_V1_CPL_OFF_ID &&
	       offsetof(struct wd_dummy_v1_cpl, status) == WD_DUMMY_V1_CPL_OFF_STATUS &&
	       offsetof(struct wd_dummy_v1_cpl, opcode) == WD_DUMMY_V1_CPL_OFF_OPCODE &&
	       offsetof(struct wd_dummy_v1_cpl, result) == WD_DUMMY_V1_CPL_OFF_RESULT &&
	       offsetof(struct wd_dummy_v1_cpl, sq_index) == WD_DUMMY_V1_CPL_OFF_SQ_INDEX,
	       "completion field offsets");
_Static_assert(WD_DUMMY_V1_CQ_OFFSET ==
	       WD_DUMMY_V1_SQ_OFFSET + WD_DUMMY_V1_SQ_ENTRIES * WD_DUMMY_V1_REQ_SIZE,
	       "completion ring follows the request ring");
_Static_assert(WD_DUMMY_V1_QUEUE_SIZE ==
	       WD_DUMMY_V1_CQ_OFFSET + WD_DUMMY_V1_CQ_ENTRIES * WD_DUMMY_V1_CPL_SIZE,
	       "queue region size");
_Static_assert((WD_DUMMY_V1_SQ_ENTRIES & (WD_DUMMY_V1_SQ_ENTRIES - 1)) == 0,
	       "request ring size is a power of two");
_Static_assert((WD_DUMMY_V1_CQ_ENTRIES & (WD_DUMMY_V1_CQ_ENTRIES - 1)) == 0,
	       "completion ring size is a power of two");

#endif /* WD_DUMMY_V1_H */

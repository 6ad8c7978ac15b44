/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * uacce_dummy_v1: the queue protocol of the dummy UACCE accelerator.
 *
 * Shared by the kernel module (uacce_dummy.c); the TypeScript driver reads the
 * same constants from src/drivers/uacce_dummy_v1_layout.ts and follows
 * PROTOCOL_UACCE.md, which says the same in prose. A unit test checks that the
 * three agree. Every multi-byte value is little-endian and naturally aligned.
 *
 * Every constant is a plain "#define NAME value" line so that a test can
 * parse this file and compare it with another implementation's layout.
 */
#ifndef UACCE_DUMMY_V1_H
#define UACCE_DUMMY_V1_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/stddef.h>
#else
#include <stddef.h>
#endif

/* The api string of every uacce_dummy device (sysfs "api"). */
#define UACCE_DUMMY_V1_API "uacce_dummy_v1"

/* ---- UACCE regions ----------------------------------------------------- */

/* Region type of the register page: mmap offset QFRT * page size (UACCE_QFRT_MMIO). */
#define UACCE_DUMMY_V1_QFRT_MMIO 0
/* Region type of the device user share (rings, then the buffer arena) (UACCE_QFRT_DUS). */
#define UACCE_DUMMY_V1_QFRT_DUS 1
/* Size of the MMIO region in bytes (one 4 KiB page; sysfs region_mmio_size). */
#define UACCE_DUMMY_V1_MMIO_SIZE 4096
/* Size of the DUS region in bytes (ARENA_OFFSET + ARENA_SIZE; sysfs region_dus_size). */
#define UACCE_DUMMY_V1_DUS_SIZE 274432
/* UACCE flags the device registers with (no UACCE_DEV_SVA). */
#define UACCE_DUMMY_V1_FLAGS 0
/* Default number of queues (open files) per device; module parameter "queues". */
#define UACCE_DUMMY_V1_DEFAULT_QUEUES 2

/* ---- MMIO registers (byte offsets, all 32-bit unless noted) ------------ */

/* ro: UACCE_DUMMY_V1_MAGIC. */
#define UACCE_DUMMY_V1_REG_MAGIC 0x000
/* ro: UACCE_DUMMY_V1_VERSION. */
#define UACCE_DUMMY_V1_REG_VERSION 0x004
/* ro: number of request-ring entries (UACCE_DUMMY_V1_SQ_ENTRIES). */
#define UACCE_DUMMY_V1_REG_SQ_ENTRIES 0x008
/* ro: number of completion-ring entries (UACCE_DUMMY_V1_CQ_ENTRIES). */
#define UACCE_DUMMY_V1_REG_CQ_ENTRIES 0x00c
/* ro: largest accepted request length in bytes (UACCE_DUMMY_V1_MAX_LEN). */
#define UACCE_DUMMY_V1_REG_MAX_LEN 0x010
/* ro: byte offset of the request ring inside the DUS region. */
#define UACCE_DUMMY_V1_REG_SQ_OFFSET 0x014
/* ro: byte offset of the completion ring inside the DUS region. */
#define UACCE_DUMMY_V1_REG_CQ_OFFSET 0x018
/* ro: the device's algorithms as UACCE_DUMMY_V1_ALGO_* bits. */
#define UACCE_DUMMY_V1_REG_ALGOS 0x01c
/* ro: byte offset of the buffer arena inside the DUS region. */
#define UACCE_DUMMY_V1_REG_ARENA_OFFSET 0x020
/* ro: size of the buffer arena in bytes. */
#define UACCE_DUMMY_V1_REG_ARENA_SIZE 0x024
/* ro: size of the DUS region in bytes. */
#define UACCE_DUMMY_V1_REG_DUS_SIZE 0x028

/* User-written registers (own cache line). */
/* wo by user: the doorbell; store the new request-ring tail (free-running). */
#define UACCE_DUMMY_V1_REG_DOORBELL 0x040
/* wo by user: completion-ring head (free-running count of completions consumed). */
#define UACCE_DUMMY_V1_REG_CQ_HEAD 0x044

/* Kernel-written registers (own cache line); user stores here are ignored. */
/* ro: request-ring head (free-running count of requests consumed). */
#define UACCE_DUMMY_V1_REG_SQ_HEAD 0x080
/* ro: completion-ring tail (free-running count of completions written). */
#define UACCE_DUMMY_V1_REG_CQ_TAIL 0x084
/* ro: UACCE_DUMMY_V1_STATUS_* bits. */
#define UACCE_DUMMY_V1_REG_STATUS 0x088
/* ro: first queue-level error (UACCE_DUMMY_V1_ERR_*), sticky until the queue is released. */
#define UACCE_DUMMY_V1_REG_ERROR 0x08c
/* ro, 64-bit: requests completed with UACCE_DUMMY_V1_ST_OK since START_Q. */
#define UACCE_DUMMY_V1_REG_COMPLETED 0x090
/* ro, 64-bit: error completions written since START_Q. */
#define UACCE_DUMMY_V1_REG_FAILED 0x098

/* Value of REG_MAGIC: "UAD1" read as a big-endian word. */
#define UACCE_DUMMY_V1_MAGIC 0x55414431
/* Value of REG_VERSION. */
#define UACCE_DUMMY_V1_VERSION 1

/* REG_ALGOS bits. */
/* The device does UACCE_DUMMY_V1_OP_COPY (algorithm "copy"). */
#define UACCE_DUMMY_V1_ALGO_COPY 0x1
/* The device does UACCE_DUMMY_V1_OP_CRC32 (algorithm "crc32"). */
#define UACCE_DUMMY_V1_ALGO_CRC32 0x2

/* REG_STATUS bits. */
/* The queue is started (UACCE_CMD_START_Q) and the device polls the doorbell. */
#define UACCE_DUMMY_V1_STATUS_READY 0x1
/* REG_ERROR is non-zero. */
#define UACCE_DUMMY_V1_STATUS_ERROR 0x2

/* REG_ERROR values (queue-level errors). */
/* No error. */
#define UACCE_DUMMY_V1_ERR_NONE 0
/* A doorbell value was more than SQ_ENTRIES ahead of SQ_HEAD. */
#define UACCE_DUMMY_V1_ERR_DOORBELL 1
/* CQ_HEAD was more than CQ_ENTRIES behind CQ_TAIL (or ahead of it). */
#define UACCE_DUMMY_V1_ERR_CQ_HEAD 2

/* ---- DUS region -------------------------------------------------------- */

/* Request-ring entries (power of two). */
#define UACCE_DUMMY_V1_SQ_ENTRIES 256
/* Completion-ring entries (power of two). */
#define UACCE_DUMMY_V1_CQ_ENTRIES 256
/* Size of one request descriptor in bytes. */
#define UACCE_DUMMY_V1_REQ_SIZE 32
/* Size of one completion in bytes. */
#define UACCE_DUMMY_V1_CPL_SIZE 16
/* Byte offset of the request ring in the DUS region. */
#define UACCE_DUMMY_V1_SQ_OFFSET 0
/* Byte offset of the completion ring in the DUS region (SQ_ENTRIES * REQ_SIZE). */
#define UACCE_DUMMY_V1_CQ_OFFSET 8192
/* Byte offset of the buffer arena in the DUS region (CQ_OFFSET + CQ_ENTRIES * CPL_SIZE). */
#define UACCE_DUMMY_V1_ARENA_OFFSET 12288
/* Size of the buffer arena in bytes (256 KiB). */
#define UACCE_DUMMY_V1_ARENA_SIZE 262144
/* Largest request length in bytes (the whole arena). */
#define UACCE_DUMMY_V1_MAX_LEN 262144

/* Request descriptor fields (byte offsets inside one descriptor). */
/* u16: UACCE_DUMMY_V1_OP_*. */
#define UACCE_DUMMY_V1_REQ_OFF_OPCODE 0x00
/* u16: must be 0 in v1. */
#define UACCE_DUMMY_V1_REQ_OFF_FLAGS 0x02
/* u32: caller's cookie, copied to the completion. */
#define UACCE_DUMMY_V1_REQ_OFF_ID 0x04
/* u64: source, a byte offset into the DUS region inside the arena. */
#define UACCE_DUMMY_V1_REQ_OFF_SRC 0x08
/* u64: destination, a DUS byte offset inside the arena (COPY only, else 0). */
#define UACCE_DUMMY_V1_REQ_OFF_DST 0x10
/* u32: length in bytes, 1..MAX_LEN (NOP: 0). */
#define UACCE_DUMMY_V1_REQ_OFF_LEN 0x18
/* u32: must be 0 in v1. */
#define UACCE_DUMMY_V1_REQ_OFF_RSVD 0x1c

/* Completion fields (byte offsets inside one completion). */
/* u32: the request's id (UACCE_DUMMY_V1_ID_NONE for a doorbell error). */
#define UACCE_DUMMY_V1_CPL_OFF_ID 0x00
/* u16: UACCE_DUMMY_V1_ST_*. */
#define UACCE_DUMMY_V1_CPL_OFF_STATUS 0x04
/* u16: the request's opcode as the device read it (0 for a doorbell error). */
#define UACCE_DUMMY_V1_CPL_OFF_OPCODE 0x06
/* u32: COPY: bytes copied; CRC32: the CRC-32; NOP: 0; doorbell error: the rejected doorbell value; other errors: 0. */
#define UACCE_DUMMY_V1_CPL_OFF_RESULT 0x08
/* u32: free-running request-ring index of the request (doorbell error: SQ_HEAD). */
#define UACCE_DUMMY_V1_CPL_OFF_SQ_INDEX 0x0c

/* Opcodes. */
/* Copy len bytes from src to dst (only on a device with algorithm "copy"). */
#define UACCE_DUMMY_V1_OP_COPY 1
/* CRC-32 (IEEE 802.3, as zlib's crc32()) of len bytes at src (only on a device with "crc32"). */
#define UACCE_DUMMY_V1_OP_CRC32 2
/* Does nothing; src, dst, len must be 0 (any device). */
#define UACCE_DUMMY_V1_OP_NOP 3

/* Completion status values. */
/* Done. */
#define UACCE_DUMMY_V1_ST_OK 0
/* Unknown opcode, or an opcode this device's algorithms do not include. */
#define UACCE_DUMMY_V1_ST_BAD_OPCODE 1
/* flags or rsvd not 0, or a field the opcode does not use not 0. */
#define UACCE_DUMMY_V1_ST_BAD_FIELD 2
/* len is 0 or above MAX_LEN. */
#define UACCE_DUMMY_V1_ST_BAD_LEN 3
/* A src or dst range is not wholly inside the buffer arena. */
#define UACCE_DUMMY_V1_ST_BAD_ADDR 4
/* The doorbell value was out of range; nothing was consumed. */
#define UACCE_DUMMY_V1_ST_BAD_INDEX 5
/* COPY source and destination ranges overlap. */
#define UACCE_DUMMY_V1_ST_OVERLAP 6

/* Completion id of a doorbell error. */
#define UACCE_DUMMY_V1_ID_NONE 0xffffffff

/* Request descriptor, 32 bytes. */
struct uacce_dummy_v1_req {
	__le16 opcode;	/* UACCE_DUMMY_V1_OP_* */
	__le16 flags;	/* 0 */
	__le32 id;	/* cookie echoed in the completion */
	__le64 src;	/* source DUS offset */
	__le64 dst;	/* destination DUS offset (COPY), else 0 */
	__le32 len;	/* bytes, 1..MAX_LEN (NOP: 0) */
	__le32 rsvd;	/* 0 */
};

/* Completion, 16 bytes. */
struct uacce_dummy_v1_cpl {
	__le32 id;	 /* request id, or UACCE_DUMMY_V1_ID_NONE */
	__le16 status;	 /* UACCE_DUMMY_V1_ST_* */
	__le16 opcode;	 /* request opcode as read */
	__le32 result;	 /* see UACCE_DUMMY_V1_CPL_OFF_RESULT */
	__le32 sq_index; /* free-running request index */
};

_Static_assert(sizeof(struct uacce_dummy_v1_req) == UACCE_DUMMY_V1_REQ_SIZE,
	       "request size");
_Static_assert(sizeof(struct uacce_dummy_v1_cpl) == UACCE_DUMMY_V1_CPL_SIZE,
	       "completion size");
_Static_assert(offsetof(struct uacce_dummy_v1_req, opcode) == UACCE_DUMMY_V1_REQ_OFF_OPCODE &&
	       offsetof(struct uacce_dummy_v1_req, flags) == UACCE_DUMMY_V1_REQ_OFF_FLAGS &&
	       offsetof(struct uacce_dummy_v1_req, id) == UACCE_DUMMY_V1_REQ_OFF_ID &&
	       offsetof(struct uacce_dummy_v1_req, src) == UACCE_DUMMY_V1_REQ_OFF_SRC &&
	       offsetof(struct uacce_dummy_v1_req, dst) == UACCE_DUMMY_V1_REQ_OFF_DST &&
	       offsetof(struct uacce_dummy_v1_req, len) == UACCE_DUMMY_V1_REQ_OFF_LEN &&
	       offsetof(struct uacce_dummy_v1_req, rsvd) == UACCE_DUMMY_V1_REQ_OFF_RSVD,
	       "request field offsets");
_Static_assert(offsetof(struct uacce_dummy_v1_cpl, id) == UACCE_DUMMY_V1_CPL_OFF_ID &&
	       offsetof(struct uacce_dummy_v1_cpl, status) == UACCE_DUMMY_V1_CPL_OFF_STATUS &&
	       offsetof(struct uacce_dummy_v1_cpl, opcode) == UACCE_DUMMY_V1_CPL_OFF_OPCODE &&
	       offsetof(struct uacce_dummy_v1_cpl, result) == UACCE_DUMMY_V1_CPL_OFF_RESULT &&
	       offsetof(struct uacce_dummy_v1_cpl, sq_index) == UACCE_DUMMY_V1_CPL_OFF_SQ_INDEX,
	       "completion field offsets");
_Static_assert(UACCE_DUMMY_V1_CQ_OFFSET ==
	       UACCE_DUMMY_V1_SQ_OFFSET + UACCE_DUMMY_V1_SQ_ENTRIES * UACCE_DUMMY_V1_REQ_SIZE,
	       "completion ring follows the request ring");
_Static_assert(UACCE_DUMMY_V1_ARENA_OFFSET ==
	       UACCE_DUMMY_V1_CQ_OFFSET + UACCE_DUMMY_V1_CQ_ENTRIES * UACCE_DUMMY_V1_CPL_SIZE,
	       "arena follows the completion ring");
_Static_assert(UACCE_DUMMY_V1_DUS_SIZE ==
	       UACCE_DUMMY_V1_ARENA_OFFSET + UACCE_DUMMY_V1_ARENA_SIZE,
	       "DUS region size");
_Static_assert(UACCE_DUMMY_V1_DUS_SIZE % 4096 == 0 && UACCE_DUMMY_V1_ARENA_OFFSET % 4096 == 0,
	       "DUS region and arena are page-aligned");
_Static_assert(UACCE_DUMMY_V1_MAX_LEN <= UACCE_DUMMY_V1_ARENA_SIZE,
	       "a request fits the arena");
_Static_assert((UACCE_DUMMY_V1_SQ_ENTRIES & (UACCE_DUMMY_V1_SQ_ENTRIES - 1)) == 0,
	       "request ring size is a power of two");
_Static_assert((UACCE_DUMMY_V1_CQ_ENTRIES & (UACCE_DUMMY_V1_CQ_ENTRIES - 1)) == 0,
	       "completion ring size is a power of two");

#endif /* UACCE_DUMMY_V1_H */

/**
 * The `uacce_dummy_v1` queue protocol, as user space sees it. The kernel side writes the same
 * layout in `scripts/rig/kmod/uacce_dummy_v1.h` and the prose in
 * `scripts/rig/kmod/PROTOCOL_UACCE.md`; a unit test parses both and checks every constant here
 * against them, so the three cannot drift.
 *
 * @module
 */

/** The api string of every uacce_dummy device (sysfs "api"). */
export const UACCE_DUMMY_V1_API = "uacce_dummy_v1";
/** Region type of the register page: mmap offset QFRT * page size (UACCE_QFRT_MMIO). */
export const UACCE_DUMMY_V1_QFRT_MMIO = 0;
/** Region type of the device user share (rings, then the buffer arena) (UACCE_QFRT_DUS). */
export const UACCE_DUMMY_V1_QFRT_DUS = 1;
/** Size of the MMIO region in bytes (one 4 KiB page; sysfs region_mmio_size). */
export const UACCE_DUMMY_V1_MMIO_SIZE = 4096;
/** Size of the DUS region in bytes (ARENA_OFFSET + ARENA_SIZE; sysfs region_dus_size). */
export const UACCE_DUMMY_V1_DUS_SIZE = 274432;
/** UACCE flags the device registers with (no UACCE_DEV_SVA). */
export const UACCE_DUMMY_V1_FLAGS = 0;
/** Default number of queues (open files) per device; module parameter "queues". */
export const UACCE_DUMMY_V1_DEFAULT_QUEUES = 2;
/** ro: UACCE_DUMMY_V1_MAGIC. */
export const UACCE_DUMMY_V1_REG_MAGIC = 0x000;
/** ro: UACCE_DUMMY_V1_VERSION. */
export const UACCE_DUMMY_V1_REG_VERSION = 0x004;
/** ro: number of request-ring entries (UACCE_DUMMY_V1_SQ_ENTRIES). */
export const UACCE_DUMMY_V1_REG_SQ_ENTRIES = 0x008;
/** ro: number of completion-ring entries (UACCE_DUMMY_V1_CQ_ENTRIES). */
export const UACCE_DUMMY_V1_REG_CQ_ENTRIES = 0x00c;
/** ro: largest accepted request length in bytes (UACCE_DUMMY_V1_MAX_LEN). */
export const UACCE_DUMMY_V1_REG_MAX_LEN = 0x010;
/** ro: byte offset of the request ring inside the DUS region. */
export const UACCE_DUMMY_V1_REG_SQ_OFFSET = 0x014;
/** ro: byte offset of the completion ring inside the DUS region. */
export const UACCE_DUMMY_V1_REG_CQ_OFFSET = 0x018;
/** ro: the device's algorithms as UACCE_DUMMY_V1_ALGO_* bits. */
export const UACCE_DUMMY_V1_REG_ALGOS = 0x01c;
/** ro: byte offset of the buffer arena inside the DUS region. */
export const UACCE_DUMMY_V1_REG_ARENA_OFFSET = 0x020;
/** ro: size of the buffer arena in bytes. */
export const UACCE_DUMMY_V1_REG_ARENA_SIZE = 0x024;
/** ro: size of the DUS region in bytes. */
export const UACCE_DUMMY_V1_REG_DUS_SIZE = 0x028;
/** wo by user: the doorbell; store the new request-ring tail (free-running). */
export const UACCE_DUMMY_V1_REG_DOORBELL = 0x040;
/** wo by user: completion-ring head (free-running count of completions consumed). */
export const UACCE_DUMMY_V1_REG_CQ_HEAD = 0x044;
/** ro: request-ring head (free-running count of requests consumed). */
export const UACCE_DUMMY_V1_REG_SQ_HEAD = 0x080;
/** ro: completion-ring tail (free-running count of completions written). */
export const UACCE_DUMMY_V1_REG_CQ_TAIL = 0x084;
/** ro: UACCE_DUMMY_V1_STATUS_* bits. */
export const UACCE_DUMMY_V1_REG_STATUS = 0x088;
/** ro: first queue-level error (UACCE_DUMMY_V1_ERR_*), sticky until the queue is released. */
export const UACCE_DUMMY_V1_REG_ERROR = 0x08c;
/** ro, 64-bit: requests completed with UACCE_DUMMY_V1_ST_OK since START_Q. */
export const UACCE_DUMMY_V1_REG_COMPLETED = 0x090;
/** ro, 64-bit: error completions written since START_Q. */
export const UACCE_DUMMY_V1_REG_FAILED = 0x098;
/** Value of REG_MAGIC: "UAD1" read as a big-endian word. */
export const UACCE_DUMMY_V1_MAGIC = 0x55414431;
/** Value of REG_VERSION. */
export const UACCE_DUMMY_V1_VERSION = 1;
/** The device does UACCE_DUMMY_V1_OP_COPY (algorithm "copy"). */
export const UACCE_DUMMY_V1_ALGO_COPY = 0x1;
/** The device does UACCE_DUMMY_V1_OP_CRC32 (algorithm "crc32"). */
export const UACCE_DUMMY_V1_ALGO_CRC32 = 0x2;
/** The queue is started (UACCE_CMD_START_Q) and the device polls the doorbell. */
export const UACCE_DUMMY_V1_STATUS_READY = 0x1;
/** REG_ERROR is non-zero. */
export const UACCE_DUMMY_V1_STATUS_ERROR = 0x2;
/** No error. */
export const UACCE_DUMMY_V1_ERR_NONE = 0;
/** A doorbell value was more than SQ_ENTRIES ahead of SQ_HEAD. */
export const UACCE_DUMMY_V1_ERR_DOORBELL = 1;
/** CQ_HEAD was more than CQ_ENTRIES behind CQ_TAIL (or ahead of it). */
export const UACCE_DUMMY_V1_ERR_CQ_HEAD = 2;
/** Request-ring entries (power of two). */
export const UACCE_DUMMY_V1_SQ_ENTRIES = 256;
/** Completion-ring entries (power of two). */
export const UACCE_DUMMY_V1_CQ_ENTRIES = 256;
/** Size of one request descriptor in bytes. */
export const UACCE_DUMMY_V1_REQ_SIZE = 32;
/** Size of one completion in bytes. */
export const UACCE_DUMMY_V1_CPL_SIZE = 16;
/** Byte offset of the request ring in the DUS region. */
export const UACCE_DUMMY_V1_SQ_OFFSET = 0;
/** Byte offset of the completion ring in the DUS region (SQ_ENTRIES * REQ_SIZE). */
export const UACCE_DUMMY_V1_CQ_OFFSET = 8192;
/** Byte offset of the buffer arena in the DUS region (CQ_OFFSET + CQ_ENTRIES * CPL_SIZE). */
export const UACCE_DUMMY_V1_ARENA_OFFSET = 12288;
/** Size of the buffer arena in bytes (256 KiB). */
export const UACCE_DUMMY_V1_ARENA_SIZE = 262144;
/** Largest request length in bytes (the whole arena). */
export const UACCE_DUMMY_V1_MAX_LEN = 262144;
/** u16: UACCE_DUMMY_V1_OP_*. */
export const UACCE_DUMMY_V1_REQ_OFF_OPCODE = 0x00;
/** u16: must be 0 in v1. */
export const UACCE_DUMMY_V1_REQ_OFF_FLAGS = 0x02;
/** u32: caller's cookie, copied to the completion. */
export const UACCE_DUMMY_V1_REQ_OFF_ID = 0x04;
/** u64: source, a byte offset into the DUS region inside the arena. */
export const UACCE_DUMMY_V1_REQ_OFF_SRC = 0x08;
/** u64: destination, a DUS byte offset inside the arena (COPY only, else 0). */
export const UACCE_DUMMY_V1_REQ_OFF_DST = 0x10;
/** u32: length in bytes, 1..MAX_LEN (NOP: 0). */
export const UACCE_DUMMY_V1_REQ_OFF_LEN = 0x18;
/** u32: must be 0 in v1. */
export const UACCE_DUMMY_V1_REQ_OFF_RSVD = 0x1c;
/** u32: the request's id (UACCE_DUMMY_V1_ID_NONE for a doorbell error). */
export const UACCE_DUMMY_V1_CPL_OFF_ID = 0x00;
/** u16: UACCE_DUMMY_V1_ST_*. */
export const UACCE_DUMMY_V1_CPL_OFF_STATUS = 0x04;
/** u16: the request's opcode as the device read it (0 for a doorbell error). */
export const UACCE_DUMMY_V1_CPL_OFF_OPCODE = 0x06;
/** u32: COPY: bytes copied; CRC32: the CRC-32; NOP: 0; doorbell error: the rejected doorbell value; other errors: 0. */
export const UACCE_DUMMY_V1_CPL_OFF_RESULT = 0x08;
/** u32: free-running request-ring index of the request (doorbell error: SQ_HEAD). */
export const UACCE_DUMMY_V1_CPL_OFF_SQ_INDEX = 0x0c;
/** Copy len bytes from src to dst (only on a device with algorithm "copy"). */
export const UACCE_DUMMY_V1_OP_COPY = 1;
/** CRC-32 (IEEE 802.3, as zlib's crc32()) of len bytes at src (only on a device with "crc32"). */
export const UACCE_DUMMY_V1_OP_CRC32 = 2;
/** Does nothing; src, dst, len must be 0 (any device). */
export const UACCE_DUMMY_V1_OP_NOP = 3;
/** Done. */
export const UACCE_DUMMY_V1_ST_OK = 0;
/** Unknown opcode, or an opcode this device's algorithms do not include. */
export const UACCE_DUMMY_V1_ST_BAD_OPCODE = 1;
/** flags or rsvd not 0, or a field the opcode does not use not 0. */
export const UACCE_DUMMY_V1_ST_BAD_FIELD = 2;
/** len is 0 or above MAX_LEN. */
export const UACCE_DUMMY_V1_ST_BAD_LEN = 3;
/** A src or dst range is not wholly inside the buffer arena. */
export const UACCE_DUMMY_V1_ST_BAD_ADDR = 4;
/** The doorbell value was out of range; nothing was consumed. */
export const UACCE_DUMMY_V1_ST_BAD_INDEX = 5;
/** COPY source and destination ranges overlap. */
export const UACCE_DUMMY_V1_ST_OVERLAP = 6;
/** Completion id of a doorbell error. */
export const UACCE_DUMMY_V1_ID_NONE = 0xffffffff;

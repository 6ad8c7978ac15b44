/**
 * The `wd_dummy_v1` ring protocol, as user space sees it. The kernel side writes the same
 * layout in `scripts/rig/kmod/wd_dummy_v1.h`; a unit test parses that header and checks every
 * constant here against it, so the two cannot drift.
 *
 * @module
 */

/** The device_api string of every wd_dummy type (sysfs "device_api"). */
export const WD_DUMMY_V1_API = "wd_dummy_v1";
/** Region index of the control page (registers below). */
export const WD_DUMMY_V1_CTRL_REGION = 0;
/** Region index of the queue memory (request ring, then completion ring). */
export const WD_DUMMY_V1_QUEUE_REGION = 1;
/** Number of regions VFIO_DEVICE_GET_INFO reports. */
export const WD_DUMMY_V1_NUM_REGIONS = 2;
/** Region file offsets are index << 40; use the offset VFIO_DEVICE_GET_REGION_INFO returns. */
export const WD_DUMMY_V1_REGION_SHIFT = 40;
/** Size of the control region in bytes (one 4 KiB page). */
export const WD_DUMMY_V1_CTRL_SIZE = 4096;
/** IRQ index of the completion interrupt (VFIO_DEVICE_SET_IRQS `index`). */
export const WD_DUMMY_V1_IRQ_CQ = 0;
/** Number of IRQ indexes VFIO_DEVICE_GET_INFO reports (one vector each). */
export const WD_DUMMY_V1_NUM_IRQS = 1;
/** ro: WD_DUMMY_V1_MAGIC. */
export const WD_DUMMY_V1_REG_MAGIC = 0x000;
/** ro: WD_DUMMY_V1_VERSION. */
export const WD_DUMMY_V1_REG_VERSION = 0x004;
/** ro: number of request-ring entries (WD_DUMMY_V1_SQ_ENTRIES). */
export const WD_DUMMY_V1_REG_SQ_ENTRIES = 0x008;
/** ro: number of completion-ring entries (WD_DUMMY_V1_CQ_ENTRIES). */
export const WD_DUMMY_V1_REG_CQ_ENTRIES = 0x00c;
/** ro: largest accepted request length in bytes (WD_DUMMY_V1_MAX_LEN). */
export const WD_DUMMY_V1_REG_MAX_LEN = 0x010;
/** ro: byte offset of the request ring inside the queue region. */
export const WD_DUMMY_V1_REG_SQ_OFFSET = 0x014;
/** ro: byte offset of the completion ring inside the queue region. */
export const WD_DUMMY_V1_REG_CQ_OFFSET = 0x018;
/** ro: the queue's own opcode (WD_DUMMY_V1_OP_COPY or WD_DUMMY_V1_OP_CSUM). */
export const WD_DUMMY_V1_REG_ALGO_OP = 0x01c;
/** wo by user: the doorbell; store the new request-ring tail (free-running). */
export const WD_DUMMY_V1_REG_DOORBELL = 0x040;
/** wo by user: completion-ring head (free-running count of completions consumed). */
export const WD_DUMMY_V1_REG_CQ_HEAD = 0x044;
/** wo by user: store a value other than the last one to arm the completion interrupt once. */
export const WD_DUMMY_V1_REG_IRQ_ARM = 0x048;
/** ro: request-ring head (free-running count of requests consumed). */
export const WD_DUMMY_V1_REG_SQ_HEAD = 0x080;
/** ro: completion-ring tail (free-running count of completions written). */
export const WD_DUMMY_V1_REG_CQ_TAIL = 0x084;
/** ro: WD_DUMMY_V1_STATUS_* bits. */
export const WD_DUMMY_V1_REG_STATUS = 0x088;
/** ro: first queue-level error (WD_DUMMY_V1_ERR_*), sticky until reset. */
export const WD_DUMMY_V1_REG_ERROR = 0x08c;
/** ro, 64-bit: requests completed with WD_DUMMY_V1_ST_OK since open/reset. */
export const WD_DUMMY_V1_REG_COMPLETED = 0x090;
/** ro, 64-bit: error completions written since open/reset. */
export const WD_DUMMY_V1_REG_FAILED = 0x098;
/** Value of REG_MAGIC: "WDD1" read as a big-endian word. */
export const WD_DUMMY_V1_MAGIC = 0x57444431;
/** Value of REG_VERSION. */
export const WD_DUMMY_V1_VERSION = 1;
/** The queue is open and the device polls the doorbell. */
export const WD_DUMMY_V1_STATUS_READY = 0x1;
/** REG_ERROR is non-zero. */
export const WD_DUMMY_V1_STATUS_ERROR = 0x2;
/** The administrator asked to remove this mediated device: close it. */
export const WD_DUMMY_V1_STATUS_REMOVE_REQUESTED = 0x4;
/** No error. */
export const WD_DUMMY_V1_ERR_NONE = 0;
/** A doorbell value was more than SQ_ENTRIES ahead of SQ_HEAD. */
export const WD_DUMMY_V1_ERR_DOORBELL = 1;
/** CQ_HEAD was more than CQ_ENTRIES behind CQ_TAIL (or ahead of it). */
export const WD_DUMMY_V1_ERR_CQ_HEAD = 2;
/** Request-ring entries (power of two). */
export const WD_DUMMY_V1_SQ_ENTRIES = 256;
/** Completion-ring entries (power of two). */
export const WD_DUMMY_V1_CQ_ENTRIES = 256;
/** Size of one request descriptor in bytes. */
export const WD_DUMMY_V1_REQ_SIZE = 32;
/** Size of one completion in bytes. */
export const WD_DUMMY_V1_CPL_SIZE = 16;
/** Byte offset of the request ring in the queue region. */
export const WD_DUMMY_V1_SQ_OFFSET = 0;
/** Byte offset of the completion ring in the queue region (SQ_ENTRIES * REQ_SIZE). */
export const WD_DUMMY_V1_CQ_OFFSET = 8192;
/** Size of the queue region in bytes (CQ_OFFSET + CQ_ENTRIES * CPL_SIZE). */
export const WD_DUMMY_V1_QUEUE_SIZE = 12288;
/** Largest request length in bytes. */
export const WD_DUMMY_V1_MAX_LEN = 1048576;
/** u16: WD_DUMMY_V1_OP_*. */
export const WD_DUMMY_V1_REQ_OFF_OPCODE = 0x00;
/** u16: must be 0 in v1. */
export const WD_DUMMY_V1_REQ_OFF_FLAGS = 0x02;
/** u32: caller's cookie, copied to the completion. */
export const WD_DUMMY_V1_REQ_OFF_ID = 0x04;
/** u64: source IOVA (mapped with VFIO_IOMMU_MAP_DMA). */
export const WD_DUMMY_V1_REQ_OFF_SRC = 0x08;
/** u64: destination IOVA (COPY only, else 0). */
export const WD_DUMMY_V1_REQ_OFF_DST = 0x10;
/** u32: length in bytes, 1..MAX_LEN (NOP: 0). */
export const WD_DUMMY_V1_REQ_OFF_LEN = 0x18;
/** u32: must be 0 in v1. */
export const WD_DUMMY_V1_REQ_OFF_RSVD = 0x1c;
/** u32: the request's id (WD_DUMMY_V1_ID_NONE for a doorbell error). */
export const WD_DUMMY_V1_CPL_OFF_ID = 0x00;
/** u16: WD_DUMMY_V1_ST_*. */
export const WD_DUMMY_V1_CPL_OFF_STATUS = 0x04;
/** u16: the request's opcode as the device read it (0 for a doorbell error). */
export const WD_DUMMY_V1_CPL_OFF_OPCODE = 0x06;
/** u32: COPY: bytes copied; CSUM: the CRC-32; NOP: 0; doorbell error: the rejected doorbell value; other errors: 0. */
export const WD_DUMMY_V1_CPL_OFF_RESULT = 0x08;
/** u32: free-running request-ring index of the request (doorbell error: SQ_HEAD). */
export const WD_DUMMY_V1_CPL_OFF_SQ_INDEX = 0x0c;
/** Copy len bytes from src to dst (only on a "copy" queue). */
export const WD_DUMMY_V1_OP_COPY = 1;
/** CRC-32 (IEEE 802.3, as zlib's crc32()) of len bytes at src (only on a "csum" queue). */
export const WD_DUMMY_V1_OP_CSUM = 2;
/** Does nothing; src, dst, len must be 0 (any queue). */
export const WD_DUMMY_V1_OP_NOP = 3;
/** Done. */
export const WD_DUMMY_V1_ST_OK = 0;
/** Unknown opcode, or an opcode this queue's algorithm does not do. */
export const WD_DUMMY_V1_ST_BAD_OPCODE = 1;
/** flags or rsvd not 0, or a field the opcode does not use not 0. */
export const WD_DUMMY_V1_ST_BAD_FIELD = 2;
/** len is 0 or above MAX_LEN. */
export const WD_DUMMY_V1_ST_BAD_LEN = 3;
/** An IOVA range is not (fully) mapped, not readable/writable, or wraps. */
export const WD_DUMMY_V1_ST_BAD_IOVA = 4;
/** The doorbell value was out of range; nothing was consumed. */
export const WD_DUMMY_V1_ST_BAD_INDEX = 5;
/** COPY source and destination IOVA ranges overlap. */
export const WD_DUMMY_V1_ST_OVERLAP = 6;
/** Completion id of a doorbell error. */
export const WD_DUMMY_V1_ID_NONE = 0xffffffff;

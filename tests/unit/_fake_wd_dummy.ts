/**
 * A user-space stand-in for the dummy accelerator's worker, for driver and queue tests
 * without a kernel: it serves the wd_dummy_v1 rings in two anonymous mappings, the way
 * the kernel module does (see scripts/rig/kmod/PROTOCOL.md), with DMA through a table of
 * IOVA → buffer. The kernel module itself is tested in the rig.
 */
import type { EventFd } from "../../src/sys/eventfd.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import type { DriverContext } from "../../src/drivers/mod.ts";

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}
export { crc32 };

export class FakeDummyDevice {
  readonly ctrl: MappedMemory = MappedMemory.anonymous(L.WD_DUMMY_V1_CTRL_SIZE, { label: "fake control page" });
  readonly queue: MappedMemory = MappedMemory.anonymous(L.WD_DUMMY_V1_QUEUE_SIZE, { label: "fake queue region" });
  readonly dma = new Map<number, Uint8Array>();
  processed = 0;

  constructor(algoOp: number = L.WD_DUMMY_V1_OP_COPY) {
    const c = this.ctrl;
    c.write32(L.WD_DUMMY_V1_REG_MAGIC, L.WD_DUMMY_V1_MAGIC);
    c.write32(L.WD_DUMMY_V1_REG_VERSION, L.WD_DUMMY_V1_VERSION);
    c.write32(L.WD_DUMMY_V1_REG_SQ_ENTRIES, L.WD_DUMMY_V1_SQ_ENTRIES);
    c.write32(L.WD_DUMMY_V1_REG_CQ_ENTRIES, L.WD_DUMMY_V1_CQ_ENTRIES);
    c.write32(L.WD_DUMMY_V1_REG_MAX_LEN, L.WD_DUMMY_V1_MAX_LEN);
    c.write32(L.WD_DUMMY_V1_REG_SQ_OFFSET, L.WD_DUMMY_V1_SQ_OFFSET);
    c.write32(L.WD_DUMMY_V1_REG_CQ_OFFSET, L.WD_DUMMY_V1_CQ_OFFSET);
    c.write32(L.WD_DUMMY_V1_REG_ALGO_OP, algoOp);
    c.write32(L.WD_DUMMY_V1_REG_STATUS, L.WD_DUMMY_V1_STATUS_READY);
  }

  /** A driver context whose regions are this device's mappings. */
  context(alg = "copy"): DriverContext {
    return {
      alg,
      device: "fake-wd-dummy",
      regionCount: 2,
      mapRegion: (i: number) => (i === 0 ? this.ctrl : i === 1 ? this.queue : (() => { throw new RangeError(`no region ${i}`); })()),
    };
  }

  #range(iova: number, len: number): Uint8Array | null {
    for (const [base, buf] of this.dma) {
      if (iova >= base && iova + len <= base + buf.length) return buf.subarray(iova - base, iova - base + len);
    }
    return null;
  }

  /** Consumes every request up to the doorbell and writes its completion. Returns how many. */
  step(): number {
    const c = this.ctrl;
    const doorbell = c.read32(L.WD_DUMMY_V1_REG_DOORBELL);
    let head = c.read32(L.WD_DUMMY_V1_REG_SQ_HEAD);
    let cqTail = c.read32(L.WD_DUMMY_V1_REG_CQ_TAIL);
    let n = 0;
    while (head !== doorbell) {
      const cqHead = c.read32(L.WD_DUMMY_V1_REG_CQ_HEAD);
      if (((cqTail - cqHead) >>> 0) >= L.WD_DUMMY_V1_CQ_ENTRIES) break; // completion ring full: wait
      const d = L.WD_DUMMY_V1_SQ_OFFSET + (head & (L.WD_DUMMY_V1_SQ_ENTRIES - 1)) * L.WD_DUMMY_V1_REQ_SIZE;
      const q = this.queue;
      const opcode = q.read16(d + L.WD_DUMMY_V1_REQ_OFF_OPCODE);
      const id = q.read32(d + L.WD_DUMMY_V1_REQ_OFF_ID);
      const src = Number(q.read64(d + L.WD_DUMMY_V1_REQ_OFF_SRC));
      const dst = Number(q.read64(d + L.WD_DUMMY_V1_REQ_OFF_DST));
      const len = q.read32(d + L.WD_DUMMY_V1_REQ_OFF_LEN);
      const flags = q.read16(d + L.WD_DUMMY_V1_REQ_OFF_FLAGS);
      let status = L.WD_DUMMY_V1_ST_OK;
      let result = 0;
      const algo = c.read32(L.WD_DUMMY_V1_REG_ALGO_OP);
      const rsvd = q.read32(d + L.WD_DUMMY_V1_REQ_OFF_RSVD);
      // The module's order of checks (scripts/rig/kmod/wd_dummy.c, wd_execute).
      if (opcode === L.WD_DUMMY_V1_OP_NOP) {
        if (flags !== 0 || rsvd !== 0 || src !== 0 || dst !== 0 || len !== 0) status = L.WD_DUMMY_V1_ST_BAD_FIELD;
      } else if (opcode !== algo) status = L.WD_DUMMY_V1_ST_BAD_OPCODE;
      else if (flags !== 0 || rsvd !== 0 || (opcode === L.WD_DUMMY_V1_OP_CSUM && dst !== 0)) status = L.WD_DUMMY_V1_ST_BAD_FIELD;
      else if (len === 0 || len > L.WD_DUMMY_V1_MAX_LEN) status = L.WD_DUMMY_V1_ST_BAD_LEN;
      else if (opcode === L.WD_DUMMY_V1_OP_COPY) {
        const s = this.#range(src, len);
        const t = this.#range(dst, len);
        if (s === null || t === null) status = L.WD_DUMMY_V1_ST_BAD_IOVA;
        else {
          t.set(s);
          result = len;
        }
      } else if (opcode === L.WD_DUMMY_V1_OP_CSUM) {
        const s = this.#range(src, len);
        if (s === null) status = L.WD_DUMMY_V1_ST_BAD_IOVA;
        else result = crc32(s);
      }
      const e = L.WD_DUMMY_V1_CQ_OFFSET + (cqTail & (L.WD_DUMMY_V1_CQ_ENTRIES - 1)) * L.WD_DUMMY_V1_CPL_SIZE;
      q.write32(e + L.WD_DUMMY_V1_CPL_OFF_ID, id);
      q.write16(e + L.WD_DUMMY_V1_CPL_OFF_STATUS, status);
      q.write16(e + L.WD_DUMMY_V1_CPL_OFF_OPCODE, opcode);
      q.write32(e + L.WD_DUMMY_V1_CPL_OFF_RESULT, result);
      q.write32(e + L.WD_DUMMY_V1_CPL_OFF_SQ_INDEX, head);
      head = (head + 1) >>> 0;
      cqTail = (cqTail + 1) >>> 0;
      c.write32(L.WD_DUMMY_V1_REG_SQ_HEAD, head);
      c.write32(L.WD_DUMMY_V1_REG_CQ_TAIL, cqTail);
      n++;
    }
    this.processed += n;
    this.checkIrq();
    return n;
  }

  /** The completion interrupt's eventfd, once the queue attached one. */
  irq: EventFd | undefined;
  /** Signals sent on `irq`. */
  irqs = 0;
  #armSeen = 0;

  /** The module's wd_irq_check: fire once per arming when a completion is unconsumed. */
  checkIrq(): void {
    const c = this.ctrl;
    const arm = c.read32(L.WD_DUMMY_V1_REG_IRQ_ARM);
    if (arm === this.#armSeen) return;
    if (c.read32(L.WD_DUMMY_V1_REG_CQ_HEAD) === c.read32(L.WD_DUMMY_V1_REG_CQ_TAIL)) return;
    this.#armSeen = arm;
    if (this.irq !== undefined && !this.irq.closed) {
      this.irq.signal();
      this.irqs++;
    }
  }

  close(): void {
    this.ctrl.close();
    this.queue.close();
  }
}

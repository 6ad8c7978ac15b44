// Shared pieces of the edu kernel tests: the rig check, edu's register map (QEMU
// docs/specs/edu.rst), and polling. Not a test file itself.
import { expect } from "bun:test";
import { readdirSync } from "node:fs";
import process from "node:process";
import type { MappedMemory } from "../../src/sys/mod.ts";

const OUTSIDE =
  "tests/kernel runs only inside the kernel rig (WD_RIG=1 is not set): use `npm run test:kernel` or `bash scripts/rig.sh test`";

/** edu's PCI address from the rig; fails (never skips) outside the rig. */
export function eduBdf(): string {
  if (process.env["WD_RIG"] !== "1") throw new Error(OUTSIDE);
  const bdf = process.env["WD_EDU_BDF"] ?? "";
  expect(bdf).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
  return bdf;
}

/** edu's BAR0 registers. */
export const EDU = {
  ID: 0x00,
  LIVENESS: 0x04,
  FACTORIAL: 0x08,
  STATUS: 0x20,
  STATUS_COMPUTING: 0x01,
  STATUS_IRQ_FACT: 0x80,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  DMA_CMD_START: 0x01,
  DMA_CMD_TO_RAM: 0x02,
  DMA_CMD_IRQ: 0x04,
  DMA_BUFFER: 0x40000,
  FACT_IRQ: 0x1,
  DMA_IRQ: 0x100,
  ID_VALUE: 0x010000ed,
  VENDOR: 0x1234,
  DEVICE: 0x11e8,
} as const;

/** Spins (yielding to the event loop) until `done()` or the deadline. */
export async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Waits for a DMA to finish (the start bit clears). */
export async function dmaDone(regs: MappedMemory): Promise<void> {
  await until("edu DMA to finish", () => (regs.read64(EDU.DMA_CMD) & BigInt(EDU.DMA_CMD_START)) === 0n);
}

/** The number of open fds of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** n! modulo 2^32, as edu computes it. */
export function factorial32(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r = Math.imul(r, i) >>> 0;
  return r >>> 0;
}

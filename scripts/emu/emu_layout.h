/* SPDX-License-Identifier: MIT */
/*
 * The shared memory of the wd_dummy_v1 emulator (wd_emu.c): one memfd, laid out as below.
 * Offsets are multiples of 64 KiB so that each part can be mapped on its own with any page
 * size. Every constant is a plain "#define NAME value" line: scripts/emu/emulator.ts holds
 * the same values and tests/unit/emu_layout.test.ts compares them with this file.
 */
#ifndef EMU_LAYOUT_H
#define EMU_LAYOUT_H

/* Region 0, the control page (WD_DUMMY_V1_CTRL_SIZE bytes used). */
#define EMU_CTRL_OFFSET 0x0
/* Region 1, the queue rings (WD_DUMMY_V1_QUEUE_SIZE bytes used). */
#define EMU_QUEUE_OFFSET 0x10000
/* The host page: commands, counters and the DMA page map; not part of the device. */
#define EMU_HOST_OFFSET 0x20000
/* The DMA arena: the rest of the memfd. */
#define EMU_ARENA_OFFSET 0x40000

/* The IOVA of the arena's first byte: IOVA = EMU_IOVA_BASE + offset in the arena. */
#define EMU_IOVA_BASE 0x40000000
/* The granule of the DMA page map. */
#define EMU_IOVA_PAGE 4096

/* Host page fields (byte offsets from EMU_HOST_OFFSET). */
/* u32, client: the command (EMU_CMD_*). */
#define EMU_HOST_CMD 0x00
/* u32, client: bumped after writing CMD; the emulator runs the command once per value. */
#define EMU_HOST_SEQ 0x04
/* u32, emulator: the last SEQ it ran (equal to SEQ when it is done). */
#define EMU_HOST_ACK 0x08
/* u32, emulator: EMU_STATE_*. */
#define EMU_HOST_STATE 0x0c
/* u32, emulator: its process id. */
#define EMU_HOST_PID 0x10
/* u32, client: non-zero while the completion eventfd is attached (fd 4). */
#define EMU_HOST_IRQ_ATTACHED 0x14
/* u64, emulator: completion interrupts signalled. */
#define EMU_HOST_IRQS 0x18
/* u64, emulator: DMA accesses refused (IOVA not mapped). */
#define EMU_HOST_IOVA_FAULTS 0x20
/* u64, emulator: idle sleeps taken. */
#define EMU_HOST_NAPS 0x28
/* u8 per EMU_IOVA_PAGE of the arena, client: non-zero when the page is mapped for DMA. */
#define EMU_HOST_PAGE_MAP 0x1000
/* Pages the map covers (EMU_ARENA_OFFSET - EMU_HOST_OFFSET - EMU_HOST_PAGE_MAP). */
#define EMU_HOST_PAGE_MAP_MAX 126976

/* Commands. */
/* Stop, zero both regions and every index, start again (VFIO_DEVICE_RESET). */
#define EMU_CMD_RESET 1
/* Stop, zero both regions, end the process (the last close of the device file). */
#define EMU_CMD_CLOSE 2

/* States. */
/* Serving the rings. */
#define EMU_STATE_RUNNING 1
/* Ended: nothing touches the memory any more. */
#define EMU_STATE_ENDED 2

#endif /* EMU_LAYOUT_H */

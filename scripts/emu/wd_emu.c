// SPDX-License-Identifier: MIT
/*
 * wd_emu: the wd_dummy_v1 device (scripts/rig/kmod/PROTOCOL.md) played by a host process
 * on shared memory, so the real queue and driver (and the C client emu_client.c) run
 * against a device natively, without the kernel module or a VM.
 *
 *   gcc -O2 -Wall -Wextra -I scripts/rig/kmod -o wd_emu scripts/emu/wd_emu.c
 *   wd_emu [-a copy|csum] [-s SPIN_US]       (fds 3, 4 and 5 inherited, see below)
 *
 * The client creates the memory and the eventfds and hands them over as inherited file
 * descriptors (a spawn's stdio array, or fork + dup2):
 *   fd 3  a memfd laid out as in emu_layout.h: the control page (region 0), the queue
 *         region (region 1), the host page (commands and counters, not part of the
 *         device) and the DMA arena;
 *   fd 4  the completion interrupt's eventfd (signalled as the module's interrupt is,
 *         once per arming, while the host page says it is attached);
 *   fd 5  a wake-up eventfd: the client signals it after writing a host command, as the
 *         module's pwrite() slow path wakes its worker.
 * stdin: the emulator ends when it reads end-of-file (the client closed it or died).
 *
 * DMA: an IOVA is EMU_IOVA_BASE + a byte offset into the arena. A range is mapped when
 * every 4 KiB page of it has its byte set in the host page's page map (the client sets
 * them when it hands out a buffer and clears them when it frees it); anything else is
 * BAD_IOVA, as an IOMMU fault is in the module.
 *
 * Polling: one thread serves the ring as the module's worker does. After work it
 * busy-polls (a pause instruction per look) for SPIN_US microseconds (default 2000), then
 * sleeps in ppoll() on the wake-up eventfd and stdin for 100 us at a time, and for 1 ms at a
 * time after 100 ms without work: a doorbell on a busy queue is seen within a fraction of
 * a microsecond, one after a pause of more than SPIN_US within 0.1-0.2 ms (1 ms after
 * 100 ms), and an idle emulator costs about a thousand short wake-ups a second instead of
 * a core.
 *
 * -c CPU pins the emulator to that CPU (as a device brings its own silicon, it then keeps
 * one core to itself in a benchmark whose client is pinned to another).
 *
 * Exit status: 0 after a close command or end-of-file on stdin, 2 on a usage or system
 * error (message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "wd_dummy_v1.h"
#include "emu_layout.h"

#define BUDGET 64	/* requests per pass, as the module's WD_BUDGET */

static uint8_t *mem;		/* the whole memfd */
static uint64_t arena_size;
static int irq_fd = 4, wake_fd = 5;
static uint16_t algo_op = WD_DUMMY_V1_OP_COPY;

/* Device state the device keeps to itself (the module's struct wd_queue fields). */
static uint32_t sq_head, cq_tail, dev_error, bad_doorbell, irq_arm_seen;
static int bad_doorbell_seen, stopped;
static uint64_t completed, failed;

static uint32_t crc_table[256];

static void die(const char *what)
{
	fprintf(stderr, "wd_emu: error: %s: %s\n", what, strerror(errno));
	exit(2);
}

static volatile uint32_t *reg32(unsigned int off)
{
	return (volatile uint32_t *)(mem + EMU_CTRL_OFFSET + off);
}

static volatile uint64_t *reg64(unsigned int off)
{
	return (volatile uint64_t *)(mem + EMU_CTRL_OFFSET + off);
}

static volatile uint32_t *host32(unsigned int off)
{
	return (volatile uint32_t *)(mem + EMU_HOST_OFFSET + off);
}

static volatile uint64_t *host64(unsigned int off)
{
	return (volatile uint64_t *)(mem + EMU_HOST_OFFSET + off);
}

static uint32_t load32(volatile uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store32(volatile uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void store64(volatile uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void set_error(uint32_t code)
{
	if (!dev_error) {
		dev_error = code;
		store32(reg32(WD_DUMMY_V1_REG_ERROR), code);
	}
	store32(reg32(WD_DUMMY_V1_REG_STATUS), load32(reg32(WD_DUMMY_V1_REG_STATUS)) |
		WD_DUMMY_V1_STATUS_ERROR);
}

/* The module's wd_queue_reset: zero both regions and the device's own copies. */
static void queue_reset(void)
{
	memset(mem + EMU_CTRL_OFFSET, 0, WD_DUMMY_V1_CTRL_SIZE);
	memset(mem + EMU_QUEUE_OFFSET, 0, WD_DUMMY_V1_QUEUE_SIZE);
	sq_head = cq_tail = dev_error = bad_doorbell = irq_arm_seen = 0;
	bad_doorbell_seen = 0;
	completed = failed = 0;
	*reg32(WD_DUMMY_V1_REG_MAGIC) = WD_DUMMY_V1_MAGIC;
	*reg32(WD_DUMMY_V1_REG_VERSION) = WD_DUMMY_V1_VERSION;
	*reg32(WD_DUMMY_V1_REG_SQ_ENTRIES) = WD_DUMMY_V1_SQ_ENTRIES;
	*reg32(WD_DUMMY_V1_REG_CQ_ENTRIES) = WD_DUMMY_V1_CQ_ENTRIES;
	*reg32(WD_DUMMY_V1_REG_MAX_LEN) = WD_DUMMY_V1_MAX_LEN;
	*reg32(WD_DUMMY_V1_REG_SQ_OFFSET) = WD_DUMMY_V1_SQ_OFFSET;
	*reg32(WD_DUMMY_V1_REG_CQ_OFFSET) = WD_DUMMY_V1_CQ_OFFSET;
	*reg32(WD_DUMMY_V1_REG_ALGO_OP) = algo_op;
	store32(reg32(WD_DUMMY_V1_REG_STATUS), stopped ? 0 : WD_DUMMY_V1_STATUS_READY);
}

/* ---- DMA ----------------------------------------------------------------- */

/* The arena bytes of [iova, iova + len), or NULL when any page is not mapped. */
static uint8_t *dma(uint64_t iova, uint32_t len)
{
	uint64_t off, first, last;
	volatile uint8_t *map = mem + EMU_HOST_OFFSET + EMU_HOST_PAGE_MAP;

	if (iova < EMU_IOVA_BASE || iova - EMU_IOVA_BASE >= arena_size ||
	    len > arena_size - (iova - EMU_IOVA_BASE)) {
		__atomic_fetch_add(host64(EMU_HOST_IOVA_FAULTS), 1, __ATOMIC_RELAXED);
		return NULL;
	}
	off = iova - EMU_IOVA_BASE;
	first = off / EMU_IOVA_PAGE;
	last = (off + len - 1) / EMU_IOVA_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		if (!map[p]) {
			__atomic_fetch_add(host64(EMU_HOST_IOVA_FAULTS), 1, __ATOMIC_RELAXED);
			return NULL;
		}
	}
	return mem + EMU_ARENA_OFFSET + off;
}

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (int k = 0; k < 8; k++)
			v = v & 1 ? (v >> 1) ^ 0xedb88320U : v >> 1;
		crc_table[i] = v;
	}
}

static uint32_t crc32_ieee(const uint8_t *p, uint32_t n)
{
	uint32_t crc = ~0U;

	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The module's wd_execute: the same checks in the same order. */
static uint16_t execute(const struct wd_dummy_v1_req *r, uint32_t *result)
{
	uint16_t op = r->opcode;
	uint64_t src = r->src, dst = r->dst;
	uint32_t len = r->len;
	uint8_t *s, *d;

	*result = 0;
	if (op == WD_DUMMY_V1_OP_NOP) {
		if (r->flags || r->rsvd || src || dst || len)
			return WD_DUMMY_V1_ST_BAD_FIELD;
		return WD_DUMMY_V1_ST_OK;
	}
	if (op != algo_op)
		return WD_DUMMY_V1_ST_BAD_OPCODE;
	if (r->flags || r->rsvd)
		return WD_DUMMY_V1_ST_BAD_FIELD;
	if (op == WD_DUMMY_V1_OP_CSUM && dst)
		return WD_DUMMY_V1_ST_BAD_FIELD;
	if (!len || len > WD_DUMMY_V1_MAX_LEN)
		return WD_DUMMY_V1_ST_BAD_LEN;
	if (src + len < src)
		return WD_DUMMY_V1_ST_BAD_IOVA;
	if (op == WD_DUMMY_V1_OP_COPY) {
		if (dst + len < dst)
			return WD_DUMMY_V1_ST_BAD_IOVA;
		if (src < dst + len && dst < src + len)
			return WD_DUMMY_V1_ST_OVERLAP;
		s = dma(src, len);
		d = s ? dma(dst, len) : NULL;
		if (!s || !d)
			return WD_DUMMY_V1_ST_BAD_IOVA;
		memcpy(d, s, len);
		*result = len;
		return WD_DUMMY_V1_ST_OK;
	}
	s = dma(src, len);
	if (!s)
		return WD_DUMMY_V1_ST_BAD_IOVA;
	*result = crc32_ieee(s, len);
	return WD_DUMMY_V1_ST_OK;
}

/* ---- rings ----------------------------------------------------------------- */

static int cq_has_room(void)
{
	uint32_t used = cq_tail - load32(reg32(WD_DUMMY_V1_REG_CQ_HEAD));

	if (used > WD_DUMMY_V1_CQ_ENTRIES) {
		set_error(WD_DUMMY_V1_ERR_CQ_HEAD);
		return 0;
	}
	return used < WD_DUMMY_V1_CQ_ENTRIES;
}

static void post(uint32_t id, uint16_t status, uint16_t opcode, uint32_t result, uint32_t sq_index)
{
	struct wd_dummy_v1_cpl *ring = (void *)(mem + EMU_QUEUE_OFFSET + WD_DUMMY_V1_CQ_OFFSET);
	volatile struct wd_dummy_v1_cpl *c = &ring[cq_tail & (WD_DUMMY_V1_CQ_ENTRIES - 1)];

	c->id = id;
	c->status = status;
	c->opcode = opcode;
	c->result = result;
	c->sq_index = sq_index;
	cq_tail++;
	if (status == WD_DUMMY_V1_ST_OK)
		store64(reg64(WD_DUMMY_V1_REG_COMPLETED), ++completed);
	else
		store64(reg64(WD_DUMMY_V1_REG_FAILED), ++failed);
	/* Entry (and copied bytes) before the tail; pairs with the client's acquire load. */
	store32(reg32(WD_DUMMY_V1_REG_CQ_TAIL), cq_tail);
}

/* The module's wd_irq_check: fire once per arming when a completion is unconsumed. */
static void irq_check(void)
{
	uint32_t arm;
	uint64_t one = 1;

	/* Full barrier: the CQ_TAIL store before against the IRQ_ARM load after. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	arm = load32(reg32(WD_DUMMY_V1_REG_IRQ_ARM));
	if (arm == irq_arm_seen)
		return;
	if (load32(reg32(WD_DUMMY_V1_REG_CQ_HEAD)) == cq_tail)
		return;
	irq_arm_seen = arm;
	if (!load32(host32(EMU_HOST_IRQ_ATTACHED)))
		return;
	/*
	 * Counted before the signal: the client it wakes may read the count at once, before
	 * this process runs again (it can be preempted right after the write).
	 */
	__atomic_fetch_add(host64(EMU_HOST_IRQS), 1, __ATOMIC_SEQ_CST);
	if (write(irq_fd, &one, 8) != 8)
		__atomic_fetch_sub(host64(EMU_HOST_IRQS), 1, __ATOMIC_SEQ_CST);
}

/* The module's wd_service: one pass over the request ring. */
static int service(void)
{
	struct wd_dummy_v1_req *ring = (void *)(mem + EMU_QUEUE_OFFSET + WD_DUMMY_V1_SQ_OFFSET);
	uint32_t tail = load32(reg32(WD_DUMMY_V1_REG_DOORBELL));
	uint32_t pending = tail - sq_head;
	int done = 0;

	if (!pending)
		return 0;
	if (pending > WD_DUMMY_V1_SQ_ENTRIES) {
		if (bad_doorbell_seen && bad_doorbell == tail)
			return 0;
		if (!cq_has_room())
			return 0;
		post(WD_DUMMY_V1_ID_NONE, WD_DUMMY_V1_ST_BAD_INDEX, 0, tail, sq_head);
		bad_doorbell = tail;
		bad_doorbell_seen = 1;
		set_error(WD_DUMMY_V1_ERR_DOORBELL);
		return 1;
	}
	bad_doorbell_seen = 0;
	while (pending-- && done < BUDGET) {
		volatile struct wd_dummy_v1_req *slot = &ring[sq_head & (WD_DUMMY_V1_SQ_ENTRIES - 1)];
		struct wd_dummy_v1_req r;
		uint32_t result;
		uint16_t st;

		if (!cq_has_room())
			break;
		/* The client may rewrite the slot at any time: read each field once. */
		r.opcode = slot->opcode;
		r.flags = slot->flags;
		r.id = slot->id;
		r.src = slot->src;
		r.dst = slot->dst;
		r.len = slot->len;
		r.rsvd = slot->rsvd;
		st = execute(&r, &result);
		post(r.id, st, r.opcode, result, sq_head);
		sq_head++;
		store32(reg32(WD_DUMMY_V1_REG_SQ_HEAD), sq_head);
		done++;
	}
	return done;
}

/* ---- host commands and the polling loop ---------------------------------- */

/* Runs a command the client wrote into the host page; returns 1 when the emulator should end. */
static int host_command(void)
{
	uint32_t seq = load32(host32(EMU_HOST_SEQ));
	uint32_t cmd;

	if (seq == load32(host32(EMU_HOST_ACK)))
		return 0;
	cmd = load32(host32(EMU_HOST_CMD));
	if (cmd == EMU_CMD_RESET) {
		queue_reset();
	} else if (cmd == EMU_CMD_CLOSE) {
		stopped = 1;
		queue_reset();
	}
	store32(host32(EMU_HOST_ACK), seq);
	return cmd == EMU_CMD_CLOSE;
}

/* Sleeps up to `us` microseconds unless the wake-up eventfd or stdin has something. */
static int nap(long us)
{
	struct pollfd p[2] = { { .fd = wake_fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
	struct timespec t = { .tv_sec = 0, .tv_nsec = us * 1000 };
	uint64_t v;

	__atomic_fetch_add(host64(EMU_HOST_NAPS), 1, __ATOMIC_RELAXED);
	if (ppoll(p, 2, &t, NULL) < 0 && errno != EINTR)
		die("ppoll");
	if (p[0].revents & POLLIN)
		(void)!read(wake_fd, &v, 8);
	if (p[1].revents) {
		char buf[64];

		if (read(0, buf, sizeof(buf)) <= 0)
			return 1;	/* end-of-file: the client is gone */
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: wd_emu [-a copy|csum] [-s SPIN_US] [-c CPU]   (memfd on fd 3, irq eventfd on 4, wake-up eventfd on 5)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t spin_ns = 2000 * 1000ULL, last;
	struct stat st;
	int opt;

	while ((opt = getopt(argc, argv, "a:s:c:")) != -1) {
		switch (opt) {
		case 'a':
			if (!strcmp(optarg, "copy"))
				algo_op = WD_DUMMY_V1_OP_COPY;
			else if (!strcmp(optarg, "csum"))
				algo_op = WD_DUMMY_V1_OP_CSUM;
			else
				usage();
			break;
		case 's': spin_ns = strtoull(optarg, NULL, 0) * 1000ULL; break;
		case 'c': {
			/* A device has its own silicon: pinned, the emulator keeps one core to itself. */
			cpu_set_t set;
			char *end;
			long cpu = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || cpu < 0 || cpu >= CPU_SETSIZE)
				usage();
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set))
				die("sched_setaffinity (the -c CPU)");
			break;
		}
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_TIMERSLACK, 1000UL);
	crc_init();
	if (fstat(3, &st))
		die("fstat of the memfd on fd 3");
	if ((uint64_t)st.st_size <= EMU_ARENA_OFFSET) {
		fprintf(stderr, "wd_emu: error: the memfd on fd 3 has %lld bytes; it needs more than %u (the layout of emu_layout.h and an arena)\n",
			(long long)st.st_size, EMU_ARENA_OFFSET);
		return 2;
	}
	arena_size = st.st_size - EMU_ARENA_OFFSET;
	if (arena_size / EMU_IOVA_PAGE > EMU_HOST_PAGE_MAP_MAX) {
		fprintf(stderr, "wd_emu: error: an arena of %llu bytes is above the page map's %u pages\n",
			(unsigned long long)arena_size, EMU_HOST_PAGE_MAP_MAX);
		return 2;
	}
	mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (mem == MAP_FAILED)
		die("mmap of the memfd on fd 3");

	queue_reset();
	*host32(EMU_HOST_PID) = getpid();
	store32(host32(EMU_HOST_ACK), load32(host32(EMU_HOST_SEQ)));
	store32(host32(EMU_HOST_STATE), EMU_STATE_RUNNING);

	last = now_ns();
	for (unsigned long looks = 0;; looks++) {
		uint64_t idle;

		if (host_command())
			break;
		if (!stopped && service() > 0) {
			irq_check();
			last = now_ns();
			continue;
		}
		irq_check();
		/* The clock is read every 64 looks: a look costs a few ns, the clock ~20. */
		if (looks & 63) {
			cpu_relax();
			continue;
		}
		idle = now_ns() - last;
		if (idle < spin_ns)
			cpu_relax();
		else if (nap(idle < 100000000ULL ? 100 : 1000))
			break;
	}
	store32(host32(EMU_HOST_STATE), EMU_STATE_ENDED);
	return 0;
}

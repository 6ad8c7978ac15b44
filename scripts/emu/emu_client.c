// SPDX-License-Identifier: MIT
/*
 * emu_client: the C reference of the native queue benchmark. It starts the wd_dummy_v1
 * emulator (wd_emu.c) the way scripts/emu/emulator.ts does (a memfd and two eventfds it
 * creates, inherited by the emulator as fds 3, 4 and 5; stdin a pipe whose end stops it),
 * then drives the rings exactly as PROTOCOL.md says and as scripts/bench_queue.ts drives
 * the TypeScript queue, and prints one JSON line.
 *
 *   emu_client -e WD_EMU [-k rps|latency] [-m poll|irq] [-n N] [-l LEN] [-d DEPTH] [-q] [-s SPIN_US]
 *              [-c CPU]
 *
 *   -k rps      N copies of LEN bytes, DEPTH in flight: refill and ring once per pass, then
 *               wait; prints requests/s and the process CPU time per request (ns).
 *   -k latency  N single copies of LEN bytes one after the other (depth 1): the time from
 *               writing the request to seeing its completion; prints p50 and p99 (us).
 *   -m poll     wait by reading CQ_TAIL in a loop (a pause instruction per look).
 *   -m irq      wait the interrupt's way: reap, arm IRQ_ARM, reap again, sleep in poll()
 *               on the completion eventfd.
 *   -q          payload checks off (status only). On: each source is copied from a pool of
 *               random bytes at a request-specific offset and the copy is compared
 *               (memcpy / memcmp), as the TypeScript side does (copyWithin / compare).
 *   -c CPU      the emulator is pinned to that CPU (wd_emu -c); the client keeps the
 *               affinity it was started with.
 *
 * Exit status: 0 all good, 1 a request failed or came back wrong, 2 a usage or system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "wd_dummy_v1.h"
#include "emu_layout.h"

#define POOL 65536
#define ARENA (4u << 20)

static uint8_t *mem;
static int irq_fd, wake_fd, to_emu = -1;
static pid_t emu_pid;
static struct wd_dummy_v1_req *sq;
static struct wd_dummy_v1_cpl *cq;
static uint32_t sq_tail, cq_head, arm_seq;
static int irq_mode;

static void die(const char *what)
{
	fprintf(stderr, "emu_client: error: %s: %s\n", what, strerror(errno));
	exit(2);
}

static volatile uint32_t *reg32(unsigned int off)
{
	return (volatile uint32_t *)(mem + EMU_CTRL_OFFSET + off);
}

static volatile uint32_t *host32(unsigned int off)
{
	return (volatile uint32_t *)(mem + EMU_HOST_OFFSET + off);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Times this process gave up its CPU of its own accord (blocked, in poll() for one). */
static long sleeps_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

/* The memfd, the eventfds, the emulator as a child with them on fds 3, 4, 5. */
static void start_emulator(const char *bin, const char *spin, const char *cpu)
{
	int memfd = memfd_create("wd_emu", MFD_CLOEXEC);
	int pipefd[2];
	double deadline;

	if (memfd < 0)
		die("memfd_create");
	if (ftruncate(memfd, EMU_ARENA_OFFSET + ARENA))
		die("ftruncate");
	irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (irq_fd < 0 || wake_fd < 0)
		die("eventfd");
	if (pipe2(pipefd, O_CLOEXEC))
		die("pipe2");
	mem = mmap(NULL, EMU_ARENA_OFFSET + ARENA, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	emu_pid = fork();
	if (emu_pid < 0)
		die("fork");
	if (emu_pid == 0) {
		/* dup2 clears close-on-exec on the copies; fds 3..5 may be among the sources. */
		int fds[4] = { dup(pipefd[0]), dup(memfd), dup(irq_fd), dup(wake_fd) };
		const char *args[8] = { bin, "-a", "copy" };
		int nargs = 3;

		if (dup2(fds[0], 0) < 0 || dup2(fds[1], 3) < 0 || dup2(fds[2], 4) < 0 || dup2(fds[3], 5) < 0)
			_exit(2);
		if (spin) {
			args[nargs++] = "-s";
			args[nargs++] = spin;
		}
		if (cpu) {
			args[nargs++] = "-c";
			args[nargs++] = cpu;
		}
		execv(bin, (char *const *)args);
		_exit(2);
	}
	close(pipefd[0]);
	to_emu = pipefd[1];
	close(memfd);
	deadline = now() + 5;
	while (__atomic_load_n(host32(EMU_HOST_STATE), __ATOMIC_ACQUIRE) != EMU_STATE_RUNNING) {
		if (now() > deadline) {
			fprintf(stderr, "emu_client: error: the emulator %s did not start within 5 s\n", bin);
			exit(2);
		}
		usleep(100);
	}
	sq = (void *)(mem + EMU_QUEUE_OFFSET + *reg32(WD_DUMMY_V1_REG_SQ_OFFSET));
	cq = (void *)(mem + EMU_QUEUE_OFFSET + *reg32(WD_DUMMY_V1_REG_CQ_OFFSET));
	/* The whole arena is mapped for DMA; the interrupt is attached in irq mode. */
	memset(mem + EMU_HOST_OFFSET + EMU_HOST_PAGE_MAP, 1, ARENA / EMU_IOVA_PAGE);
	__atomic_store_n(host32(EMU_HOST_IRQ_ATTACHED), irq_mode, __ATOMIC_RELEASE);
}

static void stop_emulator(void)
{
	int status;

	close(to_emu);	/* end-of-file on its stdin */
	if (waitpid(emu_pid, &status, 0) < 0)
		die("waitpid");
}

static void put_copy(uint32_t id, uint64_t src, uint64_t dst, uint32_t len)
{
	struct wd_dummy_v1_req *r = &sq[sq_tail & (WD_DUMMY_V1_SQ_ENTRIES - 1)];

	r->opcode = WD_DUMMY_V1_OP_COPY;
	r->flags = 0;
	r->id = id;
	r->src = src;
	r->dst = dst;
	r->len = len;
	r->rsvd = 0;
	sq_tail++;
}

static void ring(void)
{
	__atomic_store_n(reg32(WD_DUMMY_V1_REG_DOORBELL), sq_tail, __ATOMIC_RELEASE);
}

/* Waits until CQ_TAIL differs from cq_head; returns it. */
static uint32_t wait_cq(void)
{
	double deadline = 0;

	for (unsigned long spins = 0;; spins++) {
		uint32_t t = __atomic_load_n(reg32(WD_DUMMY_V1_REG_CQ_TAIL), __ATOMIC_ACQUIRE);
		uint64_t v;
		struct pollfd p = { .fd = irq_fd, .events = POLLIN };

		if (t != cq_head)
			return t;
		if (!irq_mode) {
			cpu_relax();
			if ((spins & 0xfffff) == 0xfffff) {
				if (!deadline)
					deadline = now() + 10;
				else if (now() > deadline)
					break;
			}
			continue;
		}
		/* Arm, then a full barrier before the re-check (PROTOCOL.md). */
		__atomic_store_n(reg32(WD_DUMMY_V1_REG_IRQ_ARM), ++arm_seq, __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		t = __atomic_load_n(reg32(WD_DUMMY_V1_REG_CQ_TAIL), __ATOMIC_ACQUIRE);
		if (t != cq_head)
			return t;
		if (poll(&p, 1, 10000) != 1)
			break;
		(void)!read(irq_fd, &v, 8);
	}
	fprintf(stderr, "emu_client: error: no completion for 10 s (sq_head %u cq_tail %u)\n",
		*reg32(WD_DUMMY_V1_REG_SQ_HEAD), *reg32(WD_DUMMY_V1_REG_CQ_TAIL));
	exit(1);
}

static void set_cq_head(uint32_t head)
{
	cq_head = head;
	__atomic_store_n(reg32(WD_DUMMY_V1_REG_CQ_HEAD), head, __ATOMIC_RELEASE);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *bin = NULL, *kind = "rps", *spin = NULL, *cpu = NULL;
	uint32_t n = 100000, len = 256, depth = 32;
	int verify = 1, opt;
	uint8_t *arena, *pool;
	uint32_t stride, slots;
	uint32_t slot_of[WD_DUMMY_V1_SQ_ENTRIES], free_slots[WD_DUMMY_V1_SQ_ENTRIES], nfree = 0;
	uint32_t submitted = 0, done = 0, failed = 0, bad = 0;
	double t0, t1, c0, c1;
	unsigned long long irqs;
	long sleeps;

	while ((opt = getopt(argc, argv, "e:k:m:n:l:d:qs:c:")) != -1) {
		switch (opt) {
		case 'e': bin = optarg; break;
		case 'k': kind = optarg; break;
		case 'm': irq_mode = !strcmp(optarg, "irq"); break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'l': len = strtoul(optarg, NULL, 0); break;
		case 'd': depth = strtoul(optarg, NULL, 0); break;
		case 'q': verify = 0; break;
		case 's': spin = optarg; break;
		case 'c': cpu = optarg; break;
		default: goto usage;
		}
	}
	if (!bin || optind != argc || !n || !len || len > 65536 || !depth || depth > 256 ||
	    (strcmp(kind, "rps") && strcmp(kind, "latency")))
		goto usage;
	stride = 2 * len;
	slots = depth * stride;
	if (slots + POOL > ARENA) {
		fprintf(stderr, "emu_client: error: depth * 2 * len + %u must fit in %u bytes\n", POOL, ARENA);
		return 2;
	}
	start_emulator(bin, spin, cpu);
	arena = mem + EMU_ARENA_OFFSET;
	pool = arena + slots;
	for (uint32_t i = 0; i < POOL; i += 256)
		if (getrandom(pool + i, 256, 0) != 256)
			die("getrandom");

	if (!strcmp(kind, "latency")) {
		double *lat = malloc(n * sizeof(double));

		if (!lat)
			die("malloc");
		sleeps = sleeps_now();
		for (uint32_t i = 0; i < n; i++) {
			uint32_t t;

			t0 = now();
			put_copy(i, EMU_IOVA_BASE, EMU_IOVA_BASE + len, len);
			ring();
			t = wait_cq();
			t1 = now();
			lat[i] = (t1 - t0) * 1e6;
			if (t != cq_head + 1 || cq[cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)].status)
				failed++;
			set_cq_head(t);
		}
		sleeps = sleeps_now() - sleeps;
		qsort(lat, n, sizeof(double), cmp_double);
		irqs = __atomic_load_n((volatile unsigned long long *)(mem + EMU_HOST_OFFSET + EMU_HOST_IRQS), __ATOMIC_ACQUIRE);
		stop_emulator();
		printf("{\"kind\":\"latency\",\"n\":%u,\"failed\":%u,\"p50_us\":%.3f,\"p99_us\":%.3f,\"irqs\":%llu,\"sleeps\":%ld}\n",
		       n, failed, lat[n / 2], lat[(uint32_t)(n * 0.99)], irqs, sleeps);
		return failed ? 1 : 0;
	}

	for (uint32_t i = 0; i < depth; i++)
		free_slots[nfree++] = depth - 1 - i;
	t0 = now();
	c0 = cpu_now();
	sleeps = sleeps_now();
	while (done < n) {
		uint32_t t;

		if (submitted < n && nfree) {
			while (submitted < n && nfree) {
				uint32_t s = free_slots[--nfree];

				if (verify)
					memcpy(arena + s * stride, pool + (submitted * 4099u) % (POOL - len), len);
				slot_of[submitted & (WD_DUMMY_V1_SQ_ENTRIES - 1)] = s;
				put_copy(submitted, EMU_IOVA_BASE + s * stride, EMU_IOVA_BASE + s * stride + len, len);
				submitted++;
			}
			ring();
		}
		t = wait_cq();
		for (; cq_head != t; cq_head++) {
			const struct wd_dummy_v1_cpl *cp = &cq[cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
			uint32_t id = cp->id;
			uint32_t s = slot_of[id & (WD_DUMMY_V1_SQ_ENTRIES - 1)];

			if (cp->status != WD_DUMMY_V1_ST_OK || id >= submitted)
				failed++;
			else if (verify && memcmp(arena + s * stride, arena + s * stride + len, len))
				bad++;
			free_slots[nfree++] = s;
			done++;
		}
		set_cq_head(cq_head);
	}
	c1 = cpu_now();
	t1 = now();
	sleeps = sleeps_now() - sleeps;
	/* Interrupts the emulator signalled: how often the client slept and was woken. */
	irqs = __atomic_load_n((volatile unsigned long long *)(mem + EMU_HOST_OFFSET + EMU_HOST_IRQS), __ATOMIC_ACQUIRE);
	stop_emulator();
	printf("{\"kind\":\"rps\",\"n\":%u,\"failed\":%u,\"bad\":%u,\"seconds\":%.6f,\"rps\":%.0f,\"cpu_ns\":%.1f,\"irqs\":%llu,\"sleeps\":%ld}\n",
	       n, failed, bad, t1 - t0, n / (t1 - t0), (c1 - c0) * 1e9 / n, irqs, sleeps);
	return failed || bad ? 1 : 0;

usage:
	fprintf(stderr, "usage: emu_client -e WD_EMU [-k rps|latency] [-m poll|irq] [-n N] [-l LEN] [-d DEPTH] [-q] [-s SPIN_US] [-c CPU]\n");
	return 2;
}

// SPDX-License-Identifier: MIT
/*
 * The C reference of the send-path benchmark (scripts/bench_send.ts): the
 * wd_dummy_v1 submit sequence on a memfd that stands in for the control page
 * and the queue region, exactly as the TypeScript driver does it:
 *
 *   load SQ_HEAD (acquire), compute the free slots of both rings,
 *   write each descriptor (opcode|flags, id, src, dst, len, rsvd),
 *   barrier, store the new tail into DOORBELL,
 *   then, as the device would, store SQ_HEAD = tail (and count the
 *   completions as consumed) so the ring never fills.
 *
 *   gcc -O2 -o send scripts/bench/send.c
 *   send [-n REQUESTS] [-r RUNS] [-b BATCH] [-d seqcst|release|wd]
 *
 * Doorbell (-d):
 *   seqcst   __atomic_store_n(SEQ_CST): xchg on x86-64, stlr on arm64; the
 *            barrier JavaScript's Atomics.store gives (the default: same
 *            stores and barrier as the TypeScript driver)
 *   release  __atomic_store_n(RELEASE): a plain mov on x86-64 (what
 *            scripts/rig/kmod/wd_client.c does; the cheapest correct doorbell on
 *            normal memory)
 *   wd       wmb + store as c/wd_barrier.c does, inlined (sfence + mov on
 *            x86-64, dsb st + str on arm64)
 *
 * Output: one JSON object per run on stdout:
 *   {"lang":"c","batch":B,"doorbell":"...","requests":N,"ns":T}
 * where T is the nanoseconds per request of that run.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

/* The layout of src/drivers/wd_dummy_v1_layout.ts (scripts/rig/kmod/wd_dummy_v1.h). */
#define REG_DOORBELL 0x040
#define REG_SQ_HEAD 0x080
#define SQ_ENTRIES 256u
#define CQ_ENTRIES 256u
#define CTRL_SIZE 4096
#define QUEUE_SIZE 12288

struct req {			/* 32 bytes, the descriptor */
	uint16_t opcode;
	uint16_t flags;
	uint32_t id;
	uint64_t src;
	uint64_t dst;
	uint32_t len;
	uint32_t rsvd;
};

enum doorbell { DB_SEQCST, DB_RELEASE, DB_WD };

struct queue {
	volatile uint8_t *ctrl;
	struct req *sq;
	uint32_t sq_tail;
	uint32_t cq_head;
};

static inline uint32_t *reg(struct queue *q, unsigned int off)
{
	return (uint32_t *)(q->ctrl + off);
}

static inline void wmb(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("sfence" ::: "memory");
#elif defined(__aarch64__)
	__asm__ __volatile__("dsb st" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/* The driver's submit: as many of reqs as both rings take, one doorbell. */
static inline uint32_t submit(struct queue *q, const struct req *reqs, uint32_t n,
			      enum doorbell db)
{
	uint32_t sq_head = __atomic_load_n(reg(q, REG_SQ_HEAD), __ATOMIC_ACQUIRE);
	uint32_t sq_free = SQ_ENTRIES - (q->sq_tail - sq_head);
	uint32_t cq_free = CQ_ENTRIES - (q->sq_tail - q->cq_head);
	uint32_t tail = q->sq_tail;

	if (n > sq_free)
		n = sq_free;
	if (n > cq_free)
		n = cq_free;
	for (uint32_t i = 0; i < n; i++, tail++) {
		struct req *d = &q->sq[tail & (SQ_ENTRIES - 1)];

		d->opcode = reqs[i].opcode;
		d->flags = reqs[i].flags;
		d->id = reqs[i].id;
		d->src = reqs[i].src;
		d->dst = reqs[i].dst;
		d->len = reqs[i].len;
		d->rsvd = 0;
	}
	q->sq_tail = tail;
	switch (db) {
	case DB_SEQCST:
		/* Barrier: descriptor stores above -> doorbell store (seq_cst store). */
		__atomic_store_n(reg(q, REG_DOORBELL), tail, __ATOMIC_SEQ_CST);
		break;
	case DB_RELEASE:
		/* Barrier: descriptor stores above -> doorbell store (release store). */
		__atomic_store_n(reg(q, REG_DOORBELL), tail, __ATOMIC_RELEASE);
		break;
	case DB_WD:
		/* Barrier: descriptor stores above -> doorbell store (wmb, then a store). */
		wmb();
		__atomic_store_n(reg(q, REG_DOORBELL), tail, __ATOMIC_RELAXED);
		break;
	}
	return n;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Kept out of line so the compiler cannot fold iterations into each other. */
static __attribute__((noinline)) uint64_t run(struct queue *q, const struct req *pool,
					      uint32_t requests, uint32_t batch,
					      enum doorbell db)
{
	uint64_t sent = 0;

	for (uint32_t i = 0; i < requests; i += batch) {
		sent += submit(q, &pool[i & (SQ_ENTRIES - 1)], batch, db);
		/* The device consumed them; their completions were reaped. */
		__atomic_store_n(reg(q, REG_SQ_HEAD), q->sq_tail, __ATOMIC_RELAXED);
		q->cq_head = q->sq_tail;
	}
	return sent;
}

int main(int argc, char **argv)
{
	uint32_t requests = 2000000, runs = 9, batch = 1;
	enum doorbell db = DB_SEQCST;
	const char *dbname = "seqcst";
	struct req pool[SQ_ENTRIES + 16];
	struct queue q = { 0 };
	int opt, fd;
	uint8_t *mem;

	while ((opt = getopt(argc, argv, "n:r:b:d:")) != -1) {
		switch (opt) {
		case 'n': requests = strtoul(optarg, NULL, 0); break;
		case 'r': runs = strtoul(optarg, NULL, 0); break;
		case 'b': batch = strtoul(optarg, NULL, 0); break;
		case 'd':
			dbname = optarg;
			if (!strcmp(optarg, "seqcst")) db = DB_SEQCST;
			else if (!strcmp(optarg, "release")) db = DB_RELEASE;
			else if (!strcmp(optarg, "wd")) db = DB_WD;
			else goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (!batch || batch > 16 || !requests || !runs)
		goto usage;
	requests -= requests % batch;

	fd = memfd_create("wd-bench-send", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, CTRL_SIZE + QUEUE_SIZE)) {
		perror("memfd");
		return 2;
	}
	mem = mmap(NULL, CTRL_SIZE + QUEUE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	q.ctrl = mem;
	q.sq = (struct req *)(mem + CTRL_SIZE);
	/* The same requests the TypeScript benchmark sends. */
	for (uint32_t i = 0; i < SQ_ENTRIES + 16; i++)
		pool[i] = (struct req){ .opcode = 1, .id = i, .src = 0x10000 + i * 64,
					.dst = 0x20000 + i * 64, .len = 64 };

	run(&q, pool, requests / 4 - requests / 4 % batch, batch, db);	/* warm-up */
	for (uint32_t r = 0; r < runs; r++) {
		double t0 = now_ns();
		uint64_t sent = run(&q, pool, requests, batch, db);
		double t = now_ns() - t0;

		if (sent != requests) {
			fprintf(stderr, "send: sent %llu of %u\n", (unsigned long long)sent, requests);
			return 1;
		}
		printf("{\"lang\":\"c\",\"batch\":%u,\"doorbell\":\"%s\",\"requests\":%u,\"ns\":%.3f}\n",
		       batch, dbname, requests, t / requests);
	}
	return 0;
usage:
	fprintf(stderr, "usage: send [-n REQUESTS] [-r RUNS] [-b 1..16] [-d seqcst|release|wd]\n");
	return 2;
}

// SPDX-License-Identifier: MIT
/*
 * wd_client: a small C client of the wd_dummy_v1 queue (see PROTOCOL.md),
 * through plain VFIO: container, group from the mdev's iommu_group link,
 * device fd by UUID, both regions mmap'd, one buffer mapped with
 * VFIO_IOMMU_MAP_DMA. It is the test driver of the dummy module and the C
 * reference for benchmarks of the user-space drivers.
 *
 *   gcc -O2 -Wall -o wd_client wd_client.c
 *   wd_client [-m MODE] [-n N] [-l LEN] [-b BATCH] [-q] [-w] [-t SECONDS]
 *             [-s SYSFS] <mdev-uuid>
 *
 * Modes (-m):
 *   bench    N requests (default 10000) of LEN bytes (256), BATCH in flight
 *            (32): copy or CRC-32, whichever the mdev's type does; each
 *            payload is request-specific and checked (-q: status only).
 *            -w rings the doorbell with pwrite() instead of a store.
 *   bad      malformed requests, bad doorbells, a garbage ring, a garbage
 *            CQ_HEAD and random requests; checks each error completion.
 *   hold     submits N requests (default 8), leaves their completions
 *            unconsumed, prints "state=ready", then waits: for SIGKILL, for
 *            -t SECONDS, or for STATUS_REMOVE_REQUESTED (then it closes).
 *   latency  N (default 5) single NOPs, each after SECONDS (0.2) of idleness.
 *   irq      N (default 1000, at most 100000) single NOPs one after the
 *            other, each waited for the interrupt's way: reap, arm IRQ_ARM,
 *            reap again, sleep in poll() on the eventfd attached with
 *            VFIO_DEVICE_SET_IRQS; prints the doorbell-to-wake-up time
 *            (p50, p99) and how many waits the interrupt ended.
 *   info     region sizes and control registers.
 *
 * Output: one line "wd_client mode=... key=value ..." on stdout (hold: one
 * when ready, one when it leaves). Exit status: 0 all good, 1 a check failed,
 * 2 a system call or usage error (message on stderr, with the errno name,
 * e.g. "open /dev/vfio/6: Device or resource busy (EBUSY)").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/vfio.h>

#include "wd_dummy_v1.h"

#define IOVA_BASE 0x40000000ULL	/* the data buffer */
#define IOVA_RO 0x80000000ULL	/* a page mapped read-only for the device */
#define IOVA_UNMAPPED 0xdead00000000ULL

struct client {
	const char *sysfs;
	const char *uuid;
	char algo[32];
	int iommu_type;
	int group_id;
	int container, group, device;
	volatile uint8_t *ctrl;
	size_t ctrl_size;
	uint8_t *queue;
	size_t queue_size;
	uint64_t region_off[WD_DUMMY_V1_NUM_REGIONS];
	struct wd_dummy_v1_req *sq;
	struct wd_dummy_v1_cpl *cq;
	uint16_t op;		/* this queue's data opcode */
	uint32_t sq_tail;	/* requests written (free-running) */
	uint32_t cq_head;	/* completions consumed (free-running) */
	int pwrite_doorbell;
	uint8_t *buf;		/* data buffer mapped at IOVA_BASE */
	size_t buf_size;
	uint8_t *ro;		/* page mapped read-only at IOVA_RO */
};

static void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "wd_client: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, ": %s (%s)", strerror(e), strerrorname_np(e) ?: "?");
	fputc('\n', stderr);
	exit(2);
}

/* ---- registers ------------------------------------------------------------ */

static volatile uint32_t *reg32(struct client *c, unsigned int off)
{
	return (volatile uint32_t *)(c->ctrl + off);
}

static uint32_t rd32(struct client *c, unsigned int off)
{
	return __atomic_load_n(reg32(c, off), __ATOMIC_ACQUIRE);
}

static uint64_t rd64(struct client *c, unsigned int off)
{
	return __atomic_load_n((volatile uint64_t *)(c->ctrl + off), __ATOMIC_ACQUIRE);
}

/*
 * Ring the doorbell with the new request-ring tail. The release store orders
 * the descriptor stores before the doorbell store (a compiler barrier on
 * x86-64, a store fence elsewhere).
 */
static void ring(struct client *c, uint32_t tail)
{
	if (c->pwrite_doorbell) {
		uint32_t v = tail;

		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (pwrite(c->device, &v, 4, c->region_off[WD_DUMMY_V1_CTRL_REGION] +
			   WD_DUMMY_V1_REG_DOORBELL) != 4)
			die("pwrite doorbell");
		return;
	}
	__atomic_store_n(reg32(c, WD_DUMMY_V1_REG_DOORBELL), tail, __ATOMIC_RELEASE);
}

/* Give completions back; completion reads happen before this release store. */
static void set_cq_head(struct client *c, uint32_t head)
{
	c->cq_head = head;
	__atomic_store_n(reg32(c, WD_DUMMY_V1_REG_CQ_HEAD), head, __ATOMIC_RELEASE);
}

static void put_req(struct client *c, uint16_t op, uint16_t flags, uint32_t id,
		    uint64_t src, uint64_t dst, uint32_t len, uint32_t rsvd)
{
	struct wd_dummy_v1_req *r = &c->sq[c->sq_tail & (WD_DUMMY_V1_SQ_ENTRIES - 1)];

	r->opcode = op;
	r->flags = flags;
	r->id = id;
	r->src = src;
	r->dst = dst;
	r->len = len;
	r->rsvd = rsvd;
	c->sq_tail++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Wait until CQ_TAIL moves past `seen`; returns the new CQ_TAIL. */
static uint32_t wait_cq(struct client *c, uint32_t seen, double timeout_s)
{
	double deadline = 0;
	unsigned long spins = 0;

	for (;;) {
		/* Acquire: completion entries are read after CQ_TAIL. */
		uint32_t t = rd32(c, WD_DUMMY_V1_REG_CQ_TAIL);

		if (t != seen)
			return t;
		if (++spins < 2000) {
			cpu_relax();
			continue;
		}
		if (!deadline)
			deadline = now() + timeout_s;
		else if (now() > deadline)
			return t;
		sched_yield();
	}
}

/* ---- CRC-32 (IEEE 802.3, as zlib) ----------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (int k = 0; k < 8; k++)
			v = v & 1 ? (v >> 1) ^ 0xedb88320U : v >> 1;
		crc_table[i] = v;
	}
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0U;

	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- setup ---------------------------------------------------------------- */

static int read_sysfs(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n] = 0;
	return 0;
}

static void find_device(struct client *c)
{
	char path[PATH_MAX], link[PATH_MAX], val[64];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s/iommu_group",
		 c->sysfs, c->uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die("readlink %s", path);
	link[n] = 0;
	slash = strrchr(link, '/');
	c->group_id = atoi(slash ? slash + 1 : link);

	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s/mdev_type/name",
		 c->sysfs, c->uuid);
	if (read_sysfs(path, c->algo, sizeof(c->algo)))
		die("read %s", path);
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s/mdev_type/device_api",
		 c->sysfs, c->uuid);
	if (read_sysfs(path, val, sizeof(val)))
		die("read %s", path);
	if (strcmp(val, WD_DUMMY_V1_API)) {
		errno = 0;
		die("device_api is \"%s\", expected \"%s\"", val, WD_DUMMY_V1_API);
	}
	/* mdev_type -> <dev>/mdev_supported_types/<type>: wdev/ is two up. */
	snprintf(path, sizeof(path), "%s/bus/mdev/devices/%s/mdev_type/../../wdev/iommu",
		 c->sysfs, c->uuid);
	c->iommu_type = read_sysfs(path, val, sizeof(val)) ? VFIO_TYPE1v2_IOMMU : atoi(val);
	c->op = !strcmp(c->algo, "csum") ? WD_DUMMY_V1_OP_CSUM : WD_DUMMY_V1_OP_COPY;
}

static void dma_map(struct client *c, void *vaddr, uint64_t iova, size_t size,
		    uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags,
		.vaddr = (uintptr_t)vaddr, .iova = iova, .size = size,
	};

	if (ioctl(c->container, VFIO_IOMMU_MAP_DMA, &m))
		die("VFIO_IOMMU_MAP_DMA iova 0x%llx size %zu", (unsigned long long)iova, size);
}

static void dma_unmap(struct client *c, uint64_t iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};

	if (ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &u))
		die("VFIO_IOMMU_UNMAP_DMA iova 0x%llx", (unsigned long long)iova);
}

static void *map_region(struct client *c, unsigned int index, size_t *size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	const uint32_t want = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			      VFIO_REGION_INFO_FLAG_MMAP;
	void *p;

	if (ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("VFIO_DEVICE_GET_REGION_INFO %u", index);
	if ((ri.flags & want) != want || ri.size == 0 || ri.size % 4096) {
		errno = 0;
		die("region %u: flags 0x%x size %llu", index, ri.flags,
		    (unsigned long long)ri.size);
	}
	p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, c->device, ri.offset);
	if (p == MAP_FAILED)
		die("mmap region %u", index);
	c->region_off[index] = ri.offset;
	*size = ri.size;
	return p;
}

static void open_queue(struct client *c, size_t buf_size)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	char path[64];

	find_device(c);

	c->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c->container < 0)
		die("open /dev/vfio/vfio");
	if (ioctl(c->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		die("VFIO_GET_API_VERSION");
	if (ioctl(c->container, VFIO_CHECK_EXTENSION, c->iommu_type) != 1) {
		errno = 0;
		die("IOMMU type %d not supported", c->iommu_type);
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", c->group_id);
	c->group = open(path, O_RDWR | O_CLOEXEC);
	if (c->group < 0)
		die("open %s", path);
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &gs))
		die("VFIO_GROUP_GET_STATUS");
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = 0;
		die("group %d is not viable", c->group_id);
	}
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(c->container, VFIO_SET_IOMMU, c->iommu_type))
		die("VFIO_SET_IOMMU %d", c->iommu_type);

	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, c->uuid);
	if (c->device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD %s", c->uuid);
	if (ioctl(c->device, VFIO_DEVICE_GET_INFO, &di))
		die("VFIO_DEVICE_GET_INFO");
	if (di.num_regions < WD_DUMMY_V1_NUM_REGIONS) {
		errno = 0;
		die("device has %u regions", di.num_regions);
	}

	c->ctrl = map_region(c, WD_DUMMY_V1_CTRL_REGION, &c->ctrl_size);
	c->queue = map_region(c, WD_DUMMY_V1_QUEUE_REGION, &c->queue_size);
	if (rd32(c, WD_DUMMY_V1_REG_MAGIC) != WD_DUMMY_V1_MAGIC ||
	    rd32(c, WD_DUMMY_V1_REG_VERSION) != WD_DUMMY_V1_VERSION ||
	    rd32(c, WD_DUMMY_V1_REG_SQ_ENTRIES) != WD_DUMMY_V1_SQ_ENTRIES ||
	    rd32(c, WD_DUMMY_V1_REG_CQ_ENTRIES) != WD_DUMMY_V1_CQ_ENTRIES ||
	    c->queue_size < WD_DUMMY_V1_QUEUE_SIZE) {
		errno = 0;
		die("unexpected control registers (magic 0x%x version %u)",
		    rd32(c, WD_DUMMY_V1_REG_MAGIC), rd32(c, WD_DUMMY_V1_REG_VERSION));
	}
	c->sq = (void *)(c->queue + rd32(c, WD_DUMMY_V1_REG_SQ_OFFSET));
	c->cq = (void *)(c->queue + rd32(c, WD_DUMMY_V1_REG_CQ_OFFSET));

	c->buf_size = (buf_size + 4095) & ~(size_t)4095;
	c->buf = mmap(NULL, c->buf_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c->buf == MAP_FAILED)
		die("mmap %zu bytes", c->buf_size);
	dma_map(c, c->buf, IOVA_BASE, c->buf_size,
		VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	c->ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c->ro == MAP_FAILED)
		die("mmap");
	dma_map(c, c->ro, IOVA_RO, 4096, VFIO_DMA_MAP_FLAG_READ);
}

/* Teardown in reverse order: mappings, device, DMA, group, container. */
static void close_queue(struct client *c)
{
	munmap((void *)c->ctrl, c->ctrl_size);
	munmap(c->queue, c->queue_size);
	close(c->device);
	dma_unmap(c, IOVA_RO, 4096);
	dma_unmap(c, IOVA_BASE, c->buf_size);
	munmap(c->ro, 4096);
	munmap(c->buf, c->buf_size);
	if (ioctl(c->group, VFIO_GROUP_UNSET_CONTAINER))
		die("VFIO_GROUP_UNSET_CONTAINER");
	close(c->group);
	close(c->container);
}

static void reset_queue(struct client *c)
{
	if (ioctl(c->device, VFIO_DEVICE_RESET))
		die("VFIO_DEVICE_RESET");
	c->sq_tail = 0;
	c->cq_head = 0;
}

/* ---- bench ---------------------------------------------------------------- */

/* Request-specific contents, so a stale or partial copy cannot pass. */
static void fill(uint8_t *p, uint32_t len, uint32_t seq)
{
	uint64_t x = (uint64_t)(seq + 1) * 0x9e3779b97f4a7c15ULL;
	uint32_t i = 0;

	for (; i + 8 <= len; i += 8) {
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ULL;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(seq + i);
}

static int run_bench(struct client *c, uint32_t n, uint32_t len, uint32_t batch,
		     int verify)
{
	const int copy = c->op == WD_DUMMY_V1_OP_COPY;
	const size_t stride = copy ? 2 * (size_t)len : len;
	uint32_t slot_of[WD_DUMMY_V1_SQ_ENTRIES];
	uint32_t free_slots[WD_DUMMY_V1_SQ_ENTRIES], nfree = 0;
	uint32_t expect_crc[WD_DUMMY_V1_SQ_ENTRIES];
	uint32_t submitted = 0, done = 0, ok = 0, failed = 0, bad = 0;
	uint32_t cq_seen = 0;
	double t0, t1;

	for (uint32_t i = 0; i < batch; i++)
		free_slots[nfree++] = batch - 1 - i;

	t0 = now();
	while (done < n) {
		uint32_t t;

		/* Fill the ring up to `batch` in flight, then ring once. */
		if (submitted < n && nfree) {
			while (submitted < n && nfree) {
				uint32_t s = free_slots[--nfree];
				uint8_t *src = c->buf + s * stride;
				uint64_t iova = IOVA_BASE + s * stride;

				if (verify) {
					fill(src, len, submitted);
					if (!copy)
						expect_crc[submitted & (WD_DUMMY_V1_SQ_ENTRIES - 1)] =
							crc32_ieee(src, len);
				}
				slot_of[submitted & (WD_DUMMY_V1_SQ_ENTRIES - 1)] = s;
				put_req(c, c->op, 0, submitted, iova, copy ? iova + len : 0,
					len, 0);
				submitted++;
			}
			ring(c, c->sq_tail);
		}

		t = wait_cq(c, cq_seen, 10.0);
		if (t == cq_seen) {
			errno = 0;
			fprintf(stderr, "wd_client: error: no completion for 10 s (sq_head %u cq_tail %u status 0x%x error %u)\n",
				rd32(c, WD_DUMMY_V1_REG_SQ_HEAD), t,
				rd32(c, WD_DUMMY_V1_REG_STATUS), rd32(c, WD_DUMMY_V1_REG_ERROR));
			return 1;
		}
		for (; cq_seen != t; cq_seen++) {
			const struct wd_dummy_v1_cpl *cp =
				&c->cq[cq_seen & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
			uint32_t id = cp->id;
			uint32_t k = id & (WD_DUMMY_V1_SQ_ENTRIES - 1);
			uint32_t s = slot_of[k];

			if (cp->status != WD_DUMMY_V1_ST_OK || id >= submitted) {
				failed++;
				if (failed < 5)
					fprintf(stderr, "wd_client: request %u: status %u result %u\n",
						id, cp->status, cp->result);
			} else {
				ok++;
				if (verify) {
					uint8_t *src = c->buf + s * stride;

					if (copy ? (cp->result != len ||
						    memcmp(src, src + len, len)) :
						   cp->result != expect_crc[k]) {
						bad++;
						if (bad < 5)
							fprintf(stderr, "wd_client: request %u: wrong %s\n",
								id, copy ? "copy" : "checksum");
					}
				}
			}
			if (id < submitted)
				free_slots[nfree++] = s;
			done++;
		}
		set_cq_head(c, cq_seen);
	}
	t1 = now();

	printf("wd_client mode=bench algo=%s n=%u len=%u batch=%u verify=%d doorbell=%s ok=%u failed=%u bad=%u seconds=%.6f rps=%.0f\n",
	       c->algo, n, len, batch, verify, c->pwrite_doorbell ? "pwrite" : "mmap",
	       ok, failed, bad, t1 - t0, n / (t1 - t0));
	return ok == n && !bad ? 0 : 1;
}

/* ---- bad requests --------------------------------------------------------- */

static const char *st_name(unsigned int st)
{
	static const char *names[] = {
		"OK", "BAD_OPCODE", "BAD_FIELD", "BAD_LEN", "BAD_IOVA",
		"BAD_INDEX", "OVERLAP",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "UNKNOWN";
}

struct bad_case {
	const char *name;
	uint16_t op, flags;
	uint64_t src, dst;
	uint32_t len, rsvd;
	uint16_t expect;
};

static int cases_run, cases_failed;

static void check(int cond, const char *what, ...)
{
	va_list ap;

	cases_run++;
	if (cond)
		return;
	cases_failed++;
	fprintf(stderr, "wd_client: FAIL: ");
	va_start(ap, what);
	vfprintf(stderr, what, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Submit one request, wait for its completion, return it (consumed). */
static struct wd_dummy_v1_cpl one(struct client *c, uint16_t op, uint16_t flags,
				  uint32_t id, uint64_t src, uint64_t dst,
				  uint32_t len, uint32_t rsvd)
{
	struct wd_dummy_v1_cpl cp = { .status = 0xffff };
	uint32_t t;

	put_req(c, op, flags, id, src, dst, len, rsvd);
	ring(c, c->sq_tail);
	t = wait_cq(c, c->cq_head, 5.0);
	if (t != c->cq_head) {
		cp = c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
		set_cq_head(c, c->cq_head + 1);
	}
	return cp;
}

static int run_bad(struct client *c)
{
	const int copy = c->op == WD_DUMMY_V1_OP_COPY;
	const uint16_t other = copy ? WD_DUMMY_V1_OP_CSUM : WD_DUMMY_V1_OP_COPY;
	const uint64_t end = IOVA_BASE + c->buf_size;
	const uint64_t dst_ok = copy ? IOVA_BASE + 8192 : 0;
	const struct bad_case cases[] = {
		{ "opcode 0", 0, 0, IOVA_BASE, dst_ok, 64, 0, WD_DUMMY_V1_ST_BAD_OPCODE },
		{ "garbage opcode", 0xbeef, 0, IOVA_BASE, dst_ok, 64, 0, WD_DUMMY_V1_ST_BAD_OPCODE },
		{ "other algorithm's opcode", other, 0, IOVA_BASE, IOVA_BASE + 8192, 64, 0,
		  WD_DUMMY_V1_ST_BAD_OPCODE },
		{ "flags set", c->op, 1, IOVA_BASE, dst_ok, 64, 0, WD_DUMMY_V1_ST_BAD_FIELD },
		{ "reserved set", c->op, 0, IOVA_BASE, dst_ok, 64, 0xffffffff, WD_DUMMY_V1_ST_BAD_FIELD },
		{ "nop with a length", WD_DUMMY_V1_OP_NOP, 0, 0, 0, 8, 0, WD_DUMMY_V1_ST_BAD_FIELD },
		{ "zero length", c->op, 0, IOVA_BASE, dst_ok, 0, 0, WD_DUMMY_V1_ST_BAD_LEN },
		{ "length above max", c->op, 0, IOVA_BASE, dst_ok, WD_DUMMY_V1_MAX_LEN + 1, 0,
		  WD_DUMMY_V1_ST_BAD_LEN },
		{ "length 0xffffffff", c->op, 0, IOVA_BASE, dst_ok, 0xffffffff, 0, WD_DUMMY_V1_ST_BAD_LEN },
		{ "unmapped source", c->op, 0, IOVA_UNMAPPED, dst_ok, 64, 0, WD_DUMMY_V1_ST_BAD_IOVA },
		{ "source past the mapping", c->op, 0, end - 16, dst_ok, 64, 0, WD_DUMMY_V1_ST_BAD_IOVA },
		{ "source wraps", c->op, 0, 0xffffffffffffffc0ULL, dst_ok, 128, 0, WD_DUMMY_V1_ST_BAD_IOVA },
		{ "valid nop", WD_DUMMY_V1_OP_NOP, 0, 0, 0, 0, 0, WD_DUMMY_V1_ST_OK },
	};
	const struct bad_case copy_cases[] = {
		{ "unmapped destination", c->op, 0, IOVA_BASE, IOVA_UNMAPPED, 64, 0, WD_DUMMY_V1_ST_BAD_IOVA },
		{ "read-only destination", c->op, 0, IOVA_BASE, IOVA_RO, 64, 0, WD_DUMMY_V1_ST_BAD_IOVA },
		{ "destination wraps", c->op, 0, IOVA_BASE, 0xfffffffffffffff0ULL, 64, 0,
		  WD_DUMMY_V1_ST_BAD_IOVA },
		{ "overlapping copy", c->op, 0, IOVA_BASE, IOVA_BASE + 8, 64, 0, WD_DUMMY_V1_ST_OVERLAP },
	};
	const struct bad_case csum_cases[] = {
		{ "checksum with a destination", c->op, 0, IOVA_BASE, IOVA_BASE + 8192, 64, 0,
		  WD_DUMMY_V1_ST_BAD_FIELD },
	};
	const struct bad_case *extra = copy ? copy_cases : csum_cases;
	size_t n_extra = copy ? sizeof(copy_cases) / sizeof(copy_cases[0]) :
				sizeof(csum_cases) / sizeof(csum_cases[0]);
	struct wd_dummy_v1_cpl cp;
	uint32_t id = 100, t, v;
	unsigned int seed = 12345;

	/* 0. The file interface refuses what it does not offer. */
	{
		const uint64_t co = c->region_off[WD_DUMMY_V1_CTRL_REGION];
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 2 };
		uint32_t w = 0;
		void *p;

		check(pread(c->device, &w, 4, co + WD_DUMMY_V1_REG_MAGIC) == 4 &&
		      w == WD_DUMMY_V1_MAGIC, "pread MAGIC: 0x%x", w);
		errno = 0;
		check(pwrite(c->device, &w, 4, co + WD_DUMMY_V1_REG_SQ_HEAD) < 0 && errno == EINVAL,
		      "pwrite SQ_HEAD: errno %d", errno);
		errno = 0;
		check(pwrite(c->device, &w, 2, co + WD_DUMMY_V1_REG_DOORBELL) < 0 && errno == EINVAL,
		      "2-byte doorbell pwrite: errno %d", errno);
		errno = 0;
		check(pread(c->device, &w, 4, co + c->ctrl_size) < 0 && errno == EINVAL,
		      "pread past the control region: errno %d", errno);
		errno = 0;
		check(pread(c->device, &w, 4, (uint64_t)7 << WD_DUMMY_V1_REGION_SHIFT) < 0 &&
		      errno == EINVAL, "pread of region 7: errno %d", errno);
		errno = 0;
		check(ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0 && errno == EINVAL,
		      "region info of index 2: errno %d", errno);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, c->device, co);
		check(p == MAP_FAILED, "private mmap of the control region succeeded");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		p = mmap(NULL, 2 * c->ctrl_size, PROT_READ, MAP_SHARED, c->device, co);
		check(p == MAP_FAILED, "mmap past the control region succeeded");
		if (p != MAP_FAILED)
			munmap(p, 2 * c->ctrl_size);
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, c->device,
			 c->region_off[WD_DUMMY_V1_QUEUE_REGION] + 8192);
		check(p != MAP_FAILED && !memcmp(p, c->queue + 8192, 4096),
		      "mmap of the queue region's third page failed");
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}

	/* 1. Malformed descriptors, one at a time. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) + n_extra; i++) {
		const struct bad_case *k = i < sizeof(cases) / sizeof(cases[0]) ?
			&cases[i] : &extra[i - sizeof(cases) / sizeof(cases[0])];

		cp = one(c, k->op, k->flags, ++id, k->src, k->dst, k->len, k->rsvd);
		check(cp.status == k->expect && cp.id == id,
		      "%s: expected %s id %u, got %s id %u", k->name, st_name(k->expect),
		      id, st_name(cp.status), cp.id);
	}

	/* 2. A good request still works after all that. */
	fill(c->buf, 4096, 7);
	cp = one(c, c->op, 0, ++id, IOVA_BASE, dst_ok, 4096, 0);
	check(cp.status == WD_DUMMY_V1_ST_OK &&
	      (copy ? !memcmp(c->buf, c->buf + 8192, 4096) && cp.result == 4096 :
		      cp.result == crc32_ieee(c->buf, 4096)),
	      "valid request after errors: status %s result %u", st_name(cp.status), cp.result);
	check(rd64(c, WD_DUMMY_V1_REG_FAILED) == sizeof(cases) / sizeof(cases[0]) + n_extra - 1,
	      "FAILED register is %llu", (unsigned long long)rd64(c, WD_DUMMY_V1_REG_FAILED));

	/* 3. A doorbell too far ahead: one BAD_INDEX completion, nothing consumed. */
	v = c->sq_tail + WD_DUMMY_V1_SQ_ENTRIES + 7;
	ring(c, v);
	t = wait_cq(c, c->cq_head, 5.0);
	cp = c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
	check(t == c->cq_head + 1 && cp.status == WD_DUMMY_V1_ST_BAD_INDEX &&
	      cp.id == WD_DUMMY_V1_ID_NONE && cp.result == v && cp.sq_index == c->sq_tail,
	      "bad doorbell: completions %u status %s id 0x%x result %u", t - c->cq_head,
	      st_name(cp.status), cp.id, cp.result);
	set_cq_head(c, t);
	check(rd32(c, WD_DUMMY_V1_REG_ERROR) == WD_DUMMY_V1_ERR_DOORBELL &&
	      (rd32(c, WD_DUMMY_V1_REG_STATUS) & WD_DUMMY_V1_STATUS_ERROR) &&
	      rd32(c, WD_DUMMY_V1_REG_SQ_HEAD) == c->sq_tail,
	      "bad doorbell: error %u status 0x%x", rd32(c, WD_DUMMY_V1_REG_ERROR),
	      rd32(c, WD_DUMMY_V1_REG_STATUS));
	/* A doorbell that goes backwards is out of range too. */
	ring(c, c->sq_tail - 1);
	t = wait_cq(c, c->cq_head, 5.0);
	cp = c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
	check(t == c->cq_head + 1 && cp.status == WD_DUMMY_V1_ST_BAD_INDEX,
	      "backwards doorbell: status %s", st_name(cp.status));
	set_cq_head(c, t);
	cp = one(c, WD_DUMMY_V1_OP_NOP, 0, ++id, 0, 0, 0, 0);
	check(cp.status == WD_DUMMY_V1_ST_OK && cp.id == id,
	      "nop after a bad doorbell: %s", st_name(cp.status));

	/* 4. Reset, then a ring full of garbage: every entry gets an error. */
	reset_queue(c);
	check(rd32(c, WD_DUMMY_V1_REG_ERROR) == 0 && rd32(c, WD_DUMMY_V1_REG_CQ_TAIL) == 0 &&
	      (rd32(c, WD_DUMMY_V1_REG_STATUS) & WD_DUMMY_V1_STATUS_READY),
	      "reset: error %u cq_tail %u", rd32(c, WD_DUMMY_V1_REG_ERROR),
	      rd32(c, WD_DUMMY_V1_REG_CQ_TAIL));
	for (size_t i = 0; i < WD_DUMMY_V1_SQ_ENTRIES * WD_DUMMY_V1_REQ_SIZE; i++)
		((uint8_t *)c->sq)[i] = rand_r(&seed);
	for (uint32_t i = 0; i < WD_DUMMY_V1_SQ_ENTRIES; i += 2)	/* plausible opcodes */
		c->sq[i].opcode = i % 8;
	c->sq_tail = WD_DUMMY_V1_SQ_ENTRIES;
	ring(c, c->sq_tail);
	{
		uint32_t got = 0, okays = 0, unknown = 0;
		double deadline = now() + 10;

		while (got < WD_DUMMY_V1_SQ_ENTRIES && now() < deadline) {
			t = wait_cq(c, c->cq_head, 1.0);
			for (; c->cq_head != t; c->cq_head++, got++) {
				cp = c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
				okays += cp.status == WD_DUMMY_V1_ST_OK;
				unknown += cp.status > WD_DUMMY_V1_ST_OVERLAP;
			}
			set_cq_head(c, c->cq_head);
		}
		check(got == WD_DUMMY_V1_SQ_ENTRIES && okays == 0 && unknown == 0,
		      "garbage ring: %u completions, %u ok, %u unknown status", got, okays, unknown);
	}

	/* 5. Garbage CQ_HEAD: the queue reports it and stalls until it is fixed. */
	reset_queue(c);
	set_cq_head(c, 1000);
	put_req(c, WD_DUMMY_V1_OP_NOP, 0, ++id, 0, 0, 0, 0);
	ring(c, c->sq_tail);
	usleep(50000);
	check(rd32(c, WD_DUMMY_V1_REG_ERROR) == WD_DUMMY_V1_ERR_CQ_HEAD &&
	      rd32(c, WD_DUMMY_V1_REG_CQ_TAIL) == 0,
	      "garbage CQ_HEAD: error %u cq_tail %u", rd32(c, WD_DUMMY_V1_REG_ERROR),
	      rd32(c, WD_DUMMY_V1_REG_CQ_TAIL));
	set_cq_head(c, 0);
	t = wait_cq(c, 0, 5.0);
	cp = c->cq[0];
	check(t == 1 && cp.status == WD_DUMMY_V1_ST_OK && cp.id == id,
	      "after fixing CQ_HEAD: completions %u status %s", t, st_name(cp.status));
	set_cq_head(c, t);

	/* 6. Random descriptors (random lengths and addresses). */
	reset_queue(c);
	{
		uint32_t got = 0, unknown = 0, sent = 0;
		double deadline = now() + 20;

		while (got < 2048 && now() < deadline) {
			while (sent < 2048 && c->sq_tail - c->cq_head < WD_DUMMY_V1_SQ_ENTRIES) {
				uint64_t a = ((uint64_t)rand_r(&seed) << 32) | rand_r(&seed);
				uint64_t b = ((uint64_t)rand_r(&seed) << 32) | rand_r(&seed);

				if (sent & 1) {	/* near the mapping, to hit its edges */
					a = IOVA_BASE - 4096 + a % (c->buf_size + 8192);
					b = copy ? IOVA_BASE - 4096 + b % (c->buf_size + 8192) : 0;
				}
				put_req(c, sent % 3 ? c->op : rand_r(&seed) % 5, 0, sent, a, b,
					rand_r(&seed) % 3 ? rand_r(&seed) % 9000 : rand_r(&seed), 0);
				sent++;
			}
			ring(c, c->sq_tail);
			t = wait_cq(c, c->cq_head, 1.0);
			for (; c->cq_head != t; c->cq_head++, got++) {
				cp = c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)];
				unknown += cp.status > WD_DUMMY_V1_ST_OVERLAP;
			}
			set_cq_head(c, c->cq_head);
		}
		check(got == 2048 && unknown == 0, "random requests: %u completions, %u unknown status",
		      got, unknown);
	}
	reset_queue(c);

	printf("wd_client mode=bad algo=%s cases=%d passed=%d failed=%d\n", c->algo,
	       cases_run, cases_run - cases_failed, cases_failed);
	return cases_failed ? 1 : 0;
}

/* ---- hold ----------------------------------------------------------------- */

/*
 * Open the queue, leave work in it (completions not consumed), then wait:
 * for SIGKILL, for the timeout, or for the module to ask for the device back
 * (STATUS_REMOVE_REQUESTED), whichever comes first.
 */
static int run_hold(struct client *c, uint32_t n, double seconds)
{
	const int copy = c->op == WD_DUMMY_V1_OP_COPY;
	double deadline = seconds > 0 ? now() + seconds : 0;

	if (n > WD_DUMMY_V1_SQ_ENTRIES)
		n = WD_DUMMY_V1_SQ_ENTRIES;
	for (uint32_t i = 0; i < n; i++)
		put_req(c, c->op, 0, i, IOVA_BASE, copy ? IOVA_BASE + 8192 : 0, 64, 0);
	ring(c, c->sq_tail);
	while (rd32(c, WD_DUMMY_V1_REG_CQ_TAIL) != n)
		usleep(1000);
	printf("wd_client mode=hold algo=%s state=ready pid=%d sq_head=%u cq_tail=%u\n", c->algo,
	       getpid(), rd32(c, WD_DUMMY_V1_REG_SQ_HEAD), rd32(c, WD_DUMMY_V1_REG_CQ_TAIL));
	fflush(stdout);
	for (;;) {
		if (rd32(c, WD_DUMMY_V1_REG_STATUS) & WD_DUMMY_V1_STATUS_REMOVE_REQUESTED) {
			printf("wd_client mode=hold algo=%s state=remove-requested\n", c->algo);
			return 0;
		}
		if (deadline && now() > deadline) {
			printf("wd_client mode=hold algo=%s state=timeout\n", c->algo);
			return 0;
		}
		usleep(10000);
	}
}

/* ---- latency after idle -------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * How long a request takes when the queue has been idle for `idle_s`: the
 * device's worker has backed off to sleeping, so this is its wake-up time.
 */
static int run_latency(struct client *c, uint32_t n, double idle_s)
{
	double lat[64];

	if (n > 64)
		n = 64;
	for (uint32_t i = 0; i < n; i++) {
		double t0;
		uint32_t t;

		usleep((useconds_t)(idle_s * 1e6));
		t0 = now();
		put_req(c, WD_DUMMY_V1_OP_NOP, 0, i, 0, 0, 0, 0);
		ring(c, c->sq_tail);
		t = wait_cq(c, c->cq_head, 5.0);
		lat[i] = (now() - t0) * 1e6;
		if (t == c->cq_head || c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)].status) {
			fprintf(stderr, "wd_client: error: request %u did not complete\n", i);
			return 1;
		}
		set_cq_head(c, t);
	}
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	printf("wd_client mode=latency algo=%s n=%u idle_ms=%.0f min_us=%.0f median_us=%.0f max_us=%.0f\n",
	       c->algo, n, idle_s * 1e3, lat[0], lat[n / 2], lat[n - 1]);
	return 0;
}

/* ---- interrupt-driven waits ---------------------------------------------- */

static int run_irq(struct client *c, uint32_t n)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	static double lat[100000];
	uint32_t arm = 0, woken = 0;
	int efd;

	if (n > 100000)
		n = 100000;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		die("eventfd");
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = WD_DUMMY_V1_IRQ_CQ;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &efd, sizeof(efd));
	if (ioctl(c->device, VFIO_DEVICE_SET_IRQS, set))
		die("ioctl VFIO_DEVICE_SET_IRQS");
	for (uint32_t i = 0; i < n; i++) {
		double t0;
		uint32_t t;

		t0 = now();
		put_req(c, WD_DUMMY_V1_OP_NOP, 0, i, 0, 0, 0, 0);
		ring(c, c->sq_tail);
		for (;;) {
			uint64_t v;
			struct pollfd p = { .fd = efd, .events = POLLIN };

			t = __atomic_load_n(reg32(c, WD_DUMMY_V1_REG_CQ_TAIL), __ATOMIC_ACQUIRE);
			if (t != c->cq_head)
				break;
			/* Arm, then a full barrier before the re-check (PROTOCOL.md). */
			__atomic_store_n(reg32(c, WD_DUMMY_V1_REG_IRQ_ARM), ++arm, __ATOMIC_SEQ_CST);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			t = __atomic_load_n(reg32(c, WD_DUMMY_V1_REG_CQ_TAIL), __ATOMIC_ACQUIRE);
			if (t != c->cq_head)
				break;
			if (poll(&p, 1, 5000) != 1) {
				fprintf(stderr, "wd_client: error: request %u: no interrupt in 5 s\n", i);
				return 1;
			}
			if (read(efd, &v, sizeof(v)) == sizeof(v))
				woken++;
		}
		lat[i] = (now() - t0) * 1e6;
		if (c->cq[c->cq_head & (WD_DUMMY_V1_CQ_ENTRIES - 1)].status) {
			fprintf(stderr, "wd_client: error: request %u failed\n", i);
			return 1;
		}
		set_cq_head(c, c->cq_head + 1);
	}
	set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->count = 0;
	set->argsz = sizeof(*set);
	if (ioctl(c->device, VFIO_DEVICE_SET_IRQS, set))
		die("ioctl VFIO_DEVICE_SET_IRQS detach");
	close(efd);
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	printf("wd_client mode=irq algo=%s n=%u woken=%u p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
	       c->algo, n, woken, lat[n / 2], lat[(uint32_t)(n * 0.99)], lat[n - 1]);
	return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: wd_client [-m bench|bad|hold|latency|irq|info] [-n N] [-l LEN] [-b BATCH] [-q] [-w]\n"
		"                 [-t SECONDS] [-s SYSFS] <mdev-uuid>\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct client c = { .sysfs = "/sys" };
	const char *mode = "bench";
	uint32_t n = 10000, len = 256, batch = 32;
	double seconds = 0;
	int verify = 1, opt, ret = 0;
	size_t buf;

	while ((opt = getopt(argc, argv, "m:n:l:b:qwt:s:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'l': len = strtoul(optarg, NULL, 0); break;
		case 'b': batch = strtoul(optarg, NULL, 0); break;
		case 'q': verify = 0; break;
		case 'w': c.pwrite_doorbell = 1; break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 's': c.sysfs = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	c.uuid = argv[optind];
	if (!len || len > WD_DUMMY_V1_MAX_LEN || !batch || batch > WD_DUMMY_V1_SQ_ENTRIES ||
	    batch > WD_DUMMY_V1_CQ_ENTRIES || !n) {
		fprintf(stderr, "wd_client: error: need 1 <= len <= %u, 1 <= batch <= %u, n >= 1\n",
			WD_DUMMY_V1_MAX_LEN, WD_DUMMY_V1_SQ_ENTRIES);
		return 2;
	}
	crc_init();
	signal(SIGPIPE, SIG_IGN);

	buf = (size_t)batch * 2 * len;
	if (buf < 16384)
		buf = 16384;
	open_queue(&c, buf);

	if (!strcmp(mode, "bench")) {
		ret = run_bench(&c, n, len, batch, verify);
	} else if (!strcmp(mode, "bad")) {
		ret = run_bad(&c);
	} else if (!strcmp(mode, "hold")) {
		ret = run_hold(&c, n == 10000 ? 8 : n, seconds);
	} else if (!strcmp(mode, "latency")) {
		ret = run_latency(&c, n == 10000 ? 5 : n, seconds > 0 ? seconds : 0.2);
	} else if (!strcmp(mode, "irq")) {
		ret = run_irq(&c, n == 10000 ? 1000 : n);
	} else if (!strcmp(mode, "info")) {
		printf("wd_client mode=info algo=%s group=%d iommu=%d ctrl_size=%zu queue_size=%zu magic=0x%x version=%u sq_entries=%u cq_entries=%u max_len=%u status=0x%x\n",
		       c.algo, c.group_id, c.iommu_type, c.ctrl_size, c.queue_size,
		       rd32(&c, WD_DUMMY_V1_REG_MAGIC), rd32(&c, WD_DUMMY_V1_REG_VERSION),
		       rd32(&c, WD_DUMMY_V1_REG_SQ_ENTRIES), rd32(&c, WD_DUMMY_V1_REG_CQ_ENTRIES),
		       rd32(&c, WD_DUMMY_V1_REG_MAX_LEN), rd32(&c, WD_DUMMY_V1_REG_STATUS));
	} else {
		usage();
	}
	fflush(stdout);
	close_queue(&c);
	return ret;
}

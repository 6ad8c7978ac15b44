// SPDX-License-Identifier: GPL-2.0-only
/*
 * wd_dummy: a dummy WarpDrive accelerator for tests.
 *
 * Each device is a class device /sys/class/warpdrive/wd_dummy<N>/ with the
 * spec's wdev/ attributes; it is the mdev parent of two types, "copy" and
 * "csum". A mediated device is a VFIO device with an emulated IOMMU: two
 * mmap-able regions (a control page and the queue rings, see wd_dummy_v1.h
 * and PROTOCOL.md) served by a kernel thread that polls the doorbell while
 * the device file is open and reaches user buffers through vfio_dma_rw().
 * One VFIO interrupt (index WD_DUMMY_V1_IRQ_CQ) signals an eventfd when
 * completions become visible, once per arming (see PROTOCOL.md).
 *
 * Written for the 6.1 mdev/vfio API.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/crc32.h>
#include <linux/uaccess.h>
#include <linux/mdev.h>
#include <linux/vfio.h>
#include <linux/sysfs.h>
#include <linux/atomic.h>
#include <linux/eventfd.h>

#include "wd_dummy_v1.h"

#define WD_DRV_NAME		"wd_dummy"
#define WD_CLASS_NAME		"warpdrive"
#define WD_MAX_DEVICES		16
#define WD_MAX_INSTANCES	64
#define WD_BOUNCE_SIZE		(64 * 1024)
/* Requests handled in one pass before the worker looks at the clock. */
#define WD_BUDGET		64

/* Framework capability bits (spec: the low 8 bits of "flags"). */
#define WD_CAPA_SHARE_ALL	0x1
#define WD_CAPA_SGL_MEM		0x2
/* Algorithm bits (bits 8..31 belong to the algorithm). */
#define WD_DUMMY_CAPA_COPY_ANY_ALIGN	0x100	/* no alignment rule on copy */
#define WD_DUMMY_CAPA_CSUM_CRC32	0x10000	/* csum result is CRC-32/IEEE */

#define WD_REGION_MASK	((1ULL << WD_DUMMY_V1_REGION_SHIFT) - 1)

static unsigned int devices = 3;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "number of dummy WarpDrive devices (0.." __stringify(WD_MAX_DEVICES) ", default 3)");

static unsigned int instances = 4;
module_param(instances, uint, 0444);
MODULE_PARM_DESC(instances, "mediated devices per type and device (0.." __stringify(WD_MAX_INSTANCES) ", default 4)");

static int priority[WD_MAX_DEVICES];
static int n_priority;
module_param_array(priority, int, &n_priority, 0444);
MODULE_PARM_DESC(priority, "initial wdev/priority of each device (default 0)");

static int zone[WD_MAX_DEVICES];
static int n_zone;
module_param_array(zone, int, &n_zone, 0444);
MODULE_PARM_DESC(zone, "initial wdev/zone_id of each device (default 0)");

struct wd_algo {
	const char *name;	/* type sysfs_name and its "name" */
	const char *wd_type;
	u32 flags;
	u32 latency;
	u32 throughput;
	u16 opcode;		/* the data opcode this queue executes */
};

static const struct wd_algo wd_algos[] = {
	{
		.name = "copy", .wd_type = "memory",
		.flags = WD_CAPA_SHARE_ALL | WD_CAPA_SGL_MEM |
			 WD_DUMMY_CAPA_COPY_ANY_ALIGN,
		.latency = 10, .throughput = 20, .opcode = WD_DUMMY_V1_OP_COPY,
	},
	{
		.name = "csum", .wd_type = "hash",
		.flags = WD_CAPA_SHARE_ALL | WD_DUMMY_CAPA_CSUM_CRC32,
		.latency = 30, .throughput = 10, .opcode = WD_DUMMY_V1_OP_CSUM,
	},
};
#define WD_NR_ALGOS ARRAY_SIZE(wd_algos)

struct wd_counters {
	atomic64_t opens;
	atomic64_t reclaims;
	atomic64_t requests;
	atomic64_t errors;
	atomic64_t iova_faults;	/* vfio_dma_rw refused: an IOVA not mapped */
	atomic64_t irqs;	/* completion interrupts signalled */
};

struct wd_dev;

struct wd_type {
	struct mdev_type mtype;
	const struct wd_algo *algo;
	struct wd_dev *wdev;
	atomic_t used;		/* mediated devices of this type */
	bool attrs_added;
};

struct wd_dev {
	struct device dev;	/* class device and mdev parent */
	struct mdev_parent parent;
	struct wd_type types[WD_NR_ALGOS];
	struct mdev_type *type_ptrs[WD_NR_ALGOS];
	int priority;		/* READ_ONCE/WRITE_ONCE */
	int zone;
	struct wd_counters totals;
	bool added;
	bool parent_registered;
};

/* One mediated device = one queue. */
struct wd_queue {
	struct vfio_device vdev;	/* first: vfio_alloc_device() */
	struct wd_type *type;
	void *ctrl;			/* WD_DUMMY_V1_CTRL_SIZE, vmalloc_user */
	void *qmem;			/* WD_DUMMY_V1_QUEUE_SIZE, vmalloc_user */
	void *bounce;			/* WD_BOUNCE_SIZE */

	struct mutex lock;		/* open state, worker start/stop, reset */
	struct task_struct *worker;
	bool open;

	spinlock_t status_lock;
	u32 status;			/* WD_DUMMY_V1_STATUS_* */

	/* Owned by the worker (or by lock holders while it is stopped). */
	u32 sq_head;
	u32 cq_tail;
	u32 error;
	u32 bad_doorbell;
	bool bad_doorbell_seen;
	u64 completed;
	u64 failed;

	/* Completion interrupt: the eventfd, and the last IRQ_ARM value served. */
	spinlock_t irq_lock;
	struct eventfd_ctx *trigger;	/* under irq_lock */
	u32 irq_arm_seen;		/* worker-owned, like sq_head */

	struct wd_counters stats;
};

static struct class *wd_class;
static struct wd_dev *wd_devs[WD_MAX_DEVICES];
static struct mdev_driver wd_mdev_driver;

static inline __le32 *wd_reg32(struct wd_queue *q, unsigned int off)
{
	return q->ctrl + off;
}

static inline __le64 *wd_reg64(struct wd_queue *q, unsigned int off)
{
	return q->ctrl + off;
}

static void wd_status_update(struct wd_queue *q, u32 set, u32 clear)
{
	spin_lock(&q->status_lock);
	q->status = (q->status & ~clear) | set;
	WRITE_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_STATUS), cpu_to_le32(q->status));
	spin_unlock(&q->status_lock);
}

static void wd_set_error(struct wd_queue *q, u32 code)
{
	if (!q->error) {
		q->error = code;
		WRITE_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_ERROR), cpu_to_le32(code));
	}
	wd_status_update(q, WD_DUMMY_V1_STATUS_ERROR, 0);
}

/* Zero the rings and registers. Caller holds q->lock, worker stopped. */
static void wd_queue_reset(struct wd_queue *q)
{
	memset(q->ctrl, 0, WD_DUMMY_V1_CTRL_SIZE);
	memset(q->qmem, 0, WD_DUMMY_V1_QUEUE_SIZE);
	q->sq_head = 0;
	q->cq_tail = 0;
	q->error = 0;
	q->bad_doorbell = 0;
	q->bad_doorbell_seen = false;
	q->completed = 0;
	q->failed = 0;
	q->irq_arm_seen = 0;

	*wd_reg32(q, WD_DUMMY_V1_REG_MAGIC) = cpu_to_le32(WD_DUMMY_V1_MAGIC);
	*wd_reg32(q, WD_DUMMY_V1_REG_VERSION) = cpu_to_le32(WD_DUMMY_V1_VERSION);
	*wd_reg32(q, WD_DUMMY_V1_REG_SQ_ENTRIES) = cpu_to_le32(WD_DUMMY_V1_SQ_ENTRIES);
	*wd_reg32(q, WD_DUMMY_V1_REG_CQ_ENTRIES) = cpu_to_le32(WD_DUMMY_V1_CQ_ENTRIES);
	*wd_reg32(q, WD_DUMMY_V1_REG_MAX_LEN) = cpu_to_le32(WD_DUMMY_V1_MAX_LEN);
	*wd_reg32(q, WD_DUMMY_V1_REG_SQ_OFFSET) = cpu_to_le32(WD_DUMMY_V1_SQ_OFFSET);
	*wd_reg32(q, WD_DUMMY_V1_REG_CQ_OFFSET) = cpu_to_le32(WD_DUMMY_V1_CQ_OFFSET);
	*wd_reg32(q, WD_DUMMY_V1_REG_ALGO_OP) = cpu_to_le32(q->type->algo->opcode);

	/* Only a removal request survives a reset. */
	wd_status_update(q, 0, ~(u32)WD_DUMMY_V1_STATUS_REMOVE_REQUESTED);
}

/* ---- request execution ------------------------------------------------- */

/*
 * A DMA access the IOMMU refused: the IOVA is not (or no longer) mapped. Real
 * hardware would fault here; the counter is how tests see that it never
 * happens during an orderly release.
 */
static u16 wd_iova_fault(struct wd_queue *q)
{
	atomic64_inc(&q->stats.iova_faults);
	atomic64_inc(&q->type->wdev->totals.iova_faults);
	return WD_DUMMY_V1_ST_BAD_IOVA;
}

static bool wd_range_ok(u64 iova, u32 len)
{
	return iova + len >= iova;	/* no wrap past 2^64 */
}

static u16 wd_do_copy(struct wd_queue *q, u64 src, u64 dst, u32 len)
{
	u32 done = 0;

	while (done < len) {
		size_t n = min_t(size_t, len - done, WD_BOUNCE_SIZE);

		if (vfio_dma_rw(&q->vdev, src + done, q->bounce, n, false))
			return wd_iova_fault(q);
		if (vfio_dma_rw(&q->vdev, dst + done, q->bounce, n, true))
			return wd_iova_fault(q);
		done += n;
		cond_resched();
	}
	return WD_DUMMY_V1_ST_OK;
}

static u16 wd_do_csum(struct wd_queue *q, u64 src, u32 len, u32 *result)
{
	u32 crc = ~0U;
	u32 done = 0;

	while (done < len) {
		size_t n = min_t(size_t, len - done, WD_BOUNCE_SIZE);

		if (vfio_dma_rw(&q->vdev, src + done, q->bounce, n, false))
			return wd_iova_fault(q);
		crc = crc32_le(crc, q->bounce, n);
		done += n;
		cond_resched();
	}
	*result = ~crc;
	return WD_DUMMY_V1_ST_OK;
}

/* Validate and run one request already copied out of the shared ring. */
static u16 wd_execute(struct wd_queue *q, const struct wd_dummy_v1_req *r,
		      u32 *result)
{
	u16 op = le16_to_cpu(r->opcode);
	u64 src = le64_to_cpu(r->src);
	u64 dst = le64_to_cpu(r->dst);
	u32 len = le32_to_cpu(r->len);

	*result = 0;
	if (op == WD_DUMMY_V1_OP_NOP) {
		if (r->flags || r->rsvd || src || dst || len)
			return WD_DUMMY_V1_ST_BAD_FIELD;
		return WD_DUMMY_V1_ST_OK;
	}
	if (op != q->type->algo->opcode)
		return WD_DUMMY_V1_ST_BAD_OPCODE;
	if (r->flags || r->rsvd)
		return WD_DUMMY_V1_ST_BAD_FIELD;
	if (op == WD_DUMMY_V1_OP_CSUM && dst)
		return WD_DUMMY_V1_ST_BAD_FIELD;
	if (!len || len > WD_DUMMY_V1_MAX_LEN)
		return WD_DUMMY_V1_ST_BAD_LEN;
	if (!wd_range_ok(src, len))
		return WD_DUMMY_V1_ST_BAD_IOVA;

	if (op == WD_DUMMY_V1_OP_COPY) {
		u16 st;

		if (!wd_range_ok(dst, len))
			return WD_DUMMY_V1_ST_BAD_IOVA;
		if (src < dst + len && dst < src + len)
			return WD_DUMMY_V1_ST_OVERLAP;
		st = wd_do_copy(q, src, dst, len);
		if (st == WD_DUMMY_V1_ST_OK)
			*result = len;
		return st;
	}
	return wd_do_csum(q, src, len, result);
}

/*
 * Room for one completion? CQ_HEAD is user-written: a value that would mean
 * more than CQ_ENTRIES outstanding completions is an error and stalls the
 * queue until it is corrected (or the queue is reset).
 */
static bool wd_cq_has_room(struct wd_queue *q)
{
	u32 head = le32_to_cpu(READ_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_CQ_HEAD)));
	u32 used = q->cq_tail - head;

	if (used > WD_DUMMY_V1_CQ_ENTRIES) {
		wd_set_error(q, WD_DUMMY_V1_ERR_CQ_HEAD);
		return false;
	}
	return used < WD_DUMMY_V1_CQ_ENTRIES;
}

static void wd_post(struct wd_queue *q, u32 id, u16 status, u16 opcode,
		    u32 result, u32 sq_index)
{
	struct wd_dummy_v1_cpl *ring = q->qmem + WD_DUMMY_V1_CQ_OFFSET;
	struct wd_dummy_v1_cpl *c = &ring[q->cq_tail & (WD_DUMMY_V1_CQ_ENTRIES - 1)];

	WRITE_ONCE(c->id, cpu_to_le32(id));
	WRITE_ONCE(c->status, cpu_to_le16(status));
	WRITE_ONCE(c->opcode, cpu_to_le16(opcode));
	WRITE_ONCE(c->result, cpu_to_le32(result));
	WRITE_ONCE(c->sq_index, cpu_to_le32(sq_index));
	q->cq_tail++;

	if (status == WD_DUMMY_V1_ST_OK) {
		q->completed++;
		atomic64_inc(&q->stats.requests);
		atomic64_inc(&q->type->wdev->totals.requests);
		WRITE_ONCE(*wd_reg64(q, WD_DUMMY_V1_REG_COMPLETED), cpu_to_le64(q->completed));
	} else {
		q->failed++;
		atomic64_inc(&q->stats.errors);
		atomic64_inc(&q->type->wdev->totals.errors);
		WRITE_ONCE(*wd_reg64(q, WD_DUMMY_V1_REG_FAILED), cpu_to_le64(q->failed));
	}

	/*
	 * The completion entry (and, for COPY, the destination bytes written
	 * through vfio_dma_rw) must be visible before the new CQ_TAIL; pairs
	 * with user space reading CQ_TAIL before the entries.
	 */
	smp_store_release(wd_reg32(q, WD_DUMMY_V1_REG_CQ_TAIL), cpu_to_le32(q->cq_tail));
}

/* Signal the completion eventfd, if one is attached. */
static void wd_irq_signal(struct wd_queue *q)
{
	spin_lock(&q->irq_lock);
	if (q->trigger) {
		eventfd_signal(q->trigger, 1);
		atomic64_inc(&q->stats.irqs);
	}
	spin_unlock(&q->irq_lock);
}

/*
 * The completion interrupt, moderated: it fires once per arming. User space
 * arms it by storing a new value in IRQ_ARM after it found the completion
 * ring empty; the device fires when it is armed and a completion is visible
 * that user space has not consumed (CQ_TAIL != CQ_HEAD), then stays quiet
 * until the next arming, however many completions follow. Called after every
 * pass that posted completions and at every wake-up of the worker, so an
 * arming that finds completions already there fires too: no signal is lost
 * while user space re-arms.
 */
static void wd_irq_check(struct wd_queue *q)
{
	u32 arm, head;

	/*
	 * Full barrier: the CQ_TAIL store before it (wd_post) against the
	 * IRQ_ARM load after it. User space stores IRQ_ARM, then loads
	 * CQ_TAIL, with a full barrier between (a sequentially consistent
	 * store): either it sees the new tail, or this sees the arming.
	 */
	smp_mb();
	arm = le32_to_cpu(READ_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_IRQ_ARM)));
	if (arm == q->irq_arm_seen)
		return;
	head = le32_to_cpu(READ_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_CQ_HEAD)));
	if (head == q->cq_tail)
		return;		/* armed, nothing to report yet */
	q->irq_arm_seen = arm;
	wd_irq_signal(q);
}

/* One pass over the request ring. Returns how many entries it handled. */
static int wd_service(struct wd_queue *q)
{
	struct wd_dummy_v1_req *ring = q->qmem + WD_DUMMY_V1_SQ_OFFSET;
	u32 tail = le32_to_cpu(READ_ONCE(*wd_reg32(q, WD_DUMMY_V1_REG_DOORBELL)));
	u32 pending = tail - q->sq_head;
	int done = 0;

	if (!pending)
		return 0;

	if (pending > WD_DUMMY_V1_SQ_ENTRIES) {
		/* Report each bad doorbell value once; consume nothing. */
		if (q->bad_doorbell_seen && q->bad_doorbell == tail)
			return 0;
		if (!wd_cq_has_room(q))
			return 0;
		wd_post(q, WD_DUMMY_V1_ID_NONE, WD_DUMMY_V1_ST_BAD_INDEX, 0,
			tail, q->sq_head);
		q->bad_doorbell = tail;
		q->bad_doorbell_seen = true;
		wd_set_error(q, WD_DUMMY_V1_ERR_DOORBELL);
		return 1;
	}
	q->bad_doorbell_seen = false;

	/*
	 * Descriptor loads after the doorbell load; pairs with the store
	 * barrier user space puts between its descriptor stores and the
	 * doorbell store.
	 */
	smp_rmb();

	while (pending-- && done < WD_BUDGET) {
		struct wd_dummy_v1_req *slot =
			&ring[q->sq_head & (WD_DUMMY_V1_SQ_ENTRIES - 1)];
		struct wd_dummy_v1_req r;
		u32 result;
		u16 st;

		if (!wd_cq_has_room(q) || kthread_should_stop())
			break;

		/* User space may rewrite the slot at any time: read once. */
		r.opcode = READ_ONCE(slot->opcode);
		r.flags = READ_ONCE(slot->flags);
		r.id = READ_ONCE(slot->id);
		r.src = READ_ONCE(slot->src);
		r.dst = READ_ONCE(slot->dst);
		r.len = READ_ONCE(slot->len);
		r.rsvd = READ_ONCE(slot->rsvd);

		st = wd_execute(q, &r, &result);
		wd_post(q, le32_to_cpu(r.id), st, le16_to_cpu(r.opcode), result,
			q->sq_head);
		q->sq_head++;
		/* The slot's loads are done before user space may reuse it. */
		smp_store_release(wd_reg32(q, WD_DUMMY_V1_REG_SQ_HEAD),
				  cpu_to_le32(q->sq_head));
		done++;
	}
	return done;
}

/* Sleep up to max_us unless woken (doorbell write, stop). */
static void wd_nap(unsigned long min_us, unsigned long max_us)
{
	ktime_t t = ktime_set(0, min_us * NSEC_PER_USEC);

	set_current_state(TASK_INTERRUPTIBLE);
	if (kthread_should_stop()) {
		__set_current_state(TASK_RUNNING);
		return;
	}
	schedule_hrtimeout_range(&t, (max_us - min_us) * NSEC_PER_USEC,
				 HRTIMER_MODE_REL);
	__set_current_state(TASK_RUNNING);
}

/*
 * The device's engine: polls the doorbell like hardware would. Polls every
 * few microseconds right after work, backs off to ~1 ms when nothing was rung
 * for a while, so an idle open queue costs about a thousand short wake-ups a
 * second and a doorbell is noticed within about 1 ms.
 */
static int wd_worker(void *arg)
{
	struct wd_queue *q = arg;
	ktime_t last = ktime_get();

	while (!kthread_should_stop()) {
		s64 idle_us;

		if (wd_service(q) > 0) {
			wd_irq_check(q);
			last = ktime_get();
			cond_resched();
			continue;
		}
		wd_irq_check(q);
		idle_us = ktime_us_delta(ktime_get(), last);
		if (idle_us < 2000)
			wd_nap(5, 20);
		else if (idle_us < 100000)
			wd_nap(100, 200);
		else
			wd_nap(700, 1000);
	}
	return 0;
}

/* Caller holds q->lock. */
static int wd_worker_start(struct wd_queue *q)
{
	struct task_struct *t;

	t = kthread_run(wd_worker, q, "wd_dummy/%u", q->vdev.index);
	if (IS_ERR(t))
		return PTR_ERR(t);
	q->worker = t;
	wd_status_update(q, WD_DUMMY_V1_STATUS_READY, 0);
	return 0;
}

/* Caller holds q->lock. */
static void wd_worker_stop(struct wd_queue *q)
{
	wd_status_update(q, 0, WD_DUMMY_V1_STATUS_READY);
	if (q->worker) {
		kthread_stop(q->worker);
		q->worker = NULL;
	}
}

/* ---- vfio_device_ops ----------------------------------------------------- */

static int wd_vfio_init(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);

	q->type = container_of(mdev->type, struct wd_type, mtype);
	q->ctrl = vmalloc_user(WD_DUMMY_V1_CTRL_SIZE);
	q->qmem = vmalloc_user(WD_DUMMY_V1_QUEUE_SIZE);
	q->bounce = vmalloc(WD_BOUNCE_SIZE);
	if (!q->ctrl || !q->qmem || !q->bounce) {
		vfree(q->ctrl);
		vfree(q->qmem);
		vfree(q->bounce);
		return -ENOMEM;
	}
	mutex_init(&q->lock);
	spin_lock_init(&q->status_lock);
	spin_lock_init(&q->irq_lock);
	wd_queue_reset(q);
	return 0;
}

static void wd_vfio_release(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	atomic_dec(&q->type->used);
	vfree(q->ctrl);
	vfree(q->qmem);
	vfree(q->bounce);
	mutex_destroy(&q->lock);
	vfio_free_device(vdev);
}

static int wd_vfio_open(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	int ret;

	mutex_lock(&q->lock);
	wd_queue_reset(q);
	ret = wd_worker_start(q);
	if (!ret) {
		q->open = true;
		atomic64_inc(&q->stats.opens);
		atomic64_inc(&q->type->wdev->totals.opens);
	}
	mutex_unlock(&q->lock);
	return ret;
}

static void wd_irq_attach(struct wd_queue *q, struct eventfd_ctx *ctx);

/*
 * The spec's reclaim: the last close of the device file, whether by the
 * release API or because the process died, stops the queue and clears it.
 */
static void wd_vfio_close(struct vfio_device *vdev)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	mutex_lock(&q->lock);
	wd_worker_stop(q);
	wd_irq_attach(q, NULL);
	wd_queue_reset(q);
	q->open = false;
	atomic64_inc(&q->stats.reclaims);
	atomic64_inc(&q->type->wdev->totals.reclaims);
	mutex_unlock(&q->lock);
}

/* Replace the completion eventfd (NULL detaches); drops the old reference. */
static void wd_irq_attach(struct wd_queue *q, struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	spin_lock(&q->irq_lock);
	old = q->trigger;
	q->trigger = ctx;
	spin_unlock(&q->irq_lock);
	if (old)
		eventfd_ctx_put(old);
}

/*
 * VFIO_DEVICE_SET_IRQS for the one index: ACTION_TRIGGER only (the interrupt
 * is edge-like and moderated by IRQ_ARM, so MASK/UNMASK mean nothing).
 * DATA_EVENTFD with count 1 attaches the eventfd (fd -1 detaches); count 0
 * (any data type) detaches; DATA_NONE / DATA_BOOL true with count 1 signals
 * it at once (loopback, as vfio-pci does).
 */
static int wd_set_irqs(struct wd_queue *q, void __user *uarg)
{
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	int ret;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, 1, WD_DUMMY_V1_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;
	if (hdr.index != WD_DUMMY_V1_IRQ_CQ)
		return -EINVAL;
	if ((hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	if (hdr.count == 0) {
		wd_irq_attach(q, NULL);
		return 0;
	}
	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD: {
		s32 fd;
		struct eventfd_ctx *ctx;

		if (copy_from_user(&fd, uarg + minsz, sizeof(fd)))
			return -EFAULT;
		if (fd == -1) {
			wd_irq_attach(q, NULL);
			return 0;
		}
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
		wd_irq_attach(q, ctx);
		return 0;
	}
	case VFIO_IRQ_SET_DATA_BOOL: {
		u8 b;

		if (copy_from_user(&b, uarg + minsz, 1))
			return -EFAULT;
		if (b)
			wd_irq_signal(q);
		return 0;
	}
	case VFIO_IRQ_SET_DATA_NONE:
		wd_irq_signal(q);
		return 0;
	}
	return -EINVAL;
}

static int wd_region(struct wd_queue *q, unsigned int index, void **base,
		     size_t *size)
{
	switch (index) {
	case WD_DUMMY_V1_CTRL_REGION:
		*base = q->ctrl;
		*size = WD_DUMMY_V1_CTRL_SIZE;
		return 0;
	case WD_DUMMY_V1_QUEUE_REGION:
		*base = q->qmem;
		*size = WD_DUMMY_V1_QUEUE_SIZE;
		return 0;
	}
	return -EINVAL;
}

/*
 * read()/pread(): any bytes of either region. write()/pwrite(): any bytes of
 * the queue region; on the control region only the 4-byte DOORBELL, CQ_HEAD
 * and IRQ_ARM registers (the slow path, which also wakes the worker at once).
 */
static ssize_t wd_vfio_rw(struct wd_queue *q, char __user *rbuf,
			  const char __user *wbuf, size_t count, loff_t *ppos,
			  bool write)
{
	unsigned int index = *ppos >> WD_DUMMY_V1_REGION_SHIFT;
	u64 off = *ppos & WD_REGION_MASK;
	void *base;
	size_t size;

	if (*ppos < 0 || wd_region(q, index, &base, &size))
		return -EINVAL;
	if (off >= size || count > size - off)
		return -EINVAL;

	if (!write) {
		if (copy_to_user(rbuf, base + off, count))
			return -EFAULT;
	} else if (index == WD_DUMMY_V1_QUEUE_REGION) {
		if (copy_from_user(base + off, wbuf, count))
			return -EFAULT;
	} else {
		__le32 v;

		if (count != 4 || (off != WD_DUMMY_V1_REG_DOORBELL &&
				   off != WD_DUMMY_V1_REG_CQ_HEAD &&
				   off != WD_DUMMY_V1_REG_IRQ_ARM))
			return -EINVAL;
		if (copy_from_user(&v, wbuf, 4))
			return -EFAULT;
		WRITE_ONCE(*wd_reg32(q, off), v);
		mutex_lock(&q->lock);
		if (q->worker)
			wake_up_process(q->worker);
		mutex_unlock(&q->lock);
	}
	*ppos += count;
	return count;
}

static ssize_t wd_vfio_read(struct vfio_device *vdev, char __user *buf,
			    size_t count, loff_t *ppos)
{
	return wd_vfio_rw(container_of(vdev, struct wd_queue, vdev), buf, NULL,
			  count, ppos, false);
}

static ssize_t wd_vfio_write(struct vfio_device *vdev, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	return wd_vfio_rw(container_of(vdev, struct wd_queue, vdev), NULL, buf,
			  count, ppos, true);
}

static int wd_vfio_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	const unsigned int shift = WD_DUMMY_V1_REGION_SHIFT - PAGE_SHIFT;
	unsigned long index = vma->vm_pgoff >> shift;
	unsigned long pgoff = vma->vm_pgoff & ((1UL << shift) - 1);
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long pages;
	void *base;
	size_t size;

	if (index > UINT_MAX || wd_region(q, index, &base, &size))
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	pages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	if (pgoff >= pages || len > (pages - pgoff) << PAGE_SHIFT)
		return -EINVAL;
	return remap_vmalloc_range(vma, base, pgoff);
}

static long wd_vfio_ioctl(struct vfio_device *vdev, unsigned int cmd,
			  unsigned long arg)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = WD_DUMMY_V1_NUM_REGIONS;
		info.num_irqs = WD_DUMMY_V1_NUM_IRQS;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;
		void *base;
		size_t size;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		if (wd_region(q, info.index, &base, &size))
			return -EINVAL;
		info.offset = (u64)info.index << WD_DUMMY_V1_REGION_SHIFT;
		info.size = size;
		info.flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE |
			     VFIO_REGION_INFO_FLAG_MMAP;
		info.cap_offset = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info info;

		minsz = offsetofend(struct vfio_irq_info, count);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index != WD_DUMMY_V1_IRQ_CQ)
			return -EINVAL;
		info.flags = VFIO_IRQ_INFO_EVENTFD;
		info.count = 1;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return wd_set_irqs(q, uarg);
	case VFIO_DEVICE_RESET: {
		int ret;

		mutex_lock(&q->lock);
		wd_worker_stop(q);
		wd_queue_reset(q);
		ret = wd_worker_start(q);
		mutex_unlock(&q->lock);
		return ret;
	}
	}
	return -ENOTTY;
}

/* Removal of an open mdev waits for the file to close; tell user space. */
static void wd_vfio_request(struct vfio_device *vdev, unsigned int count)
{
	struct wd_queue *q = container_of(vdev, struct wd_queue, vdev);

	wd_status_update(q, WD_DUMMY_V1_STATUS_REMOVE_REQUESTED, 0);
	if (count == 0)
		dev_info(vdev->dev, "removal requested while open; waiting for the device file to be closed\n");
}

static const struct vfio_device_ops wd_vfio_ops = {
	.name = "wd_dummy",
	.init = wd_vfio_init,
	.release = wd_vfio_release,
	.open_device = wd_vfio_open,
	.close_device = wd_vfio_close,
	.read = wd_vfio_read,
	.write = wd_vfio_write,
	.mmap = wd_vfio_mmap,
	.ioctl = wd_vfio_ioctl,
	.request = wd_vfio_request,
};

/* ---- mdev driver ---------------------------------------------------------- */

static int wd_mdev_probe(struct mdev_device *mdev)
{
	struct wd_type *t = container_of(mdev->type, struct wd_type, mtype);
	struct wd_queue *q;
	int ret;

	/* Per-type limit; the instance is given back in wd_vfio_release(). */
	if (!atomic_add_unless(&t->used, 1, instances))
		return -EUSERS;

	q = vfio_alloc_device(wd_queue, vdev, &mdev->dev, &wd_vfio_ops);
	if (IS_ERR(q)) {
		atomic_dec(&t->used);
		return PTR_ERR(q);
	}
	ret = vfio_register_emulated_iommu_dev(&q->vdev);
	if (ret) {
		vfio_put_device(&q->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, q);
	return 0;
}

static void wd_mdev_remove(struct mdev_device *mdev)
{
	struct wd_queue *q = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&q->vdev);
	vfio_put_device(&q->vdev);
}

static unsigned int wd_mdev_get_available(struct mdev_type *mtype)
{
	struct wd_type *t = container_of(mtype, struct wd_type, mtype);
	int used = atomic_read(&t->used);

	return used >= (int)instances ? 0 : instances - used;
}

static ssize_t wd_mdev_show_description(struct mdev_type *mtype, char *buf)
{
	struct wd_type *t = container_of(mtype, struct wd_type, mtype);

	return sysfs_emit(buf, "dummy WarpDrive %s queue, ring protocol %s\n",
			  t->algo->name, WD_DUMMY_V1_API);
}

/* Per-mdev counters: /sys/bus/mdev/devices/<uuid>/wd_dummy/ */
#define WD_MDEV_COUNTER(_name)						\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct wd_queue *q = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%lld\n", atomic64_read(&q->stats._name)); \
}									\
static DEVICE_ATTR_RO(_name)

WD_MDEV_COUNTER(opens);
WD_MDEV_COUNTER(reclaims);
WD_MDEV_COUNTER(requests);
WD_MDEV_COUNTER(errors);
WD_MDEV_COUNTER(iova_faults);
WD_MDEV_COUNTER(irqs);

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct wd_queue *q = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", READ_ONCE(q->open) ? "open" : "idle");
}
static DEVICE_ATTR_RO(state);

static struct attribute *wd_mdev_attrs[] = {
	&dev_attr_opens.attr,
	&dev_attr_reclaims.attr,
	&dev_attr_requests.attr,
	&dev_attr_errors.attr,
	&dev_attr_iova_faults.attr,
	&dev_attr_irqs.attr,
	&dev_attr_state.attr,
	NULL,
};

static const struct attribute_group wd_mdev_group = {
	.name = WD_DRV_NAME,
	.attrs = wd_mdev_attrs,
};

static const struct attribute_group *wd_mdev_groups[] = {
	&wd_mdev_group,
	NULL,
};

static struct mdev_driver wd_mdev_driver = {
	.device_api = WD_DUMMY_V1_API,
	.driver = {
		.name = WD_DRV_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = wd_mdev_groups,
	},
	.probe = wd_mdev_probe,
	.remove = wd_mdev_remove,
	.get_available = wd_mdev_get_available,
	.show_description = wd_mdev_show_description,
};

/* ---- extra attributes of a type directory ---------------------------------- */

/*
 * The type kobject's sysfs_ops belong to the mdev core and call show()
 * through its private struct mdev_type_attribute (mdev_sysfs.c, 6.1), which
 * no header exports. The same layout is declared here under the same name so
 * wd_type, flags, latency and throughput sit beside the core's attributes.
 */
struct mdev_type_attribute {
	struct attribute attr;
	ssize_t (*show)(struct mdev_type *mtype,
			struct mdev_type_attribute *attr, char *buf);
	ssize_t (*store)(struct mdev_type *mtype,
			 struct mdev_type_attribute *attr, const char *buf,
			 size_t count);
};

#define WD_TYPE_ATTR_RO(_name)						\
	static struct mdev_type_attribute wd_type_attr_##_name =	\
		__ATTR(_name, 0444, wd_type_##_name##_show, NULL)

static const struct wd_algo *wd_algo_of(struct mdev_type *mtype)
{
	return container_of(mtype, struct wd_type, mtype)->algo;
}

static ssize_t wd_type_wd_type_show(struct mdev_type *mtype,
				    struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", wd_algo_of(mtype)->wd_type);
}
WD_TYPE_ATTR_RO(wd_type);

static ssize_t wd_type_flags_show(struct mdev_type *mtype,
				  struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%x\n", wd_algo_of(mtype)->flags);
}
WD_TYPE_ATTR_RO(flags);

static ssize_t wd_type_latency_show(struct mdev_type *mtype,
				    struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", wd_algo_of(mtype)->latency);
}
WD_TYPE_ATTR_RO(latency);

static ssize_t wd_type_throughput_show(struct mdev_type *mtype,
				       struct mdev_type_attribute *attr,
				       char *buf)
{
	return sysfs_emit(buf, "%u\n", wd_algo_of(mtype)->throughput);
}
WD_TYPE_ATTR_RO(throughput);

static struct attribute *wd_type_attrs[] = {
	&wd_type_attr_wd_type.attr,
	&wd_type_attr_flags.attr,
	&wd_type_attr_latency.attr,
	&wd_type_attr_throughput.attr,
	NULL,
};

static const struct attribute_group wd_type_group = {
	.attrs = wd_type_attrs,
};

/* ---- the class device: wdev/ and wd_dummy/ ------------------------------- */

static struct wd_dev *to_wd_dev(struct device *dev)
{
	return container_of(dev, struct wd_dev, dev);
}

static ssize_t wd_int_store(int *field, const char *buf, size_t count)
{
	int v, ret;

	ret = kstrtoint(buf, 0, &v);
	if (ret)
		return ret;
	WRITE_ONCE(*field, v);
	return count;
}

static ssize_t zone_id_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_wd_dev(dev)->zone));
}

static ssize_t zone_id_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	return wd_int_store(&to_wd_dev(dev)->zone, buf, count);
}
static DEVICE_ATTR_RW(zone_id);

/* Any integer is accepted; outside [-100, 99] it means "do not choose me". */
static ssize_t priority_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_wd_dev(dev)->priority));
}

static ssize_t priority_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	return wd_int_store(&to_wd_dev(dev)->priority, buf, count);
}
static DEVICE_ATTR_RW(priority);

/*
 * An emulated-IOMMU mdev sits in a container run by vfio_iommu_type1, which
 * takes it under VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU alike; TYPE1v2 is the
 * one current user space asks for, so that is what is advertised.
 */
static ssize_t iommu_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", VFIO_TYPE1v2_IOMMU);
}
static DEVICE_ATTR_RO(iommu);

static struct attribute *wd_wdev_attrs[] = {
	&dev_attr_zone_id.attr,
	&dev_attr_priority.attr,
	&dev_attr_iommu.attr,
	NULL,
};

static const struct attribute_group wd_wdev_group = {
	.name = "wdev",
	.attrs = wd_wdev_attrs,
};

#define WD_DEV_COUNTER(_name)						\
static ssize_t total_##_name##_show(struct device *dev,			\
				    struct device_attribute *attr,	\
				    char *buf)				\
{									\
	return sysfs_emit(buf, "%lld\n",				\
			  atomic64_read(&to_wd_dev(dev)->totals._name)); \
}									\
static struct device_attribute dev_attr_total_##_name =		\
	__ATTR(_name, 0444, total_##_name##_show, NULL)

WD_DEV_COUNTER(opens);
WD_DEV_COUNTER(reclaims);
WD_DEV_COUNTER(requests);
WD_DEV_COUNTER(errors);
WD_DEV_COUNTER(iova_faults);
WD_DEV_COUNTER(irqs);

static struct attribute *wd_stats_attrs[] = {
	&dev_attr_total_opens.attr,
	&dev_attr_total_reclaims.attr,
	&dev_attr_total_requests.attr,
	&dev_attr_total_errors.attr,
	&dev_attr_total_iova_faults.attr,
	&dev_attr_total_irqs.attr,
	NULL,
};

static const struct attribute_group wd_stats_group = {
	.name = WD_DRV_NAME,
	.attrs = wd_stats_attrs,
};

static const struct attribute_group *wd_dev_groups[] = {
	&wd_wdev_group,
	&wd_stats_group,
	NULL,
};

/* Freed when the last reference goes (mdev types hold one each). */
static void wd_dev_release(struct device *dev)
{
	kfree(to_wd_dev(dev));
}

static void wd_dev_destroy(struct wd_dev *w)
{
	unsigned int i;

	for (i = 0; i < WD_NR_ALGOS; i++)
		if (w->types[i].attrs_added)
			sysfs_remove_group(&w->types[i].mtype.kobj, &wd_type_group);
	if (w->parent_registered)
		mdev_unregister_parent(&w->parent);	/* removes its mdevs */
	if (w->added)
		device_del(&w->dev);
	put_device(&w->dev);
}

static struct wd_dev *wd_dev_create(unsigned int index)
{
	struct wd_dev *w;
	unsigned int i;
	int ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return ERR_PTR(-ENOMEM);
	device_initialize(&w->dev);
	w->dev.class = wd_class;
	w->dev.groups = wd_dev_groups;
	w->dev.release = wd_dev_release;
	w->priority = index < n_priority ? priority[index] : 0;
	w->zone = index < n_zone ? zone[index] : 0;
	for (i = 0; i < WD_NR_ALGOS; i++) {
		w->types[i].algo = &wd_algos[i];
		w->types[i].wdev = w;
		w->types[i].mtype.sysfs_name = wd_algos[i].name;
		atomic_set(&w->types[i].used, 0);
		w->type_ptrs[i] = &w->types[i].mtype;
	}

	ret = dev_set_name(&w->dev, WD_DRV_NAME "%u", index);
	if (ret)
		goto err;
	ret = device_add(&w->dev);
	if (ret)
		goto err;
	w->added = true;

	/*
	 * 6.1 names each type directory "<dev_driver_string(parent)>-<type>".
	 * A class device has no driver, so that would be the class name
	 * ("warpdrive-copy"). The spec wants "<dev_drv>-<algo>": lend the
	 * driver's name for the time of the registration only; nothing else
	 * reads it, and it is cleared before any other code can.
	 */
	w->dev.driver = &wd_mdev_driver.driver;
	ret = mdev_register_parent(&w->parent, &w->dev, &wd_mdev_driver,
				   w->type_ptrs, WD_NR_ALGOS);
	w->dev.driver = NULL;
	if (ret)
		goto err;
	w->parent_registered = true;

	for (i = 0; i < WD_NR_ALGOS; i++) {
		ret = sysfs_create_group(&w->types[i].mtype.kobj, &wd_type_group);
		if (ret)
			goto err;
		w->types[i].attrs_added = true;
	}
	return w;

err:
	wd_dev_destroy(w);
	return ERR_PTR(ret);
}

static void wd_cleanup(void)
{
	int i;

	for (i = WD_MAX_DEVICES - 1; i >= 0; i--) {
		if (wd_devs[i]) {
			wd_dev_destroy(wd_devs[i]);
			wd_devs[i] = NULL;
		}
	}
	if (wd_class)
		class_destroy(wd_class);
	wd_class = NULL;
	mdev_unregister_driver(&wd_mdev_driver);
}

static int __init wd_init(void)
{
	unsigned int i;
	int ret;

	if (devices > WD_MAX_DEVICES || instances > WD_MAX_INSTANCES) {
		pr_err(WD_DRV_NAME ": devices must be 0..%d and instances 0..%d\n",
		       WD_MAX_DEVICES, WD_MAX_INSTANCES);
		return -EINVAL;
	}

	ret = mdev_register_driver(&wd_mdev_driver);
	if (ret)
		return ret;

	wd_class = class_create(THIS_MODULE, WD_CLASS_NAME);
	if (IS_ERR(wd_class)) {
		ret = PTR_ERR(wd_class);
		wd_class = NULL;
		goto err;
	}

	for (i = 0; i < devices; i++) {
		struct wd_dev *w = wd_dev_create(i);

		if (IS_ERR(w)) {
			ret = PTR_ERR(w);
			goto err;
		}
		wd_devs[i] = w;
	}
	pr_info(WD_DRV_NAME ": %u devices, %u instances per type\n",
		devices, instances);
	return 0;

err:
	wd_cleanup();
	return ret;
}

static void __exit wd_exit(void)
{
	wd_cleanup();
}

module_init(wd_init);
module_exit(wd_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("Dummy WarpDrive accelerator (mdev/VFIO, ring protocol wd_dummy_v1) for tests");

// SPDX-License-Identifier: GPL-2.0
/*
 * uacce_dummy: a dummy UACCE accelerator for the kernel tests.
 *
 * Registers a few platform devices, each with one UACCE device (class "uacce",
 * char device /dev/uacce_dummy-<id>) that speaks the uacce_dummy_v1 queue
 * protocol (uacce_dummy_v1.h, PROTOCOL_UACCE.md): a register page (MMIO
 * region) with a doorbell, and a shared region (DUS) with a request ring, a
 * completion ring and a buffer arena. A kernel thread per started queue polls
 * the doorbell, copies or checksums bytes inside the arena, writes completions
 * and wakes the file's poll waiters. No hardware, no DMA, no SVA (flags 0).
 *
 * It needs the UACCE framework (uacce.ko). Debian's kernels do not build it,
 * and their include/linux/uacce.h then turns the API into failing stubs, so
 * this file and uacce.c are built with -DCONFIG_UACCE_MODULE=1 (see Makefile).
 */
#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uacce.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "uacce_dummy_v1.h"

#define UD_NAME "uacce_dummy"
#define UD_MAX_DEVICES 16
#define UD_MAX_QUEUES 64
/* Requests served in one pass before the thread looks at kthread_should_stop(). */
#define UD_BUDGET 64

static unsigned int devices = 3;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "number of devices uacce_dummy.0 .. (0-16, default 3)");

static unsigned int queues = UACCE_DUMMY_V1_DEFAULT_QUEUES;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "queues (open files) each device can have (1-64, default 2)");

/* Device n offers ud_algos[n % 3]: both, copy only, crc32 only. */
static const struct {
	const char *names; /* the "algorithms" attribute, one per line */
	u32 bits;	   /* UACCE_DUMMY_V1_ALGO_* */
} ud_algos[] = {
	{ "copy\ncrc32", UACCE_DUMMY_V1_ALGO_COPY | UACCE_DUMMY_V1_ALGO_CRC32 },
	{ "copy", UACCE_DUMMY_V1_ALGO_COPY },
	{ "crc32", UACCE_DUMMY_V1_ALGO_CRC32 },
};

/* One device: the platform device's driver data. */
struct ud_dev {
	struct platform_device *pdev;
	struct uacce_device *uacce;
	u32 algos;
	struct mutex lock; /* protects used */
	unsigned int used; /* queues handed out and not yet put */
	atomic64_t opens, releases, requests, errors, refused;
};

/* One queue: uacce_queue.priv, from get_queue to put_queue. */
struct ud_queue {
	struct ud_dev *dev;
	struct uacce_queue *uq;
	u32 *mmio; /* register page, vmalloc_user, mapped as QFRT_MMIO */
	u8 *dus;   /* rings and arena, vmalloc_user, mapped as QFRT_DUS */
	struct task_struct *worker;
	/* The device's own state; the registers only mirror it. */
	u32 sq_head, cq_tail, status, error;
	u64 completed, failed;
	bool bad_db_seen; /* a rejected doorbell value was reported */
	u32 bad_db;	  /* ... and this was it */
};

static struct platform_device *ud_pdevs[UD_MAX_DEVICES];

/* ---- registers --------------------------------------------------------- */

static u32 *ud_reg(struct ud_queue *q, unsigned int off)
{
	return &q->mmio[off / sizeof(u32)];
}

static void ud_set(struct ud_queue *q, unsigned int off, u32 v)
{
	WRITE_ONCE(*ud_reg(q, off), cpu_to_le32(v));
}

static u32 ud_get(struct ud_queue *q, unsigned int off)
{
	return le32_to_cpu(READ_ONCE(*ud_reg(q, off)));
}

static void ud_set64(struct ud_queue *q, unsigned int off, u64 v)
{
	WRITE_ONCE(*(u64 *)ud_reg(q, off), cpu_to_le64(v));
}

/* Zeroes both regions and writes the identification registers. */
static void ud_reset(struct ud_queue *q)
{
	memset(q->mmio, 0, UACCE_DUMMY_V1_MMIO_SIZE);
	memset(q->dus, 0, UACCE_DUMMY_V1_DUS_SIZE);
	q->sq_head = q->cq_tail = q->status = q->error = 0;
	q->completed = q->failed = 0;
	q->bad_db_seen = false;
	ud_set(q, UACCE_DUMMY_V1_REG_MAGIC, UACCE_DUMMY_V1_MAGIC);
	ud_set(q, UACCE_DUMMY_V1_REG_VERSION, UACCE_DUMMY_V1_VERSION);
	ud_set(q, UACCE_DUMMY_V1_REG_SQ_ENTRIES, UACCE_DUMMY_V1_SQ_ENTRIES);
	ud_set(q, UACCE_DUMMY_V1_REG_CQ_ENTRIES, UACCE_DUMMY_V1_CQ_ENTRIES);
	ud_set(q, UACCE_DUMMY_V1_REG_MAX_LEN, UACCE_DUMMY_V1_MAX_LEN);
	ud_set(q, UACCE_DUMMY_V1_REG_SQ_OFFSET, UACCE_DUMMY_V1_SQ_OFFSET);
	ud_set(q, UACCE_DUMMY_V1_REG_CQ_OFFSET, UACCE_DUMMY_V1_CQ_OFFSET);
	ud_set(q, UACCE_DUMMY_V1_REG_ALGOS, q->dev->algos);
	ud_set(q, UACCE_DUMMY_V1_REG_ARENA_OFFSET, UACCE_DUMMY_V1_ARENA_OFFSET);
	ud_set(q, UACCE_DUMMY_V1_REG_ARENA_SIZE, UACCE_DUMMY_V1_ARENA_SIZE);
	ud_set(q, UACCE_DUMMY_V1_REG_DUS_SIZE, UACCE_DUMMY_V1_DUS_SIZE);
}

static void ud_set_status(struct ud_queue *q, u32 status)
{
	q->status = status;
	ud_set(q, UACCE_DUMMY_V1_REG_STATUS, status);
}

/* Records the first queue-level error; later ones keep the first. */
static void ud_queue_error(struct ud_queue *q, u32 err)
{
	if (!q->error) {
		q->error = err;
		ud_set(q, UACCE_DUMMY_V1_REG_ERROR, err);
	}
	ud_set_status(q, q->status | UACCE_DUMMY_V1_STATUS_ERROR);
}

/* ---- the work ---------------------------------------------------------- */

/* Whether [addr, addr + len) lies inside the arena (len >= 1). */
static bool ud_in_arena(u64 addr, u32 len)
{
	const u64 lo = UACCE_DUMMY_V1_ARENA_OFFSET;
	const u64 hi = UACCE_DUMMY_V1_ARENA_OFFSET + UACCE_DUMMY_V1_ARENA_SIZE;

	return addr >= lo && addr <= hi && len <= hi - addr;
}

static bool ud_has_algo(struct ud_queue *q, u16 opcode)
{
	switch (opcode) {
	case UACCE_DUMMY_V1_OP_COPY:
		return q->dev->algos & UACCE_DUMMY_V1_ALGO_COPY;
	case UACCE_DUMMY_V1_OP_CRC32:
		return q->dev->algos & UACCE_DUMMY_V1_ALGO_CRC32;
	case UACCE_DUMMY_V1_OP_NOP:
		return true;
	default:
		return false;
	}
}

/* Checks and does one request (already copied out of the ring); returns the status. */
static u16 ud_execute(struct ud_queue *q, const struct uacce_dummy_v1_req *r, u32 *result)
{
	u16 op = r->opcode;
	u64 src = r->src, dst = r->dst;
	u32 len = r->len;

	*result = 0;
	if (!ud_has_algo(q, op))
		return UACCE_DUMMY_V1_ST_BAD_OPCODE;
	if (r->flags || r->rsvd)
		return UACCE_DUMMY_V1_ST_BAD_FIELD;
	if (op == UACCE_DUMMY_V1_OP_NOP)
		return (src || dst || len) ? UACCE_DUMMY_V1_ST_BAD_FIELD : UACCE_DUMMY_V1_ST_OK;
	if (op == UACCE_DUMMY_V1_OP_CRC32 && dst)
		return UACCE_DUMMY_V1_ST_BAD_FIELD;
	if (len == 0 || len > UACCE_DUMMY_V1_MAX_LEN)
		return UACCE_DUMMY_V1_ST_BAD_LEN;
	if (!ud_in_arena(src, len))
		return UACCE_DUMMY_V1_ST_BAD_ADDR;
	if (op == UACCE_DUMMY_V1_OP_CRC32) {
		*result = crc32_le(~0U, q->dus + src, len) ^ ~0U;
		return UACCE_DUMMY_V1_ST_OK;
	}
	if (!ud_in_arena(dst, len))
		return UACCE_DUMMY_V1_ST_BAD_ADDR;
	if (src < dst + len && dst < src + len)
		return UACCE_DUMMY_V1_ST_OVERLAP;
	memcpy(q->dus + dst, q->dus + src, len);
	*result = len;
	return UACCE_DUMMY_V1_ST_OK;
}

/* Writes completion cq_tail and publishes it (release), then counts it. */
static void ud_complete(struct ud_queue *q, u32 id, u16 status, u16 opcode, u32 result,
			u32 sq_index)
{
	struct uacce_dummy_v1_cpl *c = (void *)(q->dus + UACCE_DUMMY_V1_CQ_OFFSET +
		(q->cq_tail & (UACCE_DUMMY_V1_CQ_ENTRIES - 1)) * UACCE_DUMMY_V1_CPL_SIZE);

	WRITE_ONCE(c->id, cpu_to_le32(id));
	WRITE_ONCE(c->status, cpu_to_le16(status));
	WRITE_ONCE(c->opcode, cpu_to_le16(opcode));
	WRITE_ONCE(c->result, cpu_to_le32(result));
	WRITE_ONCE(c->sq_index, cpu_to_le32(sq_index));
	WRITE_ONCE(q->cq_tail, q->cq_tail + 1); /* is_q_updated() reads it locklessly */
	/* The completion and any copied bytes before the new tail. */
	smp_store_release(ud_reg(q, UACCE_DUMMY_V1_REG_CQ_TAIL), cpu_to_le32(q->cq_tail));
	if (status == UACCE_DUMMY_V1_ST_OK) {
		ud_set64(q, UACCE_DUMMY_V1_REG_COMPLETED, ++q->completed);
		atomic64_inc(&q->dev->requests);
	} else {
		ud_set64(q, UACCE_DUMMY_V1_REG_FAILED, ++q->failed);
		atomic64_inc(&q->dev->errors);
	}
}

/* One pass over the doorbell; returns the number of completions written. */
static unsigned int ud_process(struct ud_queue *q)
{
	unsigned int done = 0;
	u32 db, cq_head, pending;

	/* Descriptors are read after the doorbell that covers them. */
	db = le32_to_cpu(smp_load_acquire(ud_reg(q, UACCE_DUMMY_V1_REG_DOORBELL)));
	cq_head = le32_to_cpu(smp_load_acquire(ud_reg(q, UACCE_DUMMY_V1_REG_CQ_HEAD)));
	if ((u32)(q->cq_tail - cq_head) > UACCE_DUMMY_V1_CQ_ENTRIES) {
		ud_queue_error(q, UACCE_DUMMY_V1_ERR_CQ_HEAD);
		return 0;
	}
	pending = db - q->sq_head;
	if (pending > UACCE_DUMMY_V1_SQ_ENTRIES) {
		if ((q->bad_db_seen && q->bad_db == db) ||
		    q->cq_tail - cq_head == UACCE_DUMMY_V1_CQ_ENTRIES)
			return 0;
		q->bad_db_seen = true;
		q->bad_db = db;
		ud_queue_error(q, UACCE_DUMMY_V1_ERR_DOORBELL);
		ud_complete(q, UACCE_DUMMY_V1_ID_NONE, UACCE_DUMMY_V1_ST_BAD_INDEX, 0, db,
			    q->sq_head);
		return 1;
	}
	q->bad_db_seen = false;
	while (pending-- && done < UD_BUDGET &&
	       q->cq_tail - cq_head < UACCE_DUMMY_V1_CQ_ENTRIES) {
		const struct uacce_dummy_v1_req *slot = (void *)(q->dus + UACCE_DUMMY_V1_SQ_OFFSET +
			(q->sq_head & (UACCE_DUMMY_V1_SQ_ENTRIES - 1)) * UACCE_DUMMY_V1_REQ_SIZE);
		struct uacce_dummy_v1_req r;
		u32 index = q->sq_head, result;
		u16 status;

		/* Every field once, into our own copy: user space may change the slot. */
		r.opcode = le16_to_cpu(READ_ONCE(slot->opcode));
		r.flags = le16_to_cpu(READ_ONCE(slot->flags));
		r.id = le32_to_cpu(READ_ONCE(slot->id));
		r.src = le64_to_cpu(READ_ONCE(slot->src));
		r.dst = le64_to_cpu(READ_ONCE(slot->dst));
		r.len = le32_to_cpu(READ_ONCE(slot->len));
		r.rsvd = le32_to_cpu(READ_ONCE(slot->rsvd));
		q->sq_head++;
		ud_set(q, UACCE_DUMMY_V1_REG_SQ_HEAD, q->sq_head);
		status = ud_execute(q, &r, &result);
		ud_complete(q, r.id, status, r.opcode, result, index);
		done++;
	}
	return done;
}

/* Sleeps between min_us and max_us, or until kthread_stop(). */
static void ud_nap(unsigned int min_us, unsigned int max_us)
{
	ktime_t t = ktime_set(0, min_us * NSEC_PER_USEC);

	set_current_state(TASK_INTERRUPTIBLE);
	if (kthread_should_stop()) {
		__set_current_state(TASK_RUNNING);
		return;
	}
	schedule_hrtimeout_range(&t, (max_us - min_us) * NSEC_PER_USEC, HRTIMER_MODE_REL);
}

/*
 * The device: polls the doorbell like hardware would, every few µs while work
 * comes, backing off after 2 ms and 100 ms of idleness (PROTOCOL_UACCE.md).
 */
static int ud_worker(void *data)
{
	struct ud_queue *q = data;
	ktime_t last = ktime_get();

	while (!kthread_should_stop()) {
		s64 idle_us;

		if (ud_process(q)) {
			wake_up_interruptible(&q->uq->wait);
			last = ktime_get();
			cond_resched();
			continue;
		}
		idle_us = ktime_us_delta(ktime_get(), last);
		if (idle_us < 2000)
			ud_nap(5, 10);
		else if (idle_us < 100000)
			ud_nap(100, 200);
		else
			ud_nap(1000, 1100);
	}
	return 0;
}

/* ---- UACCE operations -------------------------------------------------- */

static int ud_get_available_instances(struct uacce_device *uacce)
{
	struct ud_dev *d = uacce->priv;
	int n;

	mutex_lock(&d->lock);
	n = queues - d->used;
	mutex_unlock(&d->lock);
	return n;
}

static int ud_get_queue(struct uacce_device *uacce, unsigned long arg, struct uacce_queue *uq)
{
	struct ud_dev *d = uacce->priv;
	struct ud_queue *q;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return -ENOMEM;
	q->mmio = vmalloc_user(UACCE_DUMMY_V1_MMIO_SIZE);
	q->dus = vmalloc_user(UACCE_DUMMY_V1_DUS_SIZE);
	if (!q->mmio || !q->dus) {
		vfree(q->mmio);
		vfree(q->dus);
		kfree(q);
		return -ENOMEM;
	}
	mutex_lock(&d->lock);
	if (d->used >= queues) {
		mutex_unlock(&d->lock);
		atomic64_inc(&d->refused);
		vfree(q->mmio);
		vfree(q->dus);
		kfree(q);
		return -EBUSY;
	}
	d->used++;
	mutex_unlock(&d->lock);
	q->dev = d;
	q->uq = uq;
	ud_reset(q);
	uq->priv = q;
	atomic64_inc(&d->opens);
	return 0;
}

static int ud_start_queue(struct uacce_queue *uq)
{
	struct ud_queue *q = uq->priv;
	struct task_struct *t;

	ud_set_status(q, q->status | UACCE_DUMMY_V1_STATUS_READY);
	t = kthread_run(ud_worker, q, UD_NAME "/%d", q->dev->pdev->id);
	if (IS_ERR(t)) {
		ud_set_status(q, q->status & ~UACCE_DUMMY_V1_STATUS_READY);
		return PTR_ERR(t);
	}
	q->worker = t;
	return 0;
}

static void ud_stop_queue(struct uacce_queue *uq)
{
	struct ud_queue *q = uq->priv;

	if (q->worker) {
		kthread_stop(q->worker);
		q->worker = NULL;
	}
	ud_set_status(q, q->status & ~UACCE_DUMMY_V1_STATUS_READY);
}

/*
 * The core calls this at the file's release (after the last munmap and close)
 * or when the device is removed (after it tore the mappings down). Pages still
 * mapped hold their own references, so vfree() cannot pull memory from under
 * a mapping.
 */
static void ud_put_queue(struct uacce_queue *uq)
{
	struct ud_queue *q = uq->priv;
	struct ud_dev *d = q->dev;

	ud_stop_queue(uq);
	vfree(q->mmio);
	vfree(q->dus);
	kfree(q);
	uq->priv = NULL;
	mutex_lock(&d->lock);
	d->used--;
	mutex_unlock(&d->lock);
	atomic64_inc(&d->releases);
}

static int ud_is_q_updated(struct uacce_queue *uq)
{
	struct ud_queue *q = uq->priv;

	/* The device's own tail, not the register a user store could have changed. */
	return READ_ONCE(q->cq_tail) != ud_get(q, UACCE_DUMMY_V1_REG_CQ_HEAD);
}

/* Shared mappings of exactly the region's size; the core picks the region by offset. */
static int ud_mmap(struct uacce_queue *uq, struct vm_area_struct *vma,
		   struct uacce_qfile_region *qfr)
{
	struct ud_queue *q = uq->priv;
	unsigned long size = vma->vm_end - vma->vm_start;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	switch (qfr->type) {
	case UACCE_QFRT_MMIO:
		if (size != UACCE_DUMMY_V1_MMIO_SIZE)
			return -EINVAL;
		return remap_vmalloc_range(vma, q->mmio, 0);
	case UACCE_QFRT_DUS:
		if (size != UACCE_DUMMY_V1_DUS_SIZE)
			return -EINVAL;
		return remap_vmalloc_range(vma, q->dus, 0);
	default:
		return -EINVAL;
	}
}

static const struct uacce_ops ud_ops = {
	.get_available_instances = ud_get_available_instances,
	.get_queue = ud_get_queue,
	.put_queue = ud_put_queue,
	.start_queue = ud_start_queue,
	.stop_queue = ud_stop_queue,
	.is_q_updated = ud_is_q_updated,
	.mmap = ud_mmap,
};

/* ---- sysfs counters on the platform device ------------------------------ */

#define UD_COUNTER(field)                                                                 \
	static ssize_t field##_show(struct device *dev, struct device_attribute *a, char *buf) \
	{                                                                                 \
		struct ud_dev *d = dev_get_drvdata(dev);                                  \
		return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(&d->field));   \
	}                                                                                 \
	static DEVICE_ATTR_RO(field)

UD_COUNTER(opens);
UD_COUNTER(releases);
UD_COUNTER(requests);
UD_COUNTER(errors);
UD_COUNTER(refused);

static ssize_t index_show(struct device *dev, struct device_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", to_platform_device(dev)->id);
}
static DEVICE_ATTR_RO(index);

static struct attribute *ud_attrs[] = {
	&dev_attr_opens.attr,	 &dev_attr_releases.attr, &dev_attr_requests.attr,
	&dev_attr_errors.attr,	 &dev_attr_refused.attr,  &dev_attr_index.attr,
	NULL,
};

static const struct attribute_group ud_group = {
	.name = UD_NAME,
	.attrs = ud_attrs,
};

static const struct attribute_group *ud_groups[] = { &ud_group, NULL };

/* ---- platform driver and module ----------------------------------------- */

static int ud_probe(struct platform_device *pdev)
{
	struct uacce_interface iface = { .name = UD_NAME, .flags = UACCE_DUMMY_V1_FLAGS,
					 .ops = &ud_ops };
	struct uacce_device *uacce;
	struct ud_dev *d;
	int ret;

	d = devm_kzalloc(&pdev->dev, sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->pdev = pdev;
	d->algos = ud_algos[pdev->id % ARRAY_SIZE(ud_algos)].bits;
	mutex_init(&d->lock);
	platform_set_drvdata(pdev, d);

	uacce = uacce_alloc(&pdev->dev, &iface);
	if (IS_ERR(uacce))
		return PTR_ERR(uacce);
	uacce->algs = ud_algos[pdev->id % ARRAY_SIZE(ud_algos)].names;
	uacce->api_ver = UACCE_DUMMY_V1_API;
	uacce->qf_pg_num[UACCE_QFRT_MMIO] = UACCE_DUMMY_V1_MMIO_SIZE >> PAGE_SHIFT;
	uacce->qf_pg_num[UACCE_QFRT_DUS] = UACCE_DUMMY_V1_DUS_SIZE >> PAGE_SHIFT;
	uacce->priv = d;
	d->uacce = uacce;
	ret = uacce_register(uacce);
	if (ret) {
		uacce_remove(uacce);
		return ret;
	}
	dev_info(&pdev->dev, "%s: %s\n", dev_name(&uacce->dev), UACCE_DUMMY_V1_API);
	return 0;
}

/* uacce_remove() tears down user mappings and puts every open queue first. */
static void ud_teardown(struct platform_device *pdev)
{
	struct ud_dev *d = platform_get_drvdata(pdev);

	uacce_remove(d->uacce);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static void ud_remove(struct platform_device *pdev)
{
	ud_teardown(pdev);
}
#else
static int ud_remove(struct platform_device *pdev)
{
	ud_teardown(pdev);
	return 0;
}
#endif

static struct platform_driver ud_driver = {
	.probe = ud_probe,
	.remove = ud_remove,
	.driver = {
		.name = UD_NAME,
		.dev_groups = ud_groups,
	},
};

static void ud_unregister_devices(void)
{
	int i;

	for (i = UD_MAX_DEVICES - 1; i >= 0; i--) {
		if (ud_pdevs[i])
			platform_device_unregister(ud_pdevs[i]);
		ud_pdevs[i] = NULL;
	}
}

static int __init ud_init(void)
{
	unsigned int i;
	int ret;

	BUILD_BUG_ON(PAGE_SIZE != UACCE_DUMMY_V1_MMIO_SIZE);
	if (devices > UD_MAX_DEVICES || queues < 1 || queues > UD_MAX_QUEUES)
		return -EINVAL;
	ret = platform_driver_register(&ud_driver);
	if (ret)
		return ret;
	for (i = 0; i < devices; i++) {
		struct platform_device *p = platform_device_register_simple(UD_NAME, i, NULL, 0);

		if (IS_ERR(p)) {
			ud_unregister_devices();
			platform_driver_unregister(&ud_driver);
			return PTR_ERR(p);
		}
		ud_pdevs[i] = p;
		if (!platform_get_drvdata(p)) {
			/* The probe failed (the kernel logged why). */
			ud_unregister_devices();
			platform_driver_unregister(&ud_driver);
			return -ENODEV;
		}
	}
	return 0;
}

static void __exit ud_exit(void)
{
	ud_unregister_devices();
	platform_driver_unregister(&ud_driver);
}

module_init(ud_init);
module_exit(ud_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Dummy UACCE accelerator (uacce_dummy_v1) for warpdrive's kernel tests");

/*
 * Device DMA against the tool's page policy, and the DMA event.
 *
 * vfio-user devices ask kvmi_dma_check from their reader thread before every
 * access to guest memory. The verdict is the page policy's (r for a device
 * read, w for a device write). When the tool enabled the DMA event, every
 * access is also reported: one the policy allows as a notification (sent, no
 * wait), one it denies as a question: the device thread sends the event
 * itself and sleeps on a condition variable until the reactor routes the
 * tool's EVENT_REPLY here by seq, the wait ends (denied), the tool detaches
 * or vigild shuts down (denied). The device thread never touches libevent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exitcodes.h"
#include "kvmi_int.h"
#include "log.h"
#include "monotonic.h"

#define PAGE_SHIFT 12

int kvmi_dma_init(struct kvmi_dma *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	LIST_INIT(&d->waits);
	d->reactor = pthread_self();
	r = pthread_mutex_init(&d->lock, NULL);
	if (r)
		return -r;
	r = cond_init_monotonic(&d->cond);
	if (r) {
		pthread_mutex_destroy(&d->lock);
		return r;
	}
	return 0;
}

void kvmi_dma_fini(struct kvmi_dma *d)
{
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}

int kvmi_dma_add_device(struct kvmi *k, uint32_t device_id, unsigned pci_slot,
			int device_timeout_ms)
{
	struct kvmi_dma *d = &k->dma;
	int wait = k->cfg.answer_timeout_ms > 0 ? k->cfg.answer_timeout_ms : -1;
	int r = 0;

	if (device_timeout_ms > 0 && (wait < 0 || device_timeout_ms / 2 < wait))
		wait = device_timeout_ms / 2;
	if (wait < 0)
		wait = KVMI_DEFAULT_TIMEOUT_MS;   /* every wait on a peer is bounded */
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nr_devs; i++)
		if (d->devs[i].id == device_id)
			r = -EINVAL;
	if (!r && d->nr_devs == KVMI_MAX_DMA_DEVICES)
		r = -ENOSPC;
	if (!r)
		d->devs[d->nr_devs++] = (struct kvmi_dma_dev){
			.id = device_id, .slot = (uint16_t)pci_slot, .wait_ms = wait > 0 ? wait : 1 };
	pthread_mutex_unlock(&d->lock);
	if (!r)
		k->caps.events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA);
	return r;
}

/* The device's slot and wait; unknown devices: no slot, the answer timeout. */
static struct kvmi_dma_dev dma_dev(struct kvmi *k, uint32_t device_id)
{
	struct kvmi_dma *d = &k->dma;
	struct kvmi_dma_dev dev = { .id = device_id, .slot = VIGIL_KVMI_DMA_NO_SLOT,
				    .wait_ms = k->cfg.answer_timeout_ms > 0 ?
					       k->cfg.answer_timeout_ms : KVMI_DEFAULT_TIMEOUT_MS };

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nr_devs; i++)
		if (d->devs[i].id == device_id)
			dev = d->devs[i];
	pthread_mutex_unlock(&d->lock);
	return dev;
}

/* First page of [gpa, gpa+len) lacking @need, or ~0 if none does. */
static uint64_t policy_denies(struct kvmi *k, uint64_t gpa, uint64_t len, uint8_t need)
{
	uint64_t last = (gpa + len - 1) >> PAGE_SHIFT;

	for (uint64_t gfn = gpa >> PAGE_SHIFT; gfn <= last; gfn++)
		if (!(kvmi_pages_get(&k->pages, gfn << PAGE_SHIFT) & need))
			return gfn << PAGE_SHIFT;
	return ~0ull;
}

struct dma_msg {
	struct vigil_kvmi_hdr h;
	struct vigil_kvmi_event ev;
	struct vigil_kvmi_event_dma dma;
};

static void dma_msg_build(struct dma_msg *m, const struct kvmi_dma_dev *dev, uint64_t gpa,
			  uint64_t len, int direction, uint64_t denied)
{
	memset(m, 0, sizeof(*m));
	m->h.msg_id = VIGIL_KVMI_EVENT;
	m->h.size = sizeof(*m) - sizeof(m->h);
	m->ev.vcpu = VIGIL_KVMI_NO_VCPU;
	m->ev.event = VIGIL_KVMI_EVENT_DMA;
	m->dma.device = dev->id;
	m->dma.pci_slot = dev->slot;
	m->dma.direction = (uint8_t)direction;
	m->dma.gpa = gpa;
	m->dma.len = len;
	if (denied != ~0ull) {
		m->dma.flags = VIGIL_KVMI_DMA_DENIED;
		m->dma.denied_gpa = denied;
	}
}

static void count_unsent(struct kvmi *k, uint32_t device_id)
{
	uint64_t n = atomic_fetch_add(&k->events_unsent, 1) + 1;

	if (!(n & (n - 1)))   /* 1, 2, 4, 8...: a tool can't flood the log */
		log_warn("kvmi: the tool is not reading its socket: DMA event of device %u not "
			 "sent (%llu such events so far)", device_id, (unsigned long long)n);
}

/* A notification: the policy allows the access, the device goes on. */
static void dma_notify(struct kvmi *k, const struct kvmi_dma_dev *dev, uint64_t gpa,
		       uint64_t len, int direction)
{
	struct dma_msg m;

	dma_msg_build(&m, dev, gpa, len, direction, ~0ull);
	m.h.seq = atomic_fetch_add(&k->next_seq, 1);
	if (kvmi_send_direct(k, &m, sizeof(m)) == KVMI_SOCKET_FULL)
		count_unsent(k, dev->id);
}

/* Send the question and sleep until answered, released or @wait_ms passed.
 * Returns 0 with @w->reply filled, -ETIMEDOUT, -ECONNRESET (released or not
 * sendable), -EWOULDBLOCK (the tool is not reading). */
static int dma_ask(struct kvmi *k, struct kvmi_dma_wait *w, struct dma_msg *m, int wait_ms)
{
	struct kvmi_dma *d = &k->dma;
	enum kvmi_send_result sent;
	struct timespec until;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	if (atomic_load(&d->stopping) || !atomic_load(&k->hooked)) {
		pthread_mutex_unlock(&d->lock);
		return -ECONNRESET;
	}
	w->seq = m->h.seq = atomic_fetch_add(&k->next_seq, 1);
	LIST_INSERT_HEAD(&d->waits, w, link);
	pthread_mutex_unlock(&d->lock);
	sent = kvmi_send_direct(k, m, sizeof(*m));
	deadline_after_ms(&until, wait_ms);
	pthread_mutex_lock(&d->lock);
	if (sent != KVMI_SENT)
		r = sent == KVMI_SOCKET_FULL ? -EWOULDBLOCK : -ECONNRESET;
	while (!r && !w->done)
		r = -pthread_cond_timedwait(&d->cond, &d->lock, &until);
	if (w->done)
		r = w->unhooked ? -ECONNRESET : 0;
	LIST_REMOVE(w, link);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* The tool's verdict on a denied access: 0 allowed, -EACCES denied. */
static int dma_verdict(struct kvmi *k, const struct kvmi_dma_dev *dev, uint64_t gpa,
		       uint64_t len, int direction, uint64_t denied)
{
	uint8_t need = direction == KVMI_DMA_TO_DEVICE ? VIGIL_KVMI_PAGE_R : VIGIL_KVMI_PAGE_W;
	struct kvmi_dma_wait w = { 0 };
	struct dma_msg m;
	int r;

	if (pthread_equal(pthread_self(), k->dma.reactor))
		return -EACCES;   /* the answer would have to come through this thread */
	dma_msg_build(&m, dev, gpa, len, direction, denied);
	r = dma_ask(k, &w, &m, dev->wait_ms);
	if (r == -EWOULDBLOCK) {
		count_unsent(k, dev->id);
		return -EACCES;
	}
	if (r == -ETIMEDOUT) {
		uint64_t n = atomic_fetch_add(&k->dma.timeouts, 1) + 1;

		atomic_store(&k->tool_stalled, true);
		if (!(n & (n - 1)))
			log_warn("kvmi: device %u: no answer to a DMA event within %d ms: denied "
				 "(%llu such timeouts so far)", dev->id, dev->wait_ms,
				 (unsigned long long)n);
		return -EACCES;
	}
	if (r < 0)
		return -EACCES;   /* detached or shutting down: the default, deny */
	switch (w.reply.action) {
	case VIGIL_KVMI_ACTION_ALLOW:
		return 0;
	case VIGIL_KVMI_ACTION_RETRY:
		return policy_denies(k, gpa, len, need) == ~0ull ? 0 : -EACCES;
	case VIGIL_KVMI_ACTION_CRASH:
		vm_request_stop(k->vm, VIGILD_EXIT_CRASHED,
				"introspection tool answered CRASH to a DMA event of device %u",
				dev->id);
		return -EACCES;
	default:
		return -EACCES;
	}
}

int kvmi_dma_check(struct kvmi *k, uint32_t device_id, uint64_t gpa, uint64_t len,
		   int direction)
{
	uint8_t need = direction == KVMI_DMA_TO_DEVICE ? VIGIL_KVMI_PAGE_R : VIGIL_KVMI_PAGE_W;
	struct kvmi_dma_dev dev;
	uint64_t denied;
	int r;

	if (!len || gpa + len < gpa ||
	    (direction != KVMI_DMA_TO_DEVICE && direction != KVMI_DMA_FROM_DEVICE))
		return -EINVAL;
	if (!k || !atomic_load(&k->hooked))
		return 0;
	denied = policy_denies(k, gpa, len, need);
	if (!atomic_load(&k->dma.enabled)) {
		r = denied == ~0ull ? 0 : -EACCES;
	} else {
		dev = dma_dev(k, device_id);
		if (denied == ~0ull) {
			dma_notify(k, &dev, gpa, len, direction);
			return 0;
		}
		r = dma_verdict(k, &dev, gpa, len, direction, denied);
	}
	if (r && atomic_fetch_add(&k->dma.denied, 1) < 10)
		log_warn("kvmi: device %u: DMA %s gpa 0x%llx denied by the page policy",
			 device_id, direction == KVMI_DMA_TO_DEVICE ? "from" : "to",
			 (unsigned long long)denied);
	return r;
}

int kvmi_dma_check_hook(void *opaque, uint32_t device_id, uint64_t gpa, uint64_t len,
			int direction)
{
	return kvmi_dma_check(opaque, device_id, gpa, len, direction);
}

int kvmi_dma_reply(struct kvmi *k, uint32_t seq, const struct vigil_kvmi_event_reply *q)
{
	struct kvmi_dma *d = &k->dma;
	struct kvmi_dma_wait *w;
	int err = VIGIL_KVMI_ENOENT;

	pthread_mutex_lock(&d->lock);
	LIST_FOREACH(w, &d->waits, link) {
		if (w->seq != seq || w->done)
			continue;
		/* Nothing to replace or hide in a DMA: no value, no ctx. */
		if (q->event != VIGIL_KVMI_EVENT_DMA || q->flags) {
			err = VIGIL_KVMI_EINVAL;
			break;
		}
		w->reply = *q;
		w->done = true;
		pthread_cond_broadcast(&d->cond);
		err = 0;
		break;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

static void dma_release_waits(struct kvmi_dma *d)
{
	struct kvmi_dma_wait *w;

	pthread_mutex_lock(&d->lock);
	LIST_FOREACH(w, &d->waits, link) {
		if (!w->done) {
			w->done = true;
			w->unhooked = true;
		}
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void kvmi_dma_release(struct kvmi *k)
{
	atomic_store(&k->dma.enabled, false);
	dma_release_waits(&k->dma);
}

void kvmi_dma_shutdown(struct kvmi *k)
{
	if (!k)
		return;
	atomic_store(&k->dma.stopping, true);
	dma_release_waits(&k->dma);
}

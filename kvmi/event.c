/*
 * Events: the vCPU thread builds the message, hands it to the reactor with
 * vcpu_call_reactor and sleeps; the reactor sends it and completes the call
 * when the tool's EVENT_REPLY arrives (or the tool detaches). While the vCPU
 * sleeps, kv->in_event is set under kv->lock, which is what lets the reactor
 * serve register commands on the vCPU fd (the VCPU_PARKED rule).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "exitcodes.h"
#include "kvmi_int.h"
#include "log.h"

#define KVMI_RESULT_UNHOOKED 1

static const char *const event_names[VIGIL_KVMI_EVENT_MAX] = {
	"PAUSE", "CR", "MSR", "XSETBV", "DESCRIPTOR", "BREAKPOINT", "SW_BREAKPOINT",
	"SINGLESTEP", "HYPERCALL", "PF", "TRAP", "DMA",
};

int kvmi_vcpu_mode(const struct kvm_sregs *s)
{
	if ((s->efer & (1u << 10)) && s->cs.l)
		return 8;
	if ((s->cr0 & 1) && s->cs.db)
		return 4;
	return 2;
}

bool kvmi_wants(struct kvmi_vcpu *kv, uint32_t kind)
{
	return atomic_load(&kv->k->hooked) &&
	       (atomic_load(&kv->events) & VIGIL_KVMI_EVBIT(kind));
}

void kvmi_crash(struct kvmi_vcpu *kv, const char *what)
{
	vm_request_stop(kv->k->vm, VIGILD_EXIT_CRASHED,
			"introspection tool answered CRASH to a %s event on vCPU %u", what,
			kv->vcpu->id);
}

static void call_put(struct kvmi_call *kc)
{
	if (atomic_fetch_sub(&kc->refs, 1) == 1)
		free(kc);
}

/* Reactor: the event reaches the front of the mailbox. */
static void event_post_cb(struct mbox_msg *msg)
{
	struct kvmi_call *kc = (struct kvmi_call *)((uint8_t *)msg -
						     offsetof(struct kvmi_call, call.msg));
	struct kvmi_vcpu *kv = kc->kv;
	struct kvmi *k = kv->k;
	bool sent = false;

	if (k->conn && atomic_load(&k->hooked))
		sent = kvmi_conn_send(k->conn, kc->msg, kc->len, -1) == 0;
	if (!sent) {
		pthread_mutex_lock(&kv->lock);
		if (kv->cur == kc && !kc->answered) {
			kc->answered = true;
			memset(&kv->reply, 0, sizeof(kv->reply));
			vcpu_call_complete(&kc->call, KVMI_RESULT_UNHOOKED);
		}
		pthread_mutex_unlock(&kv->lock);
	}
	call_put(kc);
}

static void fill_msrs(int fd, struct vigil_kvmi_event_msrs *m)
{
	static const uint32_t idx[7] = { 0x174, 0x175, 0x176, 0xc0000080, 0xc0000081,
					 0xc0000082, 0xc0000083 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[7];
	} q;
	uint64_t *out = &m->sysenter_cs;
	unsigned i;
	int n;

	memset(&q, 0, sizeof(q));
	q.hdr.nmsrs = 7;
	for (i = 0; i < 7; i++)
		q.e[i].index = idx[i];
	n = ioctl(fd, KVM_GET_MSRS, &q);
	for (i = 0; n > 0 && i < (unsigned)n; i++)
		out[i] = q.e[i].data;
}

static struct kvmi_call *event_build(struct kvmi_vcpu *kv, uint32_t kind, const void *spec,
				     size_t spec_len)
{
	size_t len = sizeof(struct vigil_kvmi_hdr) + sizeof(struct vigil_kvmi_event) + spec_len;
	struct kvmi_call *kc = calloc(1, sizeof(*kc) + len);
	struct vigil_kvmi_hdr *h;
	struct vigil_kvmi_event *ev;

	if (!kc)
		return NULL;
	kc->kv = kv;
	kc->len = len;
	atomic_store(&kc->refs, 2);
	h = (void *)kc->msg;
	ev = (void *)(h + 1);
	h->msg_id = VIGIL_KVMI_EVENT;
	h->size = (uint16_t)(len - sizeof(*h));
	ev->vcpu = (uint16_t)kv->vcpu->id;
	ev->event = kind;
	if (kv->sync_fresh) {
		/* KVM stored them in kvm_run at this exit (KVM_CAP_SYNC_REGS). */
		ev->regs = kv->vcpu->run->s.regs.regs;
		ev->sregs = kv->vcpu->run->s.regs.sregs;
	} else if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &ev->regs) < 0 ||
		   ioctl(kv->vcpu->fd, KVM_GET_SREGS, &ev->sregs) < 0) {
		free(kc);
		return NULL;
	}
	ev->mode = (uint8_t)kvmi_vcpu_mode(&ev->sregs);
	fill_msrs(kv->vcpu->fd, &ev->msrs);
	if (spec_len)
		memcpy(ev + 1, spec, spec_len);
	return kc;
}

/*
 * Send one datagram straight to the tool from a vCPU or device thread (one
 * thread hop less than going through the reactor). After an unanswered event
 * (tool_stalled) nothing is sent while the tool still has unread datagrams:
 * SOCKET_FULL, as when the socket itself is full.
 */
enum kvmi_send_result kvmi_send_direct(struct kvmi *k, const void *msg, size_t len)
{
	ssize_t n = -1;
	int err = 0;

	pthread_rwlock_rdlock(&k->conn_lock);
	if (k->conn_fd >= 0 && atomic_load(&k->tool_stalled)) {
		int unread = 0;

		/* AF_UNIX charges queued datagrams to the sender until the peer
		 * reads them: anything left means the tool still is not reading. */
		if (ioctl(k->conn_fd, SIOCOUTQ, &unread) == 0 && unread > 0) {
			pthread_rwlock_unlock(&k->conn_lock);
			return KVMI_SOCKET_FULL;
		}
		atomic_store(&k->tool_stalled, false);
	}
	if (k->conn_fd >= 0) {
		n = send(k->conn_fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		err = errno;
	}
	pthread_rwlock_unlock(&k->conn_lock);
	if (n == (ssize_t)len)
		return KVMI_SENT;
	return n < 0 && (err == EAGAIN || err == EWOULDBLOCK) ? KVMI_SOCKET_FULL : KVMI_NOT_SENT;
}

static int event_wait(struct kvmi_vcpu *kv, struct kvmi_call *kc,
		      struct vigil_kvmi_event_reply *reply, bool *answered)
{
	struct kvmi *k = kv->k;
	int tmo = k->cfg.answer_timeout_ms < 0 ? -1 : k->cfg.answer_timeout_ms;
	enum kvmi_send_result sent;
	int r;

	pthread_mutex_lock(&kv->lock);
	kc->seq = atomic_fetch_add(&k->next_seq, 1);
	((struct vigil_kvmi_hdr *)kc->msg)->seq = kc->seq;
	kc->call.vcpu = kv->vcpu;
	kc->call.ticket = waiter_arm(&kv->vcpu->waiter);
	kv->cur = kc;
	kv->in_event = true;
	pthread_mutex_unlock(&kv->lock);
	sent = kvmi_send_direct(k, kc->msg, kc->len);
	if (sent == KVMI_SOCKET_FULL) {
		/* Backpressure: the tool is not reading. Waiting would stall the
		 * guest for the whole answer timeout per event; take the default
		 * action now instead (kvmi_raise counts and reports it). */
		atomic_fetch_sub(&kc->refs, 1);
		r = -EWOULDBLOCK;
	} else if (sent == KVMI_SENT) {
		atomic_fetch_sub(&kc->refs, 1);   /* no mailbox handler will run */
		/* The core's short poll before sleeping (VCPU_WAIT_SPIN_US) pays
		 * off here too: a tool answers in tens of microseconds, and a vCPU
		 * thread that sleeps pays ~70 us to get back into the guest on
		 * kvm_pvm (docs/performance.md). */
		r = waiter_wait(&kv->vcpu->waiter, tmo);
	} else {
		r = vcpu_call_reactor(kv->vcpu, &kc->call, event_post_cb, tmo);
	}
	pthread_mutex_lock(&kv->lock);
	kv->in_event = false;
	kv->cur = NULL;
	*answered = kc->answered;
	*reply = kv->reply;
	kc->answered = true;   /* a late reply finds nothing to complete */
	kv->sync_fresh = false;  /* the tool may have changed registers */
	pthread_mutex_unlock(&kv->lock);
	return r;
}

/*
 * vCPU thread: send one event and wait for the action. Returns 0 with
 * @reply filled (ALLOW when no tool is attached or it detached), -ECANCELED
 * when the VM is stopping (the caller leaves the run loop), -errno on failure.
 * A CRASH answer has already stopped the VM when this returns -ECANCELED.
 */
int kvmi_raise(struct kvmi_vcpu *kv, uint32_t kind, const void *spec, size_t spec_len,
	       struct vigil_kvmi_event_reply *reply)
{
	struct kvmi_call *kc;
	bool answered;
	int r;

	memset(reply, 0, sizeof(*reply));
	reply->action = VIGIL_KVMI_ACTION_ALLOW;
	if (!atomic_load(&kv->k->hooked))
		return 0;
	kc = event_build(kv, kind, spec, spec_len);
	if (!kc)
		return -ENOMEM;
	r = event_wait(kv, kc, reply, &answered);
	call_put(kc);
	if (r == -ECANCELED)
		return r;
	if (r == -EWOULDBLOCK) {
		uint64_t n = atomic_fetch_add(&kv->k->events_unsent, 1) + 1;

		if (!(n & (n - 1)))   /* 1, 2, 4, 8...: a tool can't flood the log */
			log_warn("kvmi: the tool is not reading its socket: %s event on vCPU %u "
				 "took the default action at once (%llu such events so far)",
				 event_names[kind], kv->vcpu->id, (unsigned long long)n);
		memset(reply, 0, sizeof(*reply));
		reply->action = kv->k->cfg.timeout_action;
		return 0;
	}
	if (r == -ETIMEDOUT || (r == 0 && !answered)) {
		atomic_store(&kv->k->tool_stalled, true);
		log_warn("kvmi: vCPU %u: no answer to %s event within %d ms: default action %s",
			 kv->vcpu->id, event_names[kind], kv->k->cfg.answer_timeout_ms,
			 kv->k->cfg.timeout_action == VIGIL_KVMI_ACTION_SKIP ? "SKIP" : "ALLOW");
		memset(reply, 0, sizeof(*reply));
		reply->action = kv->k->cfg.timeout_action;
		return 0;
	}
	if (r == KVMI_RESULT_UNHOOKED) {
		memset(reply, 0, sizeof(*reply));
		reply->action = VIGIL_KVMI_ACTION_ALLOW;
		return 0;
	}
	if (r < 0)
		return r;
	if (reply->action == VIGIL_KVMI_ACTION_CRASH) {
		kvmi_crash(kv, event_names[kind]);
		return -ECANCELED;
	}
	return 0;
}

static int reply_check(const struct vigil_kvmi_event_reply *q, size_t len)
{
	if (len != sizeof(*q) || q->padding || q->padding2)
		return VIGIL_KVMI_EINVAL;
	if (q->action >= VIGIL_KVMI_ACTION_MAX ||
	    (q->flags & ~(VIGIL_KVMI_REPLY_VALUE | VIGIL_KVMI_REPLY_CTX)))
		return VIGIL_KVMI_EINVAL;
	if (!(q->flags & VIGIL_KVMI_REPLY_VALUE) && q->value)
		return VIGIL_KVMI_EINVAL;
	if (q->ctx_size > sizeof(q->ctx) || (!(q->flags & VIGIL_KVMI_REPLY_CTX) && q->ctx_size) ||
	    !kvmi_zero(q->ctx + q->ctx_size, sizeof(q->ctx) - q->ctx_size))
		return VIGIL_KVMI_EINVAL;
	return 0;
}

/* Reactor: the tool answered an event (a vCPU's, or a device's DMA). */
void kvmi_event_reply(struct kvmi *k, const struct vigil_kvmi_hdr *h,
		      const void *body, size_t len)
{
	const struct vigil_kvmi_event_reply *q = body;
	const struct vigil_kvmi_event *ev;
	int err = reply_check(q, len);
	unsigned i;

	for (i = 0; !err && i < k->nr_vcpus; i++) {
		struct kvmi_vcpu *kv = &k->vcpus[i];

		pthread_mutex_lock(&kv->lock);
		if (kv->cur && kv->cur->seq == h->seq && !kv->cur->answered) {
			ev = (const void *)(kv->cur->msg + sizeof(*h));
			if (q->event != ev->event) {
				err = VIGIL_KVMI_EINVAL;
			} else {
				kv->reply = *q;
				kv->cur->answered = true;
				vcpu_call_complete(&kv->cur->call, 0);
				pthread_mutex_unlock(&kv->lock);
				return;
			}
		}
		pthread_mutex_unlock(&kv->lock);
	}
	if (!err) {
		err = kvmi_dma_reply(k, h->seq, q);
		if (!err)
			return;
	}
	/* Malformed, or nobody waits for this seq (late after a timeout). */
	kvmi_reply(k->conn, h, err, NULL, 0);
}

/* Reactor, on detach: reset every control and let waiting vCPUs go (ALLOW). */
void kvmi_release_all(struct kvmi *k)
{
	unsigned i, j;

	for (i = 0; i < k->nr_vcpus; i++) {
		struct kvmi_vcpu *kv = &k->vcpus[i];

		atomic_store(&kv->events, 0);
		atomic_store(&kv->cr_mask, 0);
		atomic_store(&kv->singlestep, false);
		atomic_store(&kv->pause_pending, 0);
		pthread_mutex_lock(&kv->lock);
		for (j = 0; j < VIGIL_KVMI_NR_HW_BPS; j++)
			kv->bps[j].enabled = false;
		if (kv->cur && !kv->cur->answered) {
			kv->cur->answered = true;
			memset(&kv->reply, 0, sizeof(kv->reply));
			vcpu_call_complete(&kv->cur->call, KVMI_RESULT_UNHOOKED);
		}
		pthread_mutex_unlock(&kv->lock);
		atomic_store(&kv->debug_dirty, true);
		vcpu_request(kv->vcpu, VCPU_REQ_HOOK);
	}
	kvmi_dma_release(k);
}

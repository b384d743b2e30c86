/*
 * The vCPU-thread half of the plugin server: I/O exits inside reserved
 * ranges, Hyper-V exits, the Init and Paused events, async writes. A
 * stopping event is posted to the reactor with vcpu_call_reactor and the
 * thread sleeps until
 * the plugin resumes it (vcpu_call_complete) or the VM shuts down (the wait
 * is cancelled). The mailbox handlers at the end run in the reactor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "exitcodes.h"
#include "ps.h"
#include "vm.h"

static struct pvcpu *to_pv(struct vcpu *vcpu)
{
	return vcpu->priv[VCPU_PRIV_PLUGIN];
}

/* vCPU thread: hand pv->ev to the plugin and wait for the resume. */
static int pv_call(struct pvcpu *pv)
{
	return vcpu_call_reactor(pv->vcpu, &pv->call, ps_event_cb, -1);
}

static bool hint_detail_matches(const MainRequest__SetCallHint__RegHint *d,
				const struct kvm_regs *r)
{
	return (!d->match_rax || d->rax == r->rax) && (!d->match_rbx || d->rbx == r->rbx) &&
	       (!d->match_rcx || d->rcx == r->rcx) && (!d->match_rdx || d->rdx == r->rdx);
}

/* vCPU thread: a hypercall hint for this access sends the state ahead. */
static void apply_hint(struct pvcpu *pv, struct pevent *ev)
{
	const struct phint *h = atomic_load(&pv->pl->hint);
	int fd = pv->vcpu->fd;

	ev->has_regs = ev->has_sregs = ev->has_debugregs = false;
	if (!h || h->space != ev->space || h->address != ev->addr || h->on_write != ev->is_write)
		return;
	if (ioctl(fd, KVM_GET_REGS, &ev->regs) < 0)
		return;
	ev->has_regs = true;
	for (unsigned i = 0; i < h->nr; i++) {
		if (!hint_detail_matches(&h->d[i], &ev->regs))
			continue;
		if (h->d[i].send_sregs)
			ev->has_sregs = ioctl(fd, KVM_GET_SREGS, &ev->sregs) == 0;
		if (h->d[i].send_debugregs)
			ev->has_debugregs = ioctl(fd, KVM_GET_DEBUGREGS, &ev->debugregs) == 0;
		break;
	}
}

/* vCPU thread: an async write; blocks only when too many are unread. */
static int post_async(struct pvcpu *pv, uint32_t space, uint64_t addr, const void *data,
		      unsigned len)
{
	struct pasync *a;
	int err;

	if (atomic_load(&pv->async_inflight) >= PS_ASYNC_MAX) {
		pv->ev.kind = PEV_THROTTLE;
		err = pv_call(pv);
		if (err < 0)
			return err;
	}
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	mbox_msg_init(&a->msg, ps_async_cb, a);
	a->pv = pv;
	a->space = space;
	a->addr = addr;
	a->len = len;
	memcpy(a->data, data, len);
	atomic_fetch_add(&pv->async_inflight, 1);
	err = mailbox_post(&pv->vcpu->vm->mailbox, &a->msg);
	if (err) {
		atomic_fetch_sub(&pv->async_inflight, 1);
		free(a);
	}
	return err;
}

/* vCPU thread: iobus handler of every reserved range. */
int ps_io_handler(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		  void *data, unsigned len)
{
	struct preserve *res = opaque;
	struct pvcpu *pv = to_pv(vcpu);
	struct pevent *ev = &pv->ev;
	int err;

	if (len > PS_IO_MAX)
		return -EINVAL;
	if (res->async) {
		if (!is_write) {
			memset(data, 0, len);   /* async ranges only report writes */
			return 0;
		}
		return post_async(pv, res->space, addr, data, len);
	}
	ev->kind = PEV_IO;
	ev->space = res->space;
	ev->addr = addr;
	ev->is_write = is_write;
	ev->len = len;
	if (is_write)
		memcpy(ev->data, data, len);
	else
		memset(ev->data, 0, len);
	apply_hint(pv, ev);
	err = pv_call(pv);
	if (err < 0)
		return err;
	if (!is_write)
		memcpy(data, ev->data, len);
	return 0;
}

/* vCPU thread: KVM_EXIT_HYPERV (vm->hyperv, installed by plugin_new). A
 * SynIC MSR write is reported and resumed; a hypercall's result is what the
 * plugin resumed it with (0 if it gave none), as crosvm does. */
int ps_hyperv_handler(struct vcpu *vcpu, void *opaque)
{
	struct kvm_hyperv_exit *hv = &vcpu->run->hyperv;
	struct pvcpu *pv = to_pv(vcpu);
	struct pevent *ev = &pv->ev;
	int err;

	(void)opaque;
	ev->has_regs = ev->has_sregs = ev->has_debugregs = false;
	switch (hv->type) {
	case KVM_EXIT_HYPERV_SYNIC:
		ev->kind = PEV_SYNIC;
		ev->synic_msr = hv->u.synic.msr;
		ev->synic_control = hv->u.synic.control;
		ev->synic_evt_page = hv->u.synic.evt_page;
		ev->synic_msg_page = hv->u.synic.msg_page;
		return pv_call(pv);
	case KVM_EXIT_HYPERV_HCALL:
		ev->kind = PEV_HCALL;
		ev->hc_input = hv->u.hcall.input;
		ev->hc_params[0] = hv->u.hcall.params[0];
		ev->hc_params[1] = hv->u.hcall.params[1];
		ev->hc_result = 0;
		err = pv_call(pv);
		if (err < 0)
			return err;
		hv->u.hcall.result = ev->hc_result;
		return 0;
	default:
		/* KVM_EXIT_HYPERV_SYNDBG and later kinds: crosvm.h has no event. */
		vm_request_stop(vcpu->vm, VIGILD_EXIT_GUEST_ERROR,
				"vCPU %u: KVM_EXIT_HYPERV of type %u, which the plugin protocol cannot report",
				vcpu->id, hv->type);
		return -EIO;
	}
}

static bool pop_pause(struct pvcpu *pv, uint64_t *user)
{
	bool got = false;

	pthread_mutex_lock(&pv->lock);
	if (pv->pause_n) {
		*user = pv->pause_q[pv->pause_head];
		pv->pause_head = (pv->pause_head + 1) % PS_PAUSE_MAX;
		pv->pause_n--;
		got = true;
	}
	pthread_mutex_unlock(&pv->lock);
	return got;
}

/* vCPU thread, before KVM_RUN when VCPU_REQ_PLUGIN is set: Init, then pauses. */
int ps_vcpu_plugin_request(struct vcpu *vcpu)
{
	struct pvcpu *pv = to_pv(vcpu);
	uint64_t user;
	int err;

	if (!pv->init_done) {
		pv->ev.kind = PEV_INIT;
		pv->ev.has_regs = pv->ev.has_sregs = pv->ev.has_debugregs = false;
		err = pv_call(pv);
		if (err < 0)
			return err;
		pv->init_done = true;
	}
	while (pop_pause(pv, &user)) {
		pv->ev.kind = PEV_PAUSED;
		pv->ev.user = user;
		pv->ev.has_regs = pv->ev.has_sregs = pv->ev.has_debugregs = false;
		err = pv_call(pv);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Reactor: a vCPU stopped for the plugin. */
void ps_event_cb(struct mbox_msg *msg)
{
	struct vcpu_call *call = (struct vcpu_call *)msg;
	struct pvcpu *pv = to_pv(call->vcpu);

	if (pv->pl->stopping) {
		vcpu_call_complete(call, -ECANCELED);
		return;
	}
	if (pv->ev.kind == PEV_THROTTLE) {
		if (atomic_load(&pv->async_inflight) < PS_ASYNC_MAX / 2)
			vcpu_call_complete(call, 0);
		else
			pv->sync = PV_THROTTLED;
		return;
	}
	pv->sync = PV_QUEUED;
	ps_vcpu_try_deliver(pv);
	if (!pv->nr_conns && pv->had_conn)
		ps_plugin_gone(pv->pl, pv);   /* nobody left to resume it */
}

/* Reactor: an async write arrived. */
void ps_async_cb(struct mbox_msg *msg)
{
	struct pasync *a = msg->opaque;
	struct pvcpu *pv = a->pv;

	TAILQ_INSERT_TAIL(&pv->asyncq, a, link);
	ps_vcpu_try_deliver(pv);
}

/* Control commands: event masks, CR/MSR/single-step control, injection,
 * hardware breakpoints. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

/* Apply @fn to one vCPU or all of them; VIGIL_KVMI_E* on a bad id. */
static int for_vcpus(struct kvmi *k, uint16_t id, void (*fn)(struct kvmi_vcpu *, const void *),
		     const void *arg)
{
	unsigned i;

	if (id != VIGIL_KVMI_ALL_VCPUS && id >= k->nr_vcpus)
		return VIGIL_KVMI_ENOENT;
	for (i = 0; i < k->nr_vcpus; i++) {
		if (id != VIGIL_KVMI_ALL_VCPUS && i != id)
			continue;
		fn(&k->vcpus[i], arg);
		atomic_store(&k->vcpus[i].debug_dirty, true);
		vcpu_request(k->vcpus[i].vcpu, VCPU_REQ_HOOK);
	}
	return 0;
}

static void set_events(struct kvmi_vcpu *kv, const void *arg)
{
	const struct vigil_kvmi_control_events *q = arg;
	uint64_t ev = atomic_load(&kv->events);

	if (q->op == VIGIL_KVMI_EVENTS_SET)
		ev = q->events;
	else if (q->op == VIGIL_KVMI_EVENTS_ENABLE)
		ev |= q->events;
	else
		ev &= ~q->events;
	atomic_store(&kv->events, ev);
}

/* VM-scope events (DMA) follow the op like a vCPU's mask does. */
static void set_vm_events(struct kvmi *k, const struct vigil_kvmi_control_events *q)
{
	bool dma = q->events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA);

	if (q->op == VIGIL_KVMI_EVENTS_SET || dma)
		atomic_store(&k->dma.enabled, q->op != VIGIL_KVMI_EVENTS_DISABLE && dma);
}

static int handle_events(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			 const void *body, size_t len)
{
	const struct vigil_kvmi_control_events *q = body;
	struct vigil_kvmi_control_events_reply r = { 0 };
	struct vigil_kvmi_control_events per_vcpu;
	struct kvmi *k = c->k;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)) ||
	    q->op > VIGIL_KVMI_EVENTS_DISABLE ||
	    (q->events & ~(VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MAX) - 1)))
		return VIGIL_KVMI_EINVAL;
	/* DMA is raised by devices, not vCPUs: only the VM as a whole has it. */
	if ((q->events & VIGIL_KVMI_VM_EVENTS) && q->vcpu != VIGIL_KVMI_ALL_VCPUS)
		return VIGIL_KVMI_EINVAL;
	if (q->op != VIGIL_KVMI_EVENTS_DISABLE && (q->events & ~k->caps.events))
		return VIGIL_KVMI_ENOSYS;  /* capability honesty: not on this host */
	per_vcpu = *q;
	per_vcpu.events &= ~VIGIL_KVMI_VM_EVENTS;
	err = for_vcpus(k, q->vcpu, set_events, &per_vcpu);
	if (err)
		return err;
	if (q->vcpu == VIGIL_KVMI_ALL_VCPUS)
		set_vm_events(k, q);
	r.events = atomic_load(&k->vcpus[q->vcpu == VIGIL_KVMI_ALL_VCPUS ? 0 : q->vcpu].events);
	if (atomic_load(&k->dma.enabled))
		r.events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA);
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static void set_cr(struct kvmi_vcpu *kv, const void *arg)
{
	const struct vigil_kvmi_control_cr *q = arg;

	if (q->enable)
		atomic_fetch_or(&kv->cr_mask, 1u << q->cr);
	else
		atomic_fetch_and(&kv->cr_mask, ~(1u << q->cr));
}

static int handle_cr(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		     const void *body, size_t len)
{
	const struct vigil_kvmi_control_cr *q = body;
	int err;

	if (len != sizeof(*q) || q->padding || q->enable > 1 ||
	    (q->cr != 0 && q->cr != 3 && q->cr != 4))
		return VIGIL_KVMI_EINVAL;
	if (!(c->k->caps.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR)))
		return VIGIL_KVMI_ENOSYS;
	err = for_vcpus(c->k, q->vcpu, set_cr, q);
	return err ? err : kvmi_reply(c, h, 0, NULL, 0);
}

static int handle_msr(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		      const void *body, size_t len)
{
	const struct vigil_kvmi_control_msr *q = body;
	int err;

	if (len != sizeof(*q) || q->padding || q->enable > 1 ||
	    q->vcpu != VIGIL_KVMI_ALL_VCPUS)
		return VIGIL_KVMI_EINVAL;
	if (!c->k->caps.user_msr)
		return VIGIL_KVMI_ENOSYS;
	err = kvmi_msr_control(c->k, q->msr, q->enable);
	if (err)
		return kvmi_err_from_errno(err);
	return kvmi_reply(c, h, 0, NULL, 0);
}

static void set_step(struct kvmi_vcpu *kv, const void *arg)
{
	const struct vigil_kvmi_control_singlestep *q = arg;

	atomic_store(&kv->singlestep, q->enable != 0);
}

static int handle_singlestep(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			     const void *body, size_t len)
{
	const struct vigil_kvmi_control_singlestep *q = body;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)) || q->enable > 1)
		return VIGIL_KVMI_EINVAL;
	if (!(c->k->caps.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SINGLESTEP)))
		return VIGIL_KVMI_ENOSYS;
	err = for_vcpus(c->k, q->vcpu, set_step, q);
	return err ? err : kvmi_reply(c, h, 0, NULL, 0);
}

static bool vector_has_error(unsigned v)
{
	return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 ||
	       v == 21;
}

static bool vector_ok(unsigned v)
{
	return v < 32 && v != 2 && v != 9 && v != 15 && !(v >= 22 && v <= 28) && v != 31;
}

static int inject(struct kvmi_vcpu *kv, const struct vigil_kvmi_inject_exception *q)
{
	struct kvm_vcpu_events ev;
	struct kvm_sregs sregs;
	int fd = kv->vcpu->fd;

	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return VIGIL_KVMI_EIO;
	if (ev.exception.pending || ev.exception.injected)
		return VIGIL_KVMI_EBUSY;
	ev.exception.injected = 0;
	ev.exception.pending = kv->k->caps.exception_payload;
	ev.exception.injected = !kv->k->caps.exception_payload;
	ev.exception.nr = q->vector;
	ev.exception.has_error_code = q->has_error;
	ev.exception.error_code = q->error_code;
	ev.flags = 0;
	if (kv->k->caps.exception_payload) {
		ev.exception_has_payload = q->vector == 14;
		ev.exception_payload = q->cr2;
		ev.flags = KVM_VCPUEVENT_VALID_PAYLOAD;
	} else if (q->vector == 14) {
		if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
			return VIGIL_KVMI_EIO;
		sregs.cr2 = q->cr2;
		if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
			return VIGIL_KVMI_EIO;
	}
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return VIGIL_KVMI_EIO;
	kv->inject.check = true;
	kv->inject.vector = q->vector;
	kv->inject.error_code = q->error_code;
	kv->inject.cr2 = q->cr2;
	return 0;
}

static int handle_inject(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			 const void *body, size_t len)
{
	const struct vigil_kvmi_inject_exception *q = body;
	struct kvmi_vcpu *kv;
	int err;

	if (len != sizeof(*q) || q->has_error > 1 || !vector_ok(q->vector) ||
	    q->has_error != vector_has_error(q->vector) || (!q->has_error && q->error_code) ||
	    (q->vector != 14 && q->cr2))
		return VIGIL_KVMI_EINVAL;
	err = kvmi_vcpu_lock_parked(c->k, q->vcpu, &kv);
	if (err)
		return err;
	err = inject(kv, q);
	pthread_mutex_unlock(&kv->lock);
	return err ? err : kvmi_reply(c, h, 0, NULL, 0);
}

static void set_bp(struct kvmi_vcpu *kv, const void *arg)
{
	const struct vigil_kvmi_set_breakpoint *q = arg;

	pthread_mutex_lock(&kv->lock);
	kv->bps[q->index].enabled = q->enable;
	kv->bps[q->index].type = q->type;
	kv->bps[q->index].len = q->len;
	kv->bps[q->index].gva = q->gva;
	pthread_mutex_unlock(&kv->lock);
}

static int handle_bp(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		     const void *body, size_t len)
{
	const struct vigil_kvmi_set_breakpoint *q = body;
	int err;

	if (len != sizeof(*q) || q->padding || q->enable > 1 ||
	    q->index >= VIGIL_KVMI_NR_HW_BPS)
		return VIGIL_KVMI_EINVAL;
	if (q->type != VIGIL_KVMI_BP_EXEC && q->type != VIGIL_KVMI_BP_WRITE &&
	    q->type != VIGIL_KVMI_BP_RW)
		return VIGIL_KVMI_EINVAL;
	if ((q->len != 1 && q->len != 2 && q->len != 4 && q->len != 8) ||
	    (q->type == VIGIL_KVMI_BP_EXEC && q->len != 1) || (q->gva & (q->len - 1u)))
		return VIGIL_KVMI_EINVAL;
	if (!(c->k->caps.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_BREAKPOINT)))
		return VIGIL_KVMI_ENOSYS;
	err = for_vcpus(c->k, q->vcpu, set_bp, q);
	return err ? err : kvmi_reply(c, h, 0, NULL, 0);
}

int kvmi_cmd_ctl(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		 const void *body, size_t len)
{
	switch (h->msg_id) {
	case VIGIL_KVMI_CONTROL_EVENTS:
		return handle_events(c, h, body, len);
	case VIGIL_KVMI_CONTROL_CR:
		return handle_cr(c, h, body, len);
	case VIGIL_KVMI_CONTROL_MSR:
		return handle_msr(c, h, body, len);
	case VIGIL_KVMI_CONTROL_SINGLESTEP:
		return handle_singlestep(c, h, body, len);
	case VIGIL_KVMI_INJECT_EXCEPTION:
		return handle_inject(c, h, body, len);
	case VIGIL_KVMI_SET_BREAKPOINT:
		return handle_bp(c, h, body, len);
	default:
		return VIGIL_KVMI_ENOSYS;
	}
}

/*
 * Command dispatch (reactor thread): one switch calling handle_* functions,
 * each of which checks sizes and padding before it uses a field and sends
 * exactly one reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_EFER              0xc0000080

bool kvmi_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int kvmi_err_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return VIGIL_KVMI_OK;
	case EINVAL: return VIGIL_KVMI_EINVAL;
	case EFAULT: return VIGIL_KVMI_EFAULT;
	case ENOMEM: return VIGIL_KVMI_ENOMEM;
	case E2BIG: return VIGIL_KVMI_E2BIG;
	case ESTALE: return VIGIL_KVMI_ESTALE;
	case EAGAIN: return VIGIL_KVMI_EAGAIN;
	case ENOENT: return VIGIL_KVMI_ENOENT;
	case ENOSPC: return VIGIL_KVMI_ENOSPC;
	case EPERM: return VIGIL_KVMI_EPERM;
	case ENOSYS: case EOPNOTSUPP: return VIGIL_KVMI_ENOSYS;
	case EBUSY: return VIGIL_KVMI_EBUSY;
	default: return VIGIL_KVMI_EIO;
	}
}

int kvmi_vcpu_lock_parked(struct kvmi *k, unsigned id, struct kvmi_vcpu **out)
{
	struct kvmi_vcpu *kv;

	if (id >= k->nr_vcpus)
		return VIGIL_KVMI_ENOENT;
	kv = &k->vcpus[id];
	pthread_mutex_lock(&kv->lock);
	if (!kv->in_event) {
		pthread_mutex_unlock(&kv->lock);
		return VIGIL_KVMI_EAGAIN;
	}
	*out = kv;
	return VIGIL_KVMI_OK;
}

int kvmi_parked_ioctl(struct kvmi *k, unsigned id, unsigned long req, void *arg, int fail)
{
	struct kvmi_vcpu *kv;
	int err = kvmi_vcpu_lock_parked(k, id, &kv);

	if (err)
		return err;
	if (ioctl(kv->vcpu->fd, req, arg) < 0)
		err = fail;
	pthread_mutex_unlock(&kv->lock);
	return err;
}

static int handle_version(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h, size_t len)
{
	struct kvmi_caps *caps = &c->k->caps;
	struct vigil_kvmi_version_reply r = { 0 };

	if (len)
		return VIGIL_KVMI_EINVAL;
	r.version = VIGIL_KVMI_VERSION;
	r.max_msg = VIGIL_KVMI_MAX_MSG;
	r.commands = caps->commands;
	r.events = caps->events;
	r.events_caveat = caps->events_caveat;
	r.nr_hw_breakpoints = VIGIL_KVMI_NR_HW_BPS;
	r.features = VIGIL_KVMI_FEAT_MEMFD |
		     (caps->exception_payload ? VIGIL_KVMI_FEAT_EXCEPTION_PAYLOAD : 0) |
		     (caps->step_blockirq ? VIGIL_KVMI_FEAT_STEP_BLOCKIRQ : 0);
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int handle_guest_info(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h, size_t len)
{
	struct vigil_kvmi_guest_info_reply r = { 0 };
	struct kvmi *k = c->k;
	int khz;

	if (len)
		return VIGIL_KVMI_EINVAL;
	r.vcpu_count = (uint16_t)k->nr_vcpus;
	r.arch = 0;
	khz = ioctl(k->vm->fd, KVM_GET_TSC_KHZ, 0);
	r.tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	r.mem_size = k->vm->ram.size;
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int handle_pause(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			const void *body, size_t len)
{
	const struct vigil_kvmi_vcpu_req *q = body;
	struct kvmi *k = c->k;
	unsigned i;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	if (q->vcpu >= k->nr_vcpus)
		return VIGIL_KVMI_ENOENT;
	i = q->vcpu;
	atomic_fetch_add(&k->vcpus[i].pause_pending, 1);
	vcpu_request(k->vcpus[i].vcpu, VCPU_REQ_HOOK);
	return kvmi_reply(c, h, 0, NULL, 0);
}

static int get_msrs(int fd, const uint32_t *idx, unsigned n, struct vigil_kvmi_msr_entry *out)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[VIGIL_KVMI_MAX_MSRS];
	} m;
	unsigned i;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = n;
	for (i = 0; i < n; i++)
		m.e[i].index = idx[i];
	r = ioctl(fd, KVM_GET_MSRS, &m);
	if (r < 0)
		return -errno;
	if ((unsigned)r != n)
		return -EINVAL;  /* an MSR KVM does not know */
	for (i = 0; i < n; i++) {
		out[i].index = idx[i];
		out[i].padding = 0;
		out[i].data = m.e[i].data;
	}
	return 0;
}

static int handle_get_regs(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			   const void *body, size_t len)
{
	const struct vigil_kvmi_get_regs *q = body;
	struct vigil_kvmi_get_regs_reply *r;
	struct kvmi_vcpu *kv;
	size_t rlen;
	int err;

	if (len < sizeof(*q) || q->padding || q->nmsrs > VIGIL_KVMI_MAX_MSRS ||
	    len != sizeof(*q) + q->nmsrs * sizeof(uint32_t))
		return VIGIL_KVMI_EINVAL;
	rlen = sizeof(*r) + q->nmsrs * sizeof(struct vigil_kvmi_msr_entry);
	r = calloc(1, rlen);
	if (!r)
		return VIGIL_KVMI_ENOMEM;
	err = kvmi_vcpu_lock_parked(c->k, q->vcpu, &kv);
	if (err)
		goto out;
	if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &r->regs) < 0 ||
	    ioctl(kv->vcpu->fd, KVM_GET_SREGS, &r->sregs) < 0)
		err = VIGIL_KVMI_EIO;
	else if (q->nmsrs)
		err = kvmi_err_from_errno(get_msrs(kv->vcpu->fd, (const uint32_t *)(q + 1),
						   q->nmsrs, (void *)(r + 1)));
	pthread_mutex_unlock(&kv->lock);
	r->mode = (uint32_t)kvmi_vcpu_mode(&r->sregs);
	r->nmsrs = q->nmsrs;
out:
	if (!err)
		err = kvmi_reply(c, h, 0, r, rlen) < 0 ? VIGIL_KVMI_ENOMEM : 0;
	free(r);
	return err;
}

static int handle_set_regs(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			   const void *body, size_t len)
{
	const struct vigil_kvmi_set_regs *q = body;
	struct kvmi_vcpu *kv;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	err = kvmi_vcpu_lock_parked(c->k, q->vcpu, &kv);
	if (err)
		return err;
	if (kvmi_set_regs(kv, &q->regs) < 0)
		err = VIGIL_KVMI_EIO;
	pthread_mutex_unlock(&kv->lock);
	return err ? err : kvmi_reply(c, h, 0, NULL, 0);
}

static int handle_cpuid(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			const void *body, size_t len)
{
	const struct vigil_kvmi_get_cpuid *q = body;
	struct vigil_kvmi_cpuid_reply r = { 0 };
	struct kvmi_vcpu *kv;
	unsigned i;

	if (len != sizeof(*q) || q->padding || q->padding2)
		return VIGIL_KVMI_EINVAL;
	if (q->vcpu >= c->k->nr_vcpus)
		return VIGIL_KVMI_ENOENT;
	kv = &c->k->vcpus[q->vcpu];
	if (!atomic_load(&kv->cpuid_ready))
		return VIGIL_KVMI_EAGAIN;  /* the vCPU has not run yet */
	for (i = 0; i < kv->nr_cpuid; i++) {
		const struct kvm_cpuid_entry2 *e = &kv->cpuid[i];

		if (e->function != q->function ||
		    ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != q->index))
			continue;
		r.eax = e->eax;
		r.ebx = e->ebx;
		r.ecx = e->ecx;
		r.edx = e->edx;
		return kvmi_reply(c, h, 0, &r, sizeof(r));
	}
	return VIGIL_KVMI_ENOENT;
}

static int handle_xcr(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		      const void *body, size_t len)
{
	const struct vigil_kvmi_vcpu_req *q = body;
	struct vigil_kvmi_xcr_reply r = { 0 };
	struct kvm_xcrs xcrs;
	unsigned i;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	err = kvmi_parked_ioctl(c->k, q->vcpu, KVM_GET_XCRS, &xcrs, VIGIL_KVMI_ENOSYS);
	if (err)
		return err;
	for (i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (xcrs.xcrs[i].xcr == 0)
			r.xcr0 = xcrs.xcrs[i].value;
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int handle_xsave(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			const void *body, size_t len)
{
	const struct vigil_kvmi_vcpu_req *q = body;
	struct vigil_kvmi_xsave_reply *r;
	struct kvmi_vcpu *kv;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return VIGIL_KVMI_ENOMEM;
	err = kvmi_vcpu_lock_parked(c->k, q->vcpu, &kv);
	if (!err) {
		if (ioctl(kv->vcpu->fd, KVM_GET_XSAVE, &r->xsave) < 0)
			err = VIGIL_KVMI_ENOSYS;
		pthread_mutex_unlock(&kv->lock);
	}
	if (!err)
		err = kvmi_reply(c, h, 0, r, sizeof(*r)) < 0 ? VIGIL_KVMI_ENOMEM : 0;
	free(r);
	return err;
}

static int handle_unhook(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			 const void *body, size_t len)
{
	const struct vigil_kvmi_vcpu_req *q = body;

	if (len != sizeof(*q) || q->vcpu || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	kvmi_reply(c, h, 0, NULL, 0);
	kvmi_detach(c->k, VIGIL_KVMI_UNHOOK_REQUEST);
	return 0;
}

static int dispatch_one(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			const void *body, size_t len)
{
	switch (h->msg_id) {
	case VIGIL_KVMI_GET_VERSION:
		return handle_version(c, h, len);
	case VIGIL_KVMI_GET_GUEST_INFO:
		return handle_guest_info(c, h, len);
	case VIGIL_KVMI_PAUSE_VCPU:
		return handle_pause(c, h, body, len);
	case VIGIL_KVMI_GET_REGISTERS:
		return handle_get_regs(c, h, body, len);
	case VIGIL_KVMI_SET_REGISTERS:
		return handle_set_regs(c, h, body, len);
	case VIGIL_KVMI_GET_CPUID:
		return handle_cpuid(c, h, body, len);
	case VIGIL_KVMI_GET_XCR:
		return handle_xcr(c, h, body, len);
	case VIGIL_KVMI_GET_XSAVE:
		return handle_xsave(c, h, body, len);
	case VIGIL_KVMI_UNHOOK:
		return handle_unhook(c, h, body, len);
	case VIGIL_KVMI_READ_PHYSICAL:
	case VIGIL_KVMI_WRITE_PHYSICAL:
	case VIGIL_KVMI_TRANSLATE_GVA:
	case VIGIL_KVMI_SET_PAGE_ACCESS:
	case VIGIL_KVMI_GET_PAGE_ACCESS:
	case VIGIL_KVMI_GET_MEMFD:
	case VIGIL_KVMI_SET_XFER:
	case VIGIL_KVMI_READ_PHYSICAL_XFER:
		return kvmi_cmd_mem(c, h, body, len);
	case VIGIL_KVMI_CONTROL_EVENTS:
	case VIGIL_KVMI_CONTROL_CR:
	case VIGIL_KVMI_CONTROL_MSR:
	case VIGIL_KVMI_CONTROL_SINGLESTEP:
	case VIGIL_KVMI_INJECT_EXCEPTION:
	case VIGIL_KVMI_SET_BREAKPOINT:
		return kvmi_cmd_ctl(c, h, body, len);
	default:
		return VIGIL_KVMI_ENOSYS;
	}
}

/* Handlers return 0 after replying, or a VIGIL_KVMI_E* value to reply with. */
void kvmi_dispatch(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		   const void *body, size_t len)
{
	int err = dispatch_one(c, h, body, len);

	if (err > 0) {
		if (c->bad_msgs++ < 20)
			log_debug("kvmi: command %u failed: error %d", h->msg_id, err);
		kvmi_reply(c, h, err, NULL, 0);
	}
}

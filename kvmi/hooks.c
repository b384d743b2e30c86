/* vcpu_hooks: where the engine meets the vCPU run loop (vCPU thread only). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

static void cache_cpuid(struct kvmi_vcpu *kv)
{
	struct kvm_cpuid2 *c;
	unsigned n = 256;

	c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	if (!c)
		return;
	c->nent = n;
	if (ioctl(kv->vcpu->fd, KVM_GET_CPUID2, c) == 0) {
		kv->cpuid = malloc(c->nent * sizeof(c->entries[0]));
		if (kv->cpuid) {
			memcpy(kv->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
			kv->nr_cpuid = c->nent;
		}
	}
	free(c);
	atomic_store(&kv->cpuid_ready, true);
}

/* While events may fire, let KVM store regs/sregs in kvm_run at every exit:
 * an event then needs no GET_REGS/GET_SREGS ioctls (~5 us each here). */
static void sync_regs_update(struct kvmi_vcpu *kv)
{
	struct kvm_run *run = kv->vcpu->run;
	uint64_t want = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	bool on = atomic_load(&kv->k->hooked) && kv->k->caps.sync_regs &&
		  (atomic_load(&kv->events) & ~VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PAUSE));

	if (on)
		run->kvm_valid_regs |= want;
	else
		run->kvm_valid_regs &= ~want;
	run->kvm_dirty_regs = 0;
}

static int hook_pre_run(struct vcpu *vcpu, void *opaque)
{
	struct kvmi_vcpu *kv = vcpu->priv[VCPU_PRIV_KVMI];
	int r = 0;

	(void)opaque;
	if (!kv)
		return 0;
	kvmi_quiesce_point(kv);
	if (!atomic_load(&kv->cpuid_ready))
		cache_cpuid(kv);
	sync_regs_update(kv);
	if (atomic_exchange(&kv->debug_dirty, false))
		r = kvmi_debug_apply(kv);
	/* run->s.regs is still this exit's state unless an event or the engine
	 * changed registers since (both clear sync_fresh). */
	if (r >= 0 && kv->step_check_now)
		r = kvmi_step_check(kv);
	/* A SKIP above moved RIP: re-arm stepping at the new RIP. */
	if (r >= 0 && atomic_exchange(&kv->debug_dirty, false))
		r = kvmi_debug_apply(kv);
	kv->sync_fresh = false;
	return r;
}

static int hook_request(struct vcpu *vcpu, void *opaque)
{
	struct kvmi_vcpu *kv = vcpu->priv[VCPU_PRIV_KVMI];
	struct vigil_kvmi_event_reply reply;
	int r;

	(void)opaque;
	if (!kv)
		return 0;
	while (atomic_load(&kv->pause_pending) > 0) {
		atomic_fetch_sub(&kv->pause_pending, 1);
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_PAUSE, NULL, 0, &reply);
		if (r < 0)
			return r;
	}
	return 0;
}

static int trap_report(struct kvmi_vcpu *kv)
{
	struct vigil_kvmi_event_trap t = { 0 };
	struct vigil_kvmi_event_reply reply;
	struct kvm_vcpu_events ev;

	kv->inject.check = false;
	if (ioctl(kv->vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	t.vector = kv->inject.vector;
	t.error_code = kv->inject.error_code;
	t.cr2 = kv->inject.cr2;
	t.delivered = !((ev.exception.pending || ev.exception.injected) &&
			ev.exception.nr == kv->inject.vector);
	if (!kvmi_wants(kv, VIGIL_KVMI_EVENT_TRAP))
		return 0;
	return kvmi_raise(kv, VIGIL_KVMI_EVENT_TRAP, &t, sizeof(t), &reply);
}

/* The doorbell port (pio bus handler, vCPU thread). */
int kvmi_hypercall_io(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		      void *data, unsigned len);
int kvmi_hypercall_io(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		      void *data, unsigned len)
{
	struct kvmi_vcpu *kv = vcpu->priv[VCPU_PRIV_KVMI];
	struct vigil_kvmi_event_hypercall hc = { 0 };
	struct vigil_kvmi_event_reply reply;
	int r;

	(void)opaque;
	(void)addr;
	if (!is_write) {
		memset(data, 0xff, len);
		return 0;
	}
	if (!kv || !kvmi_wants(kv, VIGIL_KVMI_EVENT_HYPERCALL))
		return 0;   /* nobody listening: no effect */
	memcpy(&hc.value, data, len < 4 ? len : 4);
	r = kvmi_raise(kv, VIGIL_KVMI_EVENT_HYPERCALL, &hc, sizeof(hc), &reply);
	return r < 0 ? r : 0;
}

static int hook_exit(struct vcpu *vcpu, void *opaque)
{
	struct kvmi_vcpu *kv = vcpu->priv[VCPU_PRIV_KVMI];
	struct kvm_run *run = vcpu->run;
	int r;

	(void)opaque;
	if (!kv)
		return 0;
	kv->sync_fresh = (run->kvm_valid_regs & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) ==
			 (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) &&
			 run->exit_reason != KVM_EXIT_INTR;
	if (kv->exec_restore && run->exit_reason != KVM_EXIT_DEBUG)
		kvmi_pf_exec_restore(kv);
	if (kv->inject.check) {
		r = trap_report(kv);
		if (r < 0)
			return r;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_X86_WRMSR:
		return kvmi_msr_exit(kv);
	case KVM_EXIT_MMIO:
		return kvmi_pf_mmio(kv);
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
			return 0;
		return kvmi_pf_exec(kv);
	case KVM_EXIT_DEBUG:
		return kvmi_debug_exit(kv);
	default:
		return 0;
	}
}

const struct vcpu_hooks kvmi_hooks = {
	.pre_run = hook_pre_run,
	.exit = hook_exit,
	.request = hook_request,
};

/*
 * MSR-write events through KVM's userspace MSR filter.
 *
 * The filter allows everything by default and denies writes to the watched
 * MSRs, each window of 0x2000 MSRs holding a watched one getting a bitmap;
 * KVM then exits with KVM_EXIT_X86_WRMSR (reason FILTER), RIP still at the
 * wrmsr and the write not done. ALLOW performs it with KVM_SET_MSRS (the
 * guest's or the tool's value) and completes the exit with error 0, SKIP
 * completes without writing, RETRY re-runs the wrmsr (the exit is completed
 * with immediate_exit set, then RIP is put back on the instruction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

#define MSR_WINDOW 0x2000u

static bool msr_filterable(uint32_t msr)
{
	return !(msr >= 0x800 && msr <= 0x8ff);  /* x2APIC: KVM never filters these */
}

static int msr_filter_apply(struct kvmi *k)
{
	static uint8_t bitmaps[KVM_MSR_FILTER_MAX_RANGES][MSR_WINDOW / 8];
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	uint32_t bases[KVM_MSR_FILTER_MAX_RANGES];
	unsigned i, j, nr = 0;

	for (i = 0; i < k->nr_msrs; i++) {
		uint32_t base = k->msrs[i] & ~(MSR_WINDOW - 1);

		for (j = 0; j < nr && bases[j] != base; j++)
			;
		if (j == nr) {
			if (nr == KVM_MSR_FILTER_MAX_RANGES)
				return -ENOSPC;
			bases[nr++] = base;
			memset(bitmaps[j], 0xff, sizeof(bitmaps[j]));
		}
		bitmaps[j][(k->msrs[i] - base) / 8] &= (uint8_t)~(1u << ((k->msrs[i] - base) % 8));
	}
	for (j = 0; j < nr; j++) {
		f.ranges[j].flags = KVM_MSR_FILTER_WRITE;
		f.ranges[j].nmsrs = MSR_WINDOW;
		f.ranges[j].base = bases[j];
		f.ranges[j].bitmap = bitmaps[j];
	}
	if (ioctl(k->vm->fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
		return -errno;
	return 0;
}

static int msr_exits_enable(struct kvmi *k)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args = { KVM_MSR_EXIT_REASON_FILTER },
	};

	if (k->msr_exits_on)
		return 0;
	if (ioctl(k->vm->fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	k->msr_exits_on = true;
	return 0;
}

/* Reactor: watch or unwatch @msr (VM-wide). */
int kvmi_msr_control(struct kvmi *k, uint32_t msr, bool enable)
{
	unsigned i;
	int r;

	if (!msr_filterable(msr))
		return -EPERM;
	for (i = 0; i < k->nr_msrs && k->msrs[i] != msr; i++)
		;
	if (enable == (i < k->nr_msrs))
		return 0;
	if (enable) {
		if (k->nr_msrs == KVMI_MAX_WATCHED_MSRS)
			return -ENOSPC;
		r = msr_exits_enable(k);
		if (r)
			return r;
		k->msrs[k->nr_msrs++] = msr;
	} else {
		k->msrs[i] = k->msrs[--k->nr_msrs];
	}
	r = msr_filter_apply(k);
	if (r) {  /* undo */
		if (enable)
			k->nr_msrs--;
		else
			k->msrs[k->nr_msrs++] = msr;
	}
	return r;
}

void kvmi_msr_clear(struct kvmi *k)
{
	if (!k->nr_msrs)
		return;
	k->nr_msrs = 0;
	if (msr_filter_apply(k) < 0)
		log_warn("kvmi: cannot clear the MSR filter");
}

static int msr_read(int fd, uint32_t index, uint64_t *val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = index };

	if (ioctl(fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	*val = m.e.data;
	return 0;
}

static int msr_write(int fd, uint32_t index, uint64_t val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = index, .e.data = val };

	return ioctl(fd, KVM_SET_MSRS, &m) == 1 ? 0 : -EINVAL;
}

/* Finish the pending userspace exit now, without entering the guest. */
int kvmi_complete_exit(struct kvmi_vcpu *kv);
int kvmi_complete_exit(struct kvmi_vcpu *kv)
{
	struct kvm_run *run = kv->vcpu->run;
	uint8_t old = __atomic_exchange_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	int r = ioctl(kv->vcpu->fd, KVM_RUN, 0);

	__atomic_store_n(&run->immediate_exit, old, __ATOMIC_SEQ_CST);
	if (r < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int msr_retry(struct kvmi_vcpu *kv)
{
	struct kvm_regs regs;
	uint64_t rip;

	if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	rip = regs.rip;
	kv->vcpu->run->msr.error = 0;
	if (kvmi_complete_exit(kv) < 0 || ioctl(kv->vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return -EIO;
	regs.rip = rip;
	kv->sync_fresh = false;
	if (kvmi_set_regs(kv, &regs) < 0)
		return -errno;
	kv->vcpu->run->exit_reason = KVM_EXIT_INTR;
	return 0;
}

/* vCPU thread: KVM_EXIT_X86_WRMSR. Returns 1 (consumed) or -errno. */
int kvmi_msr_exit(struct kvmi_vcpu *kv)
{
	struct kvm_run *run = kv->vcpu->run;
	struct vigil_kvmi_event_msr e = { .msr = run->msr.index, .new_value = run->msr.data };
	struct vigil_kvmi_event_reply reply = { .action = VIGIL_KVMI_ACTION_ALLOW };
	uint64_t val = run->msr.data;
	int r;

	if (run->msr.reason != KVM_MSR_EXIT_REASON_FILTER)
		return 0;
	if (kvmi_wants(kv, VIGIL_KVMI_EVENT_MSR)) {
		(void)msr_read(kv->vcpu->fd, e.msr, &e.old_value);
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_MSR, &e, sizeof(e), &reply);
		if (r < 0)
			return r;
	}
	switch (reply.action) {
	case VIGIL_KVMI_ACTION_SKIP:
		run->msr.error = 0;
		return 1;
	case VIGIL_KVMI_ACTION_RETRY:
		r = msr_retry(kv);
		return r < 0 ? r : 1;
	default:
		if (reply.flags & VIGIL_KVMI_REPLY_VALUE)
			val = reply.value;
		/* A value the CPU refuses becomes the #GP the guest would get. */
		run->msr.error = msr_write(kv->vcpu->fd, e.msr, val) < 0;
		return 1;
	}
}

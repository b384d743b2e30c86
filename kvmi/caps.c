/*
 * Capability honesty: what this host can intercept, probed at start-up.
 *
 * KVM_CHECK_EXTENSION answers for the MSR filter, read-only memslots and
 * exception payloads. Debug features have no reliable capability on x86, so
 * they are probed by trying, in a throw-away VM: one vCPU in long mode (2 MiB
 * identity map) runs "int3" at CPL0 with KVM_GUESTDBG_USE_SW_BP, and "nop" at
 * CPL0 and at CPL3 with single-stepping on.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvmi_int.h"
#include "log.h"

#define PROBE_MEM  0x6000
#define PROBE_CODE 0x5000

struct probe_vm {
	int vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
};

static void probe_fini(struct probe_vm *p)
{
	if (p->run && p->run != MAP_FAILED)
		munmap(p->run, p->run_size);
	if (p->mem && p->mem != MAP_FAILED)
		munmap(p->mem, PROBE_MEM);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
}

static int probe_init(struct probe_vm *p, const struct kvm_host *kvm)
{
	struct kvm_userspace_memory_region r = { .memory_size = PROBE_MEM };

	p->vm = p->vcpu = -1;
	p->run = NULL;
	p->mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED)
		return -errno;
	p->vm = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return -errno;
	r.userspace_addr = (uint64_t)(uintptr_t)p->mem;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return -errno;
	p->run_size = (size_t)kvm->vcpu_mmap_size;
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED)
		return -errno;
	return 0;
}

/* Long mode like a real guest: identity-map the first 2 MiB, user-accessible. */
static void probe_long_mode(struct probe_vm *p, struct kvm_sregs *sregs)
{
	uint64_t e;

	e = 0x2000 | 7;
	memcpy(p->mem + 0x1000, &e, 8);
	e = 0x3000 | 7;
	memcpy(p->mem + 0x2000, &e, 8);
	e = 0x0 | 0x87;   /* 2 MiB page */
	memcpy(p->mem + 0x3000, &e, 8);
	sregs->cr3 = 0x1000;
	sregs->cr4 = 0x20;         /* PAE */
	sregs->cr0 = 0x80000011;   /* PG | ET | PE */
	sregs->efer = 0x500;       /* LME | LMA */
	sregs->cs.l = 1;
	sregs->cs.db = 0;
}

static void probe_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xfffff;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

/* Run @code at @cpl with @dbg_flags; true if the first exit is KVM_EXIT_DEBUG. */
static bool probe_debug(const struct kvm_host *kvm, const uint8_t *code, size_t len,
			unsigned cpl, uint32_t dbg_flags, bool long_mode)
{
	struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | dbg_flags };
	struct kvm_regs regs = { .rip = PROBE_CODE, .rsp = 0x4ff0, .rflags = 2 };
	struct kvm_sregs sregs;
	struct probe_vm p = { .vm = -1, .vcpu = -1 };
	bool ok = false;

	if (probe_init(&p, kvm) < 0)
		goto out;
	memcpy(p.mem + PROBE_CODE, code, len);
	if (ioctl(p.vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto out;
	probe_seg(&sregs.cs, cpl ? 0x1b : 0x08, 0xb, (uint8_t)cpl);
	probe_seg(&sregs.ss, cpl ? 0x23 : 0x10, 0x3, (uint8_t)cpl);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.cr0 = 0x11;  /* PE | ET */
	if (long_mode)
		probe_long_mode(&p, &sregs);
	if (ioctl(p.vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(p.vcpu, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(p.vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		goto out;
	if (ioctl(p.vcpu, KVM_RUN, 0) < 0)
		goto out;
	ok = p.run->exit_reason == KVM_EXIT_DEBUG;
out:
	probe_fini(&p);
	return ok;
}

static uint64_t caps_commands(void)
{
	uint64_t m = 0;
	unsigned i;

	for (i = VIGIL_KVMI_GET_VERSION; i <= VIGIL_KVMI_UNHOOK; i++)
		m |= 1ull << i;
	return m | (1ull << VIGIL_KVMI_EVENT_REPLY) | (1ull << VIGIL_KVMI_SET_XFER) |
	       (1ull << VIGIL_KVMI_READ_PHYSICAL_XFER);
}

void kvmi_caps_probe(struct kvmi *k)
{
	static const uint8_t int3[] = { 0xcc, 0xf4 };
	static const uint8_t nops[] = { 0x90, 0x90, 0xf4 };
	const struct kvm_host *kvm = k->vm->kvm;
	struct kvmi_caps *c = &k->caps;
	bool step0, step3;

	c->user_msr = kvm->has_user_msr;
	c->readonly_mem = kvm->has_readonly_mem;
	c->exception_payload = kvm->has_exception_payload;
	c->step_blockirq = kvm->has_guest_debug_blockirq;
	c->sync_regs = (kvm_host_check(kvm, KVM_CAP_SYNC_REGS) &
			(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) ==
		       (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
	c->sw_bp = probe_debug(kvm, int3, sizeof(int3), 0, KVM_GUESTDBG_USE_SW_BP, true);
	step0 = probe_debug(kvm, nops, sizeof(nops), 0, KVM_GUESTDBG_SINGLESTEP, true);
	step3 = probe_debug(kvm, nops, sizeof(nops), 3, KVM_GUESTDBG_SINGLESTEP, true);
	c->commands = caps_commands();
	c->events = VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PAUSE) |
		    VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_HYPERCALL) |
		    VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_TRAP);
	if (c->user_msr)
		c->events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MSR);
	if (c->readonly_mem)
		c->events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PF);
	if (step0)
		c->events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR) |
			     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_XSETBV) |
			     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DESCRIPTOR) |
			     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SINGLESTEP) |
			     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_BREAKPOINT);
	if (c->sw_bp)
		c->events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SW_BREAKPOINT);
	/* Stepping-based intercepts cost one exit per kernel instruction; where
	 * CPL3 cannot be stepped, single-step and breakpoints are CPL0 only and
	 * exec-ALLOW at CPL3 keeps the page open until the next exit. */
	c->events_caveat = VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR) |
			   VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_XSETBV) |
			   VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DESCRIPTOR);
	if (!step3)
		c->events_caveat |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SINGLESTEP) |
				    VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_BREAKPOINT) |
				    VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PF);
	log_info("kvmi: host: msr-filter %s, ro-slots %s, int3 %s, step cpl0 %s cpl3 %s",
		 c->user_msr ? "yes" : "no", c->readonly_mem ? "yes" : "no",
		 c->sw_bp ? "yes" : "no (KVM_GUESTDBG_USE_SW_BP not honoured)",
		 step0 ? "yes" : "no", step3 ? "yes" : "no");
}

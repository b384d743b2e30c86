/*
 * Intercepts built on KVM_SET_GUEST_DEBUG (vCPU thread).
 *
 * CR0/CR3/CR4 writes, XSETBV and LGDT/LIDT/LLDT/LTR never reach userspace on
 * stock KVM. While any of them is wanted, the vCPU single-steps; at every
 * step (and before the first entry) the instruction at RIP is read through
 * the guest page tables and decoded with Zydis. A watched instruction raises
 * its event before it runs: ALLOW lets it run (or, with a value, sets the
 * register and steps over it), SKIP steps over it, RETRY asks again.
 * Hardware breakpoints use DR0-3/DR7 in the same ioctl.
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

int kvmi_insn_decode(struct kvmi_vcpu *kv, const struct kvm_regs *regs,
		     const struct kvm_sregs *sregs, ZydisDecodedInstruction *insn,
		     ZydisDecodedOperand *ops, uint8_t *bytes);

#define STEP_EVENTS (VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_XSETBV) | \
		     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DESCRIPTOR))

bool kvmi_needs_step(struct kvmi_vcpu *kv)
{
	uint64_t ev;

	if (kv->exec_restore)
		return true;
	if (!atomic_load(&kv->k->hooked))
		return false;
	ev = atomic_load(&kv->events);
	if (atomic_load(&kv->singlestep) && (ev & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SINGLESTEP)))
		return true;
	if ((ev & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR)) && atomic_load(&kv->cr_mask))
		return true;
	return (ev & STEP_EVENTS) != 0;
}

static bool intercepting(struct kvmi_vcpu *kv)
{
	uint64_t ev = atomic_load(&kv->events);

	return atomic_load(&kv->k->hooked) &&
	       (((ev & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR)) && atomic_load(&kv->cr_mask)) ||
		(ev & STEP_EVENTS));
}

int kvmi_set_regs(struct kvmi_vcpu *kv, const struct kvm_regs *regs)
{
	if (ioctl(kv->vcpu->fd, KVM_SET_REGS, regs) < 0)
		return -1;
	atomic_store(&kv->debug_dirty, true);
	return 0;
}

int kvmi_debug_apply(struct kvmi_vcpu *kv)
{
	struct kvm_guest_debug dbg;
	bool step = kvmi_needs_step(kv);
	unsigned i, nbp = 0;

	memset(&dbg, 0, sizeof(dbg));
	pthread_mutex_lock(&kv->lock);
	for (i = 0; i < VIGIL_KVMI_NR_HW_BPS; i++) {
		const struct kvmi_bp *bp = &kv->bps[i];
		unsigned len = bp->len == 8 ? 2 : bp->len == 4 ? 3 : bp->len - 1u;

		if (!bp->enabled || !atomic_load(&kv->k->hooked))
			continue;
		dbg.arch.debugreg[i] = bp->gva;
		dbg.arch.debugreg[7] |= (2ull << (i * 2)) |
					((uint64_t)bp->type << (16 + i * 4)) |
					((uint64_t)(bp->type ? len : 0) << (18 + i * 4));
		nbp++;
	}
	pthread_mutex_unlock(&kv->lock);
	if (step)
		dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP |
			       (kv->k->caps.step_blockirq ? KVM_GUESTDBG_BLOCKIRQ : 0);
	if (nbp)
		dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	if (kv->k->caps.sw_bp && kvmi_wants(kv, VIGIL_KVMI_EVENT_SW_BREAKPOINT))
		dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
	if (ioctl(kv->vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		return -errno;
	if (step && !kv->stepping && intercepting(kv))
		kv->step_check_now = true;
	kv->stepping = step;
	return 0;
}

#define DR6_BS (1ull << 14)   /* single-step */

/* The 64-bit GPRs in encoding order. */
static const ZydisRegister gpr_order[16] = {
	ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RBX,
	ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
	ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11,
	ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15,
};

static uint64_t gpr(const struct kvm_regs *r, ZydisRegister reg)
{
	const uint64_t vals[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi,
				    r->rdi, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13,
				    r->r14, r->r15 };
	ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
	unsigned i;

	for (i = 0; i < 16; i++)
		if (gpr_order[i] == big)
			return vals[i];
	return 0;
}

struct step_insn {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t bytes[16];
};

static int cr_event(struct kvmi_vcpu *kv, struct step_insn *s, struct vigil_kvmi_event_reply *rep)
{
	ZydisRegister dst = s->ops[0].reg.value;
	unsigned cr = (unsigned)(dst - ZYDIS_REGISTER_CR0);
	struct vigil_kvmi_event_cr e = { .cr = (uint16_t)cr, .insn_len = s->insn.length };

	if (!(atomic_load(&kv->cr_mask) & (1u << cr)) || !kvmi_wants(kv, VIGIL_KVMI_EVENT_CR))
		return 0;
	e.old_value = cr == 0 ? s->sregs.cr0 : cr == 3 ? s->sregs.cr3 : s->sregs.cr4;
	e.new_value = gpr(&s->regs, s->ops[1].reg.value);
	if (kvmi_raise(kv, VIGIL_KVMI_EVENT_CR, &e, sizeof(e), rep) < 0)
		return -ECANCELED;
	if (rep->action == VIGIL_KVMI_ACTION_ALLOW && (rep->flags & VIGIL_KVMI_REPLY_VALUE)) {
		if (cr == 0)
			s->sregs.cr0 = rep->value;
		else if (cr == 3)
			s->sregs.cr3 = rep->value;
		else
			s->sregs.cr4 = rep->value;
		kv->sync_fresh = false;
		if (ioctl(kv->vcpu->fd, KVM_SET_SREGS, &s->sregs) < 0)
			return -errno;
		rep->action = VIGIL_KVMI_ACTION_SKIP;  /* done: step over it */
	}
	return 1;
}

static int xsetbv_event(struct kvmi_vcpu *kv, struct step_insn *s,
			struct vigil_kvmi_event_reply *rep)
{
	struct vigil_kvmi_event_xsetbv e = { .xcr = (uint32_t)s->regs.rcx,
					     .insn_len = s->insn.length };
	struct kvm_xcrs xcrs;
	unsigned i;

	if (!kvmi_wants(kv, VIGIL_KVMI_EVENT_XSETBV))
		return 0;
	e.new_value = ((s->regs.rdx & 0xffffffffu) << 32) | (s->regs.rax & 0xffffffffu);
	if (ioctl(kv->vcpu->fd, KVM_GET_XCRS, &xcrs) == 0)
		for (i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (xcrs.xcrs[i].xcr == e.xcr)
				e.old_value = xcrs.xcrs[i].value;
	if (kvmi_raise(kv, VIGIL_KVMI_EVENT_XSETBV, &e, sizeof(e), rep) < 0)
		return -ECANCELED;
	if (rep->action == VIGIL_KVMI_ACTION_ALLOW && (rep->flags & VIGIL_KVMI_REPLY_VALUE)) {
		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = e.xcr;
		xcrs.xcrs[0].value = rep->value;
		if (ioctl(kv->vcpu->fd, KVM_SET_XCRS, &xcrs) < 0)
			return -errno;
		rep->action = VIGIL_KVMI_ACTION_SKIP;
	}
	return 1;
}

static int step_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return vm_read_phys(opaque, gpa, buf, len);
}

/* LGDT/LIDT: read the pseudo-descriptor the instruction will load. */
static void desc_operand(struct kvmi_vcpu *kv, struct step_insn *s,
			 struct vigil_kvmi_event_descriptor *e)
{
	ZydisRegisterContext ctx;
	uint64_t va, gpa;
	uint8_t buf[10];
	unsigned i, levels, base_len = kvmi_vcpu_mode(&s->sregs) == 8 ? 8 : 4;

	memset(&ctx, 0, sizeof(ctx));
	for (i = 0; i < 16; i++)
		ctx.values[gpr_order[i]] = gpr(&s->regs, gpr_order[i]);
	ctx.values[ZYDIS_REGISTER_RIP] = s->regs.rip;
	if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(&s->insn, &s->ops[0], s->regs.rip, &ctx, &va)))
		return;
	va += s->sregs.ds.base;
	for (i = 0; i < 2 + base_len; i++) {   /* byte by byte: it may cross a page */
		if (kvmi_walk(&s->sregs, va + i, step_read, kv->k->vm, &gpa, &levels) < 0 ||
		    vm_read_phys(kv->k->vm, gpa, &buf[i], 1) < 0)
			return;
	}
	e->new_limit = (uint32_t)buf[0] | ((uint32_t)buf[1] << 8);
	e->new_base = 0;
	memcpy(&e->new_base, buf + 2, base_len);
}

static int desc_event(struct kvmi_vcpu *kv, struct step_insn *s, unsigned which,
		      struct vigil_kvmi_event_reply *rep)
{
	struct vigil_kvmi_event_descriptor e = { .descriptor = (uint8_t)which,
						 .insn_len = s->insn.length };
	const ZydisDecodedOperand *op = &s->ops[0];

	if (!kvmi_wants(kv, VIGIL_KVMI_EVENT_DESCRIPTOR))
		return 0;
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER)
		e.new_selector = (uint16_t)gpr(&s->regs, op->reg.value);
	else if (which == VIGIL_KVMI_DESC_GDTR || which == VIGIL_KVMI_DESC_IDTR)
		desc_operand(kv, s, &e);
	if (kvmi_raise(kv, VIGIL_KVMI_EVENT_DESCRIPTOR, &e, sizeof(e), rep) < 0)
		return -ECANCELED;
	rep->flags = 0;  /* no replacement value for descriptor loads */
	return 1;
}

/* Raise the event the instruction at RIP calls for: 1 raised, 0 none. */
static int step_classify(struct kvmi_vcpu *kv, struct step_insn *s,
			 struct vigil_kvmi_event_reply *rep)
{
	switch (s->insn.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		if (s->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (s->ops[0].reg.value == ZYDIS_REGISTER_CR0 ||
		     s->ops[0].reg.value == ZYDIS_REGISTER_CR3 ||
		     s->ops[0].reg.value == ZYDIS_REGISTER_CR4))
			return cr_event(kv, s, rep);
		return 0;
	case ZYDIS_MNEMONIC_XSETBV:
		return xsetbv_event(kv, s, rep);
	case ZYDIS_MNEMONIC_LGDT:
		return desc_event(kv, s, VIGIL_KVMI_DESC_GDTR, rep);
	case ZYDIS_MNEMONIC_LIDT:
		return desc_event(kv, s, VIGIL_KVMI_DESC_IDTR, rep);
	case ZYDIS_MNEMONIC_LLDT:
		return desc_event(kv, s, VIGIL_KVMI_DESC_LDTR, rep);
	case ZYDIS_MNEMONIC_LTR:
		return desc_event(kv, s, VIGIL_KVMI_DESC_TR, rep);
	default:
		return 0;
	}
}

/* Before the instruction at RIP runs: decode and raise its event. */
int kvmi_step_check(struct kvmi_vcpu *kv)
{
	struct vigil_kvmi_event_reply rep;
	struct step_insn s;
	int r;

	kv->step_check_now = false;
	while (intercepting(kv)) {
		if (kv->sync_fresh) {
			s.regs = kv->vcpu->run->s.regs.regs;
			s.sregs = kv->vcpu->run->s.regs.sregs;
		} else if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &s.regs) < 0 ||
			   ioctl(kv->vcpu->fd, KVM_GET_SREGS, &s.sregs) < 0) {
			return -errno;
		}
		if (s.sregs.cs.dpl != 0)
			return 0;  /* these instructions fault at CPL3 anyway */
		if (kvmi_insn_decode(kv, &s.regs, &s.sregs, &s.insn, s.ops, s.bytes) < 0)
			return 0;
		r = step_classify(kv, &s, &rep);
		if (r <= 0)
			return r;
		if (rep.action == VIGIL_KVMI_ACTION_ALLOW)
			return 0;
		if (rep.action == VIGIL_KVMI_ACTION_SKIP) {
			s.regs.rip += s.insn.length;
			kv->sync_fresh = false;
			if (kvmi_set_regs(kv, &s.regs) < 0)
				return -errno;
		}
		/* SKIP: check the next instruction; RETRY: ask again. */
	}
	return 0;
}

static int bp_event(struct kvmi_vcpu *kv, uint64_t dr6)
{
	struct vigil_kvmi_event_breakpoint e = { .gva = kv->vcpu->run->debug.arch.pc, .dr6 = dr6 };
	struct vigil_kvmi_event_reply rep;
	struct kvm_regs regs;
	int r;

	e.index = (uint32_t)__builtin_ctzll(dr6 & 0xf);
	if (!kvmi_wants(kv, VIGIL_KVMI_EVENT_BREAKPOINT))
		return 1;
	r = kvmi_raise(kv, VIGIL_KVMI_EVENT_BREAKPOINT, &e, sizeof(e), &rep);
	if (r < 0)
		return r;
	if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	/* Resume flag: the instruction breakpoint does not fire again at once. */
	regs.rflags |= 1u << 16;
	kv->sync_fresh = false;
	return kvmi_set_regs(kv, &regs) < 0 ? -errno : 1;
}

/* int3 reported by KVM_GUESTDBG_USE_SW_BP, RIP at the int3. ALLOW delivers
 * the #BP to the guest (it may be the guest's own), SKIP steps over the
 * int3, RETRY runs it again (the tool restored the original byte).
 * Untested here: kvm_pvm does not honour USE_SW_BP (probed at start-up). */
static int sw_bp_event(struct kvmi_vcpu *kv)
{
	struct vigil_kvmi_event_breakpoint e = { .gva = kv->vcpu->run->debug.arch.pc,
						 .index = ~0u };
	struct vigil_kvmi_event_reply rep = { .action = VIGIL_KVMI_ACTION_ALLOW };
	struct kvm_vcpu_events ev;
	struct kvm_regs regs;
	int r;

	if (kvmi_wants(kv, VIGIL_KVMI_EVENT_SW_BREAKPOINT)) {
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_SW_BREAKPOINT, &e, sizeof(e), &rep);
		if (r < 0)
			return r;
	}
	if (rep.action == VIGIL_KVMI_ACTION_RETRY)
		return 1;
	if (rep.action == VIGIL_KVMI_ACTION_SKIP) {
		if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &regs) < 0)
			return -errno;
		regs.rip += 1;
		kv->sync_fresh = false;
		return kvmi_set_regs(kv, &regs) < 0 ? -errno : 1;
	}
	/* Re-inject as QEMU does: RIP stays on the int3 and KVM delivers the
	 * soft exception with the instruction length of this exit. */
	if (ioctl(kv->vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = 3;
	ev.exception.has_error_code = 0;
	ev.flags = 0;
	return ioctl(kv->vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 1;
}

/*
 * Which of our breakpoints caused this #DB. DR6's B0-B3 are sticky on real
 * x86 (kvm_amd reports the VMCB's DR6, which nobody clears) and may be set
 * for disabled breakpoints, so a bit counts only for an enabled breakpoint
 * that matches: an execution breakpoint at the reported PC, a data
 * breakpoint when the exit is not a single-step trap.
 */
static uint64_t bp_hits(struct kvmi_vcpu *kv, const struct kvm_debug_exit_arch *d)
{
	uint64_t hits = 0;
	unsigned i;

	pthread_mutex_lock(&kv->lock);
	for (i = 0; i < VIGIL_KVMI_NR_HW_BPS; i++) {
		const struct kvmi_bp *bp = &kv->bps[i];

		if (!bp->enabled || !(d->dr6 & (1ull << i)))
			continue;
		if (bp->type == 0 ? bp->gva == d->pc : !(d->dr6 & DR6_BS))
			hits |= 1ull << i;
	}
	pthread_mutex_unlock(&kv->lock);
	return hits;
}

int kvmi_debug_exit(struct kvmi_vcpu *kv)
{
	struct kvm_debug_exit_arch *d = &kv->vcpu->run->debug.arch;
	struct vigil_kvmi_event_reply rep;
	uint64_t hits;
	int r;

	if (d->exception == 3)
		return sw_bp_event(kv);
	hits = bp_hits(kv, d);
	if (hits)
		return bp_event(kv, (d->dr6 & ~0xfull) | hits);
	if (kv->exec_restore) {
		kvmi_pf_exec_restore(kv);
		atomic_store(&kv->debug_dirty, true);
	}
	if (atomic_load(&kv->singlestep) && kvmi_wants(kv, VIGIL_KVMI_EVENT_SINGLESTEP)) {
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_SINGLESTEP, NULL, 0, &rep);
		if (r < 0)
			return r;
	}
	/* Re-arm at every step, not only when stepping stops: x86 KVM drops the
	 * trap flag when it emulates an instruction at another RIP than the one
	 * KVM_SET_GUEST_DEBUG saw (it does so for intercepted instructions on
	 * hosts without NRIP save, e.g. kvm_amd under QEMU), and stepping would
	 * silently stop right where CR writes happen. */
	atomic_store(&kv->debug_dirty, true);
	kv->step_check_now = true;
	return 1;
}

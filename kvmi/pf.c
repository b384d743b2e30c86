/*
 * Page-access events (vCPU thread).
 *
 * Write to a page without W (read-only slot, or no slot): KVM already
 * finished the instruction, RIP is past it. ALLOW copies the data into RAM,
 * SKIP drops it, RETRY re-evaluates the same store against the rights now in
 * force (applied if allowed, event again if not).
 * Read of a page without R (no slot): RIP still at the instruction; KVM
 * completes it with run->mmio.data. ALLOW = real bytes, SKIP = the tool's
 * ctx bytes (or zeros): "hide memory". RETRY re-evaluates as for writes.
 * Fetch from a page without X (no slot): emulation fails with RIP in the
 * page. RETRY re-enters (the fetch faults again while still protected), SKIP
 * advances RIP past the decoded instruction, ALLOW opens the page for one
 * instruction (single-step at CPL0) or until the next exit (CPL3 here).
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvmi_int.h"
#include "log.h"

static int rw_perform(struct kvmi_vcpu *kv, uint64_t gpa)
{
	struct kvm_run *run = kv->vcpu->run;

	if (run->mmio.is_write)
		return vm_write_phys(kv->k->vm, gpa, run->mmio.data, run->mmio.len);
	return vm_read_phys(kv->k->vm, gpa, run->mmio.data, run->mmio.len);
}

static uint8_t rw_needed(const struct kvm_run *run)
{
	return run->mmio.is_write ? VIGIL_KVMI_PAGE_W : VIGIL_KVMI_PAGE_R;
}

int kvmi_pf_mmio(struct kvmi_vcpu *kv)
{
	struct kvm_run *run = kv->vcpu->run;
	uint64_t gpa = run->mmio.phys_addr;
	struct vigil_kvmi_event_pf e = { .gva = ~0ull, .gpa = gpa };
	struct vigil_kvmi_event_reply reply;
	uint8_t need = rw_needed(run);
	int r;

	if (run->mmio.len > sizeof(run->mmio.data))
		return 0;
	for (;;) {
		uint8_t access = kvmi_pages_get(&kv->k->pages, gpa) &
				 kvmi_pages_get(&kv->k->pages, gpa + run->mmio.len - 1);

		if (access == VIGIL_KVMI_PAGE_RWX)
			return 0;   /* not ours: the core emulates RAM/MMIO */
		if ((access & need) || !kvmi_wants(kv, VIGIL_KVMI_EVENT_PF))
			return rw_perform(kv, gpa) < 0 ? 0 : 1;
		e.access = need;
		e.len = (uint8_t)run->mmio.len;
		if (run->mmio.is_write)
			memcpy(e.data, run->mmio.data, run->mmio.len);
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_PF, &e, sizeof(e), &reply);
		if (r < 0)
			return r;
		switch (reply.action) {
		case VIGIL_KVMI_ACTION_ALLOW:
			return rw_perform(kv, gpa) < 0 ? 0 : 1;
		case VIGIL_KVMI_ACTION_SKIP:
			if (!run->mmio.is_write) {
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
				if (reply.flags & VIGIL_KVMI_REPLY_CTX)
					memcpy(run->mmio.data, reply.ctx,
					       reply.ctx_size < run->mmio.len ? reply.ctx_size
									       : run->mmio.len);
			}
			return 1;
		default:
			continue;  /* RETRY: evaluate again against current rights */
		}
	}
}

struct fetch_ctx {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t gpa;
	uint8_t insn[16];
	unsigned insn_len;
};

static int fetch_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return vm_read_phys(opaque, gpa, buf, len);
}

/* Length of the instruction at RIP (bytes read through the page tables). */
int kvmi_insn_decode(struct kvmi_vcpu *kv, const struct kvm_regs *regs,
		     const struct kvm_sregs *sregs, ZydisDecodedInstruction *insn,
		     ZydisDecodedOperand *ops, uint8_t *bytes);
int kvmi_insn_decode(struct kvmi_vcpu *kv, const struct kvm_regs *regs,
		     const struct kvm_sregs *sregs, ZydisDecodedInstruction *insn,
		     ZydisDecodedOperand *ops, uint8_t *bytes)
{
	uint64_t rip = regs->rip + sregs->cs.base, gpa;
	unsigned levels, n = 0, chunk;
	int mode = kvmi_vcpu_mode(sregs);
	ZydisDecoder dec;

	while (n < 15) {
		if (kvmi_walk(sregs, rip + n, fetch_read, kv->k->vm, &gpa, &levels) < 0)
			break;
		chunk = 4096 - (unsigned)((rip + n) & 0xfff);
		if (chunk > 15 - n)
			chunk = 15 - n;
		if (vm_read_phys(kv->k->vm, gpa, bytes + n, chunk) < 0)
			break;
		n += chunk;
	}
	if (!n)
		return -EFAULT;
	if (mode == 8)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	else if (mode == 4)
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	else
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, n, insn, ops)))
		return -EILSEQ;
	return insn->length;
}

/* Ask the reactor to set @flags on one page (only the reactor changes slots). */
static void slot_call_cb(struct mbox_msg *msg)
{
	struct vcpu_call *call = (struct vcpu_call *)msg;
	struct kvmi_vcpu *kv = call->vcpu->priv[VCPU_PRIV_KVMI];
	uint64_t gpa = kv->exec_restore_gpa & ~0xfffull;
	uint32_t flags = (uint32_t)(kv->exec_restore_gpa & 0xfff);
	int r = kvmi_quiesce_begin(kv->k);

	if (r == 0) {
		r = memslots_set_flags(&kv->k->vm->slots, gpa, 4096, flags);
		kvmi_quiesce_end(kv->k);
	}
	vcpu_call_complete(call, r);
}

static int slot_set(struct kvmi_vcpu *kv, uint64_t gpa, uint32_t flags)
{
	kv->exec_restore_gpa = (gpa & ~0xfffull) | flags;
	return vcpu_call_reactor(kv->vcpu, &kv->restore_call, slot_call_cb, 5000);
}

void kvmi_pf_exec_restore(struct kvmi_vcpu *kv)
{
	uint64_t gpa = kv->exec_restore_gpa & ~0xfffull;
	uint8_t access = kvmi_pages_get(&kv->k->pages, gpa);

	kv->exec_restore = false;
	atomic_store(&kv->debug_dirty, true);
	if (access == VIGIL_KVMI_PAGE_RWX)
		return;  /* lifted meanwhile */
	if (slot_set(kv, gpa, MEMSLOT_ABSENT) < 0)
		log_warn("kvmi: vCPU %u: cannot re-protect page 0x%llx", kv->vcpu->id,
			 (unsigned long long)gpa);
}

static int exec_allow(struct kvmi_vcpu *kv, uint64_t gpa, uint8_t access)
{
	int r = slot_set(kv, gpa, (access & VIGIL_KVMI_PAGE_W) ? 0 : MEMSLOT_READONLY);

	if (r < 0)
		return r;
	kv->exec_restore = true;
	kv->exec_restore_gpa = gpa & ~0xfffull;
	atomic_store(&kv->debug_dirty, true);  /* single-step one instruction */
	return 1;
}

static int exec_skip(struct kvmi_vcpu *kv, struct fetch_ctx *f)
{
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	int len = kvmi_insn_decode(kv, &f->regs, &f->sregs, &insn, ops, f->insn);

	if (len < 0)
		return 1;  /* cannot decode: behave as RETRY */
	f->regs.rip += (unsigned)len;
	kv->sync_fresh = false;
	return kvmi_set_regs(kv, &f->regs) < 0 ? -errno : 1;
}

int kvmi_pf_exec(struct kvmi_vcpu *kv)
{
	struct fetch_ctx f;
	struct vigil_kvmi_event_pf e = { .access = VIGIL_KVMI_PAGE_X };
	struct vigil_kvmi_event_reply reply;
	unsigned levels;
	uint8_t access;
	int r;

	if (ioctl(kv->vcpu->fd, KVM_GET_REGS, &f.regs) < 0 ||
	    ioctl(kv->vcpu->fd, KVM_GET_SREGS, &f.sregs) < 0)
		return 0;
	e.gva = f.regs.rip + f.sregs.cs.base;
	if (kvmi_walk(&f.sregs, e.gva, fetch_read, kv->k->vm, &f.gpa, &levels) < 0)
		return 0;
	e.gpa = f.gpa;
	access = kvmi_pages_get(&kv->k->pages, f.gpa);
	if (access == VIGIL_KVMI_PAGE_RWX)
		return 0;  /* a real emulation failure: the core reports it */
	reply.action = VIGIL_KVMI_ACTION_ALLOW;
	if (!(access & VIGIL_KVMI_PAGE_X) && kvmi_wants(kv, VIGIL_KVMI_EVENT_PF)) {
		r = kvmi_raise(kv, VIGIL_KVMI_EVENT_PF, &e, sizeof(e), &reply);
		if (r < 0)
			return r;
	}
	switch (reply.action) {
	case VIGIL_KVMI_ACTION_SKIP:
		return exec_skip(kv, &f);
	case VIGIL_KVMI_ACTION_RETRY:
		return 1;
	default:
		return exec_allow(kv, f.gpa, access);
	}
}

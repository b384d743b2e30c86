/*
 * What a vCPU thread does with each exit: one switch on exit_reason handing
 * the exit to a small helper (kvmtool style). Hooks (introspection) get the
 * first look; I/O and MMIO go to the VM's buses; anything fatal stops the VM
 * with a reason and a status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "exitcodes.h"
#include "log.h"
#include "vcpu.h"
#include "vcpu_exit.h"
#include "vm.h"

static int exit_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;
	int r;

	if (run->io.size > 8 || (size_t)run->io.data_offset + (size_t)run->io.size * run->io.count >
	    vcpu->run_size)
		return -EINVAL;
	/* "rep ins/outs" arrive as count consecutive accesses. */
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		r = iobus_dispatch(&vcpu->vm->pio, vcpu, run->io.port, is_write, data,
				   run->io.size);
		if (r == -ENOENT) {
			if (!is_write)
				memset(data, vcpu->vm->cfg.unhandled_read, run->io.size);
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* MMIO that lands on guest RAM: a write to a read-only range, or any access
 * to RAM with no slot (a page being remapped, or protected with nobody
 * listening). Emulate it against the backing memory. */
static int exit_mmio_ram(struct vcpu *vcpu, uint64_t gpa, uint32_t flags, uint64_t hva)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if ((gpa & 0xfff) + len > 0x1000) {
		if (!run->mmio.is_write)
			return vm_read_phys(vcpu->vm, gpa, run->mmio.data, len);
		if (flags & MEMSLOT_READONLY)
			return 0;
		return vm_write_phys(vcpu->vm, gpa, run->mmio.data, len);
	}
	if (!run->mmio.is_write) {
		memcpy(run->mmio.data, (void *)(uintptr_t)hva, len);
		return 0;
	}
	if (flags & MEMSLOT_READONLY)
		return 0;  /* ROM semantics: the write is dropped */
	memcpy((void *)(uintptr_t)hva, run->mmio.data, len);
	return 0;
}

static int exit_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t gpa = run->mmio.phys_addr, hva;
	uint32_t flags;
	int r;

	if (run->mmio.len > sizeof(run->mmio.data))
		return -EINVAL;
	r = iobus_dispatch(&vcpu->vm->mmio, vcpu, gpa, run->mmio.is_write,
			   run->mmio.data, run->mmio.len);
	if (r != -ENOENT)
		return r;
	if (memslots_lookup(&vcpu->vm->slots, gpa, &flags, &hva) == 0) {
		if (run->mmio.is_write && (flags & MEMSLOT_READONLY))
			return 0;
		return exit_mmio_ram(vcpu, gpa, flags, hva);
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, vcpu->vm->cfg.unhandled_read, run->mmio.len);
	return 0;
}

static uint64_t vcpu_rip(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ULL;
	return regs.rip;
}

static int exit_fatal(struct vcpu *vcpu, int status, const char *what)
{
	vm_request_stop(vcpu->vm, status, "vCPU %u: %s at rip 0x%llx", vcpu->id, what,
			(unsigned long long)vcpu_rip(vcpu));
	return -EIO;
}

static int exit_internal_error(struct vcpu *vcpu)
{
	char what[96];

	snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
		 vcpu->run->internal.suberror,
		 vcpu->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		 " (instruction emulation failed)" : "");
	return exit_fatal(vcpu, VIGILD_EXIT_GUEST_ERROR, what);
}

static int exit_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, 0, "vCPU %u: guest powered off", vcpu->id);
		return -EIO;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, 0, "vCPU %u: guest requested a reset (not supported: stopping)",
				vcpu->id);
		return -EIO;
	default:
		return exit_fatal(vcpu, VIGILD_EXIT_GUEST_ERROR, "unknown system event");
	}
}

static const char *hyperv_exit_name(uint32_t type)
{
	switch (type) {
	case KVM_EXIT_HYPERV_SYNIC: return "SynIC MSR write";
	case KVM_EXIT_HYPERV_HCALL: return "hypercall";
	case KVM_EXIT_HYPERV_SYNDBG: return "synthetic debugger";
	default: return "unknown type";
	}
}

/* Hyper-V exits belong to whoever set vm->hyperv (the plugin server); a VM
 * without one never enabled SynIC, so getting here is a bug worth naming. */
static int exit_hyperv(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	char what[112];

	if (vm->hyperv.fn)
		return vm->hyperv.fn(vcpu, vm->hyperv.opaque);
	snprintf(what, sizeof(what), "KVM_EXIT_HYPERV (%s, type %u) and nothing handles Hyper-V exits",
		 hyperv_exit_name(vcpu->run->hyperv.type), vcpu->run->hyperv.type);
	return exit_fatal(vcpu, VIGILD_EXIT_GUEST_ERROR, what);
}

static int exit_default(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[64];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(vcpu);
	case KVM_EXIT_MMIO:
		return exit_mmio(vcpu);
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		return exit_fatal(vcpu, VIGILD_EXIT_TRIPLE_FAULT,
				  "triple fault (KVM_EXIT_SHUTDOWN)");
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		return exit_fatal(vcpu, VIGILD_EXIT_GUEST_ERROR, "VM entry failed");
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(vcpu);
	case KVM_EXIT_HYPERV:
		return exit_hyperv(vcpu);
	default:
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		return exit_fatal(vcpu, VIGILD_EXIT_GUEST_ERROR, what);
	}
}

int vcpu_exit_handle(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	const struct vcpu_hooks *hooks = __atomic_load_n(&vm->hooks, __ATOMIC_SEQ_CST);
	int r;

	if (hooks && hooks->exit) {
		r = hooks->exit(vcpu, __atomic_load_n(&vm->hooks_opaque, __ATOMIC_SEQ_CST));
		if (r > 0)
			return 0;
		if (r < 0 && r != -ECANCELED) {
			vm_request_stop(vm, VIGILD_EXIT_SOFTWARE, "vCPU %u: exit hook failed: %s",
					vcpu->id, strerror(-r));
			return r;
		}
		if (r == -ECANCELED)
			return r;
	}
	r = exit_default(vcpu);
	if (r == -ECANCELED)
		return r;
	if (r < 0 && !vm_stop_requested(vm))
		vm_request_stop(vm, VIGILD_EXIT_SOFTWARE, "vCPU %u: exit %u handling failed: %s",
				vcpu->id, vcpu->run->exit_reason, strerror(-r));
	return r;
}

/* VM lifecycle: create (irqchip, PIT, sealed RAM, memslots, vCPUs), stop, free. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exitcodes.h"
#include "irq_routing.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

#define KVM_TSS_ADDR 0xfffbd000UL

static int vm_slot_set(void *opaque, uint32_t slot, uint32_t flags,
		       uint64_t gpa, uint64_t size, uint64_t hva)
{
	struct vm *vm = opaque;
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = ((flags & MEMSLOT_READONLY) ? KVM_MEM_READONLY : 0) |
			 ((flags & MEMSLOT_DIRTY_LOG) ? KVM_MEM_LOG_DIRTY_PAGES : 0),
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

static const struct memslot_ops vm_slot_ops = { .set = vm_slot_set };

static int ram_create(struct vm *vm, uint64_t size, char *why, size_t why_len)
{
	struct guest_ram *ram = &vm->ram;
	uint64_t low = size < VM_MMIO_HOLE_START ? size : VM_MMIO_HOLE_START;
	int r;

	ram->memfd = memfd_create("vigil-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ram->memfd < 0)
		goto fail_errno;
	if (ftruncate(ram->memfd, (off_t)size) < 0)
		goto fail_errno;
	/* The size is fixed for the VM's life: nobody may shrink it under us. */
	if (fcntl(ram->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		goto fail_errno;
	ram->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			ram->memfd, 0);
	if (ram->hva == MAP_FAILED) {
		ram->hva = NULL;
		goto fail_errno;
	}
	ram->size = size;
	r = memslots_add(&vm->slots, 0, low, (uint64_t)(uintptr_t)ram->hva, 0);
	if (r < 0)
		goto fail_slot;
	ram->regions[ram->nr_regions++] = (uint32_t)r;
	if (size > low) {
		r = memslots_add(&vm->slots, VM_MMIO_HOLE_END, size - low,
				 (uint64_t)(uintptr_t)ram->hva + low, 0);
		if (r < 0)
			goto fail_slot;
		ram->regions[ram->nr_regions++] = (uint32_t)r;
	}
	return 0;
fail_errno:
	r = -errno;
	snprintf(why, why_len, "cannot allocate %llu MiB of guest RAM: %s",
		 (unsigned long long)(size >> 20), strerror(errno));
	return r;
fail_slot:
	snprintf(why, why_len, "cannot map guest RAM into KVM: %s", strerror(-r));
	return r;
}

static int vm_setup_kvm(struct vm *vm, char *why, size_t why_len)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 } };

	vm->fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		snprintf(why, why_len, "KVM_CREATE_VM failed: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (vm->cfg.irqchip) {
		if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
		    ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
			snprintf(why, why_len, "cannot create the in-kernel irqchip/PIT: %s",
				 strerror(errno));
			return -errno;
		}
		if (irq_routing_new(&vm->irq_routing, vm->fd, vm->kvm->fd) < 0) {
			snprintf(why, why_len, "cannot allocate the GSI routing table");
			return -ENOMEM;
		}
	}
	/* Make failed instruction fetches (execute-protected pages) exit to us
	 * at any CPL instead of becoming a #UD in the guest. */
	if (vm->kvm->has_exit_on_emul_fail && ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
		log_debug("KVM_CAP_EXIT_ON_EMULATION_FAILURE: %s", strerror(errno));
	return 0;
}

static int vm_init_parts(struct vm *vm)
{
	int err;

	err = iobus_init(&vm->pio);
	if (err)
		return err;
	err = iobus_init(&vm->mmio);
	if (err)
		return err;
	err = mailbox_init(&vm->mailbox);
	if (err)
		return err;
	err = pthread_mutex_init(&vm->serial_lock, NULL);
	if (err)
		return -err;
	return memslots_init(&vm->slots, (unsigned)vm->kvm->nr_memslots, &vm_slot_ops, vm);
}

int vm_create_vcpus(struct vm *vm, char *why, size_t why_len)
{
	unsigned i;
	int err;

	if (!vm->vcpus) {
		vm->vcpus = calloc(vm->cfg.nr_vcpus, sizeof(*vm->vcpus));
		if (!vm->vcpus) {
			snprintf(why, why_len, "cannot create the vCPUs: out of memory");
			return -ENOMEM;
		}
	}
	for (i = vm->nr_vcpus; i < vm->cfg.nr_vcpus; i++) {
		err = vcpu_create(vm, i, &vm->vcpus[i]);
		if (err) {
			snprintf(why, why_len, "cannot create vCPU %u: %s", i, strerror(-err));
			return err;
		}
		vm->nr_vcpus++;
	}
	return 0;
}

static int vm_check_config(const struct vm_config *cfg, const struct kvm_host *kvm,
			   char *why, size_t why_len)
{
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > VM_MAX_VCPUS ||
	    (kvm->max_vcpus > 0 && cfg->nr_vcpus > (unsigned)kvm->max_vcpus)) {
		snprintf(why, why_len, "%u vCPUs requested: must be 1 to %d", cfg->nr_vcpus,
			 kvm->max_vcpus > 0 && kvm->max_vcpus < VM_MAX_VCPUS ?
			 kvm->max_vcpus : VM_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->mem_size > VM_MAX_MEM || (cfg->mem_size & 0xfff)) {
		snprintf(why, why_len, "guest memory size %llu is not a multiple of 4 KiB up to 1 TiB",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	return 0;
}

static void vm_stop_cb(struct mbox_msg *msg)
{
	struct vm *vm = msg->opaque;
	unsigned i;

	for (i = 0; i < vm->nr_stop_listeners; i++)
		vm->stop_listeners[i].fn(vm, vm->stop_listeners[i].opaque);
}

int vm_on_stop(struct vm *vm, void (*fn)(struct vm *vm, void *opaque), void *opaque)
{
	if (vm->nr_stop_listeners == VM_MAX_STOP_LISTENERS)
		return -ENOSPC;
	vm->stop_listeners[vm->nr_stop_listeners].fn = fn;
	vm->stop_listeners[vm->nr_stop_listeners].opaque = opaque;
	vm->nr_stop_listeners++;
	return 0;
}

int vm_create(struct vm **out, struct kvm_host *kvm, const struct vm_config *cfg,
	      char *why, size_t why_len)
{
	struct vm *vm;
	int err;

	*out = NULL;
	err = vm_check_config(cfg, kvm, why, why_len);
	if (err)
		return err;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm = kvm;
	vm->cfg = *cfg;
	vm->fd = -1;
	vm->ram.memfd = -1;
	vm->mailbox.efd = -1;
	vm->stop_msg.handler = vm_stop_cb;
	vm->stop_msg.opaque = vm;
	err = vm_init_parts(vm);
	if (err) {
		snprintf(why, why_len, "cannot initialise the VM: %s", strerror(-err));
		goto fail;
	}
	err = vm_setup_kvm(vm, why, why_len);
	if (!err && cfg->mem_size)
		err = ram_create(vm, cfg->mem_size, why, why_len);
	if (!err && !cfg->defer_vcpus)
		err = vm_create_vcpus(vm, why, why_len);
	if (err)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_free(vm);
	return err;
}

int vm_start(struct vm *vm)
{
	unsigned i;
	int err;

	if (!vm->nr_vcpus || vm->nr_vcpus != vm->cfg.nr_vcpus)
		return -EINVAL;   /* vm_create_vcpus first */
	for (i = 0; i < vm->nr_vcpus; i++) {
		err = vcpu_start(vm->vcpus[i]);
		if (err) {
			vm_request_stop(vm, VIGILD_EXIT_SOFTWARE, "cannot start vCPU %u: %s", i, strerror(-err));
			return err;
		}
	}
	vm->started = true;
	return 0;
}

void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	unsigned i;

	if (atomic_exchange(&vm->stop.requested, true))
		return;
	vm->stop.status = status;
	va_start(ap, fmt);
	vsnprintf(vm->stop.reason, sizeof(vm->stop.reason), fmt, ap);
	va_end(ap);
	/* Get every vCPU out of the guest and out of any wait now, so nothing
	 * keeps running while the reactor gets round to the shutdown. */
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_request(vm->vcpus[i], VCPU_REQ_STOP);
	if (mailbox_post(&vm->mailbox, &vm->stop_msg) < 0)
		log_debug("stop requested after the mailbox closed");
}

bool vm_stop_requested(struct vm *vm)
{
	return atomic_load(&vm->stop.requested);
}

void vm_shutdown(struct vm *vm)
{
	unsigned i;

	if (!vm->nr_vcpus)
		return;
	for (i = 0; i < vm->nr_vcpus; i++) {
		vcpu_request(vm->vcpus[i], VCPU_REQ_STOP);
		vcpu_cancel(vm->vcpus[i]);
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(vm->vcpus[i]);
	mailbox_close(&vm->mailbox);
}

void vm_free(struct vm *vm)
{
	unsigned i;

	if (!vm)
		return;
	vm_shutdown(vm);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_free(vm->vcpus[i]);
	free(vm->vcpus);
	memslots_fini(&vm->slots);
	irq_routing_free(&vm->irq_routing);
	if (vm->ram.hva)
		munmap(vm->ram.hva, vm->ram.size);
	if (vm->ram.memfd >= 0)
		close(vm->ram.memfd);
	if (vm->fd >= 0)
		close(vm->fd);
	mailbox_fini(&vm->mailbox);
	iobus_fini(&vm->mmio);
	iobus_fini(&vm->pio);
	pthread_mutex_destroy(&vm->serial_lock);
	free(vm);
}

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t hva;
	uint32_t flags;

	if (gpa + len < gpa)
		return NULL;
	if (memslots_lookup(&vm->slots, gpa, &flags, &hva) < 0)
		return NULL;
	/* Guest RAM blocks are contiguous in the host within one region; check
	 * the last byte maps to the matching host address. */
	if (len > 1) {
		uint64_t hva_end;

		if (memslots_lookup(&vm->slots, gpa + len - 1, &flags, &hva_end) < 0 ||
		    hva_end != hva + len - 1)
			return NULL;
	}
	return (void *)(uintptr_t)hva;
}

static int vm_copy_phys(struct vm *vm, uint64_t gpa, void *buf, uint64_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t chunk = 0x1000 - (gpa & 0xfff);
		void *hva;

		if (chunk > len)
			chunk = len;
		hva = vm_gpa_to_hva(vm, gpa, chunk);
		if (!hva)
			return -EFAULT;
		if (write)
			memcpy(hva, p, chunk);
		else
			memcpy(p, hva, chunk);
		gpa += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int vm_read_phys(struct vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	return vm_copy_phys(vm, gpa, buf, len, false);
}

int vm_write_phys(struct vm *vm, uint64_t gpa, const void *buf, uint64_t len)
{
	return vm_copy_phys(vm, gpa, (void *)(uintptr_t)buf, len, true);
}

void vm_set_hooks(struct vm *vm, const struct vcpu_hooks *hooks, void *opaque)
{
	unsigned i;

	/* A vCPU reads hooks, then opaque: publish opaque first when installing,
	 * withdraw hooks first when removing. */
	if (hooks) {
		__atomic_store_n(&vm->hooks_opaque, opaque, __ATOMIC_SEQ_CST);
		__atomic_store_n(&vm->hooks, hooks, __ATOMIC_SEQ_CST);
	} else {
		__atomic_store_n(&vm->hooks, NULL, __ATOMIC_SEQ_CST);
		__atomic_store_n(&vm->hooks_opaque, opaque, __ATOMIC_SEQ_CST);
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpus[i]);
}

void vm_set_hyperv_handler(struct vm *vm, vm_hyperv_fn fn, void *opaque)
{
	vm->hyperv.fn = fn;
	vm->hyperv.opaque = fn ? opaque : NULL;
}

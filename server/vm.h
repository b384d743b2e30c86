/*
 * A KVM virtual machine: guest RAM, memslots, I/O buses, vCPUs, mailbox.
 *
 * Ownership: the reactor thread (main) owns the vm. vCPU threads only read it,
 * post to its mailbox and call vm_request_stop. Nothing here calls libevent:
 * the reactor watches mailbox_fd(&vm->mailbox) and calls mailbox_drain.
 *
 * Guest physical layout: RAM from 0 up to VM_MMIO_HOLE_START, the rest of RAM
 * from 4 GiB up; [VM_MMIO_HOLE_START, 4 GiB) is left for devices.
 */
#ifndef VIGIL_VM_H
#define VIGIL_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iobus.h"
#include "kvm_host.h"
#include "mailbox.h"
#include "memslot.h"

#define VM_MMIO_HOLE_START 0xC0000000ULL
#define VM_MMIO_HOLE_END   0x100000000ULL
#define VM_MAX_MEM         (1ULL << 40)
#define VM_MIN_MEM         (4ULL << 20)
#define VM_MAX_VCPUS       32
#define VM_MAX_STOP_LISTENERS 4

struct vcpu;
struct vcpu_hooks;
struct irq_routing;

/* Handler of KVM_EXIT_HYPERV (SynIC MSR writes and the hypercalls KVM leaves
 * to userspace), called in the vCPU thread with the exit in vcpu->run->hyperv.
 * 0: re-enter the guest; -errno: the VM stops (the handler may have asked for
 * the stop itself, with a better reason). */
typedef int (*vm_hyperv_fn)(struct vcpu *vcpu, void *opaque);

struct vm_config {
	uint64_t mem_size;        /* bytes of guest RAM; 0: no RAM (plugin adds it) */
	unsigned nr_vcpus;
	bool irqchip;             /* in-kernel irqchip + PIT (default on) */
	uint8_t unhandled_read;   /* fill byte for reads nobody handles */
	unsigned wait_spin_us;    /* vCPU poll before sleeping on the reactor; 0: default */
	bool defer_vcpus;         /* vm_create leaves the vCPUs to vm_create_vcpus */
};

struct guest_ram {
	int memfd;                /* sealed against shrink/grow */
	uint8_t *hva;
	uint64_t size;
	uint32_t regions[2];      /* memslot region ids: low and high RAM */
	unsigned nr_regions;
};

/* Why the VM stopped; the first vm_request_stop wins. */
struct vm_stop {
	atomic_bool requested;
	int status;               /* vigild exit status (exitcodes.h) */
	char reason[160];
};

struct vm {
	struct kvm_host *kvm;     /* not owned */
	int fd;
	struct vm_config cfg;
	struct guest_ram ram;
	struct memslots slots;
	struct iobus pio, mmio;
	struct mailbox mailbox;
	/* The GSI routing table's owner (irq_routing.h); NULL without irqchip. */
	struct irq_routing *irq_routing;
	struct vcpu **vcpus;
	unsigned nr_vcpus;
	struct vm_stop stop;
	struct mbox_msg stop_msg;
	/* Called in the reactor thread once each, in order, after the first
	 * stop request (see vm_on_stop). */
	struct {
		void (*fn)(struct vm *vm, void *opaque);
		void *opaque;
	} stop_listeners[VM_MAX_STOP_LISTENERS];
	unsigned nr_stop_listeners;
	/* Optional introspection hooks, consulted by every vCPU (see vcpu.h). */
	const struct vcpu_hooks *hooks;
	void *hooks_opaque;
	/* Owner of Hyper-V exits (the plugin server); none: they are fatal. */
	struct {
		vm_hyperv_fn fn;
		void *opaque;
	} hyperv;
	/* Serial line buffers, one per vCPU would be nicer; one shared, locked. */
	pthread_mutex_t serial_lock;
	char serial_line[256];
	unsigned serial_len;
	bool started;
};

/* Create the VM (irqchip, PIT, RAM from a sealed memfd, memslots, and the
 * vCPUs unless cfg->defer_vcpus). On failure returns -errno and a message in
 * @why. */
int vm_create(struct vm **out, struct kvm_host *kvm, const struct vm_config *cfg,
	      char *why, size_t why_len);
/* Reactor, before vm_start: create the vCPUs vm_create left out (VM-wide
 * setup KVM refuses once a vCPU exists, such as KVM_SET_IDENTITY_MAP_ADDR,
 * goes before this). Creates only the missing ones: 0 when all exist. On
 * failure returns -errno (KVM's) and a message in @why; the vCPUs created so
 * far stay, and a later call continues from there. */
int vm_create_vcpus(struct vm *vm, char *why, size_t why_len);
/* Reactor, before vm_start: call @fn(vm, opaque) in the reactor thread when
 * the VM is asked to stop. -ENOSPC past VM_MAX_STOP_LISTENERS. */
int vm_on_stop(struct vm *vm, void (*fn)(struct vm *vm, void *opaque), void *opaque);
/* Start one thread per vCPU. -EINVAL if the vCPUs were not created. */
int vm_start(struct vm *vm);
/* Any thread: ask the VM to stop with @status. Only the first call counts. */
void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool vm_stop_requested(struct vm *vm);
/* Reactor: kick every vCPU, cancel every wait, join the threads. */
void vm_shutdown(struct vm *vm);
/* Shut down if needed and free everything. Accepts NULL. */
void vm_free(struct vm *vm);

/* Host pointer for [gpa, gpa+len) if it lies inside one RAM block, else NULL. */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM, crossing RAM blocks as needed. -EFAULT outside RAM. */
int vm_read_phys(struct vm *vm, uint64_t gpa, void *buf, uint64_t len);
int vm_write_phys(struct vm *vm, uint64_t gpa, const void *buf, uint64_t len);

/* Install introspection hooks (NULL to remove); vCPUs see them at their next exit. */
void vm_set_hooks(struct vm *vm, const struct vcpu_hooks *hooks, void *opaque);
/* Reactor, while no vCPU thread runs (before vm_start, or after vm_shutdown):
 * route KVM_EXIT_HYPERV to @fn (NULL: nobody; such an exit then stops the VM
 * with a message naming it). */
void vm_set_hyperv_handler(struct vm *vm, vm_hyperv_fn fn, void *opaque);

#endif

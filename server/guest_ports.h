/*
 * The ports of include/vigil/guest_abi.h for standalone guests: serial
 * console, exit, ucall and the no-op benchmark port. All handled in the vCPU
 * thread except VIGIL_UCALL_BENCH, which takes a round trip through the
 * reactor mailbox on purpose.
 */
#ifndef VIGIL_GUEST_PORTS_H
#define VIGIL_GUEST_PORTS_H

#include <stdatomic.h>
#include <stdio.h>

#include <vigil/guest_abi.h>

struct vm;
struct vcpu;

struct guest_ports {
	struct vm *vm;
	FILE *console;            /* serial output; NULL: the log */
	atomic_uint nr_done;      /* vCPUs that sent VIGIL_UCALL_DONE */
	atomic_ulong nr_sync;     /* VIGIL_UCALL_SYNC received */
	/* Optional: called in the vCPU thread for every SYNC; may set uc->ret. */
	void (*on_sync)(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque);
	void *on_sync_opaque;
};

/* Register the ports on @vm's port bus. @gp must outlive the vCPU threads. */
int guest_ports_register(struct guest_ports *gp, struct vm *vm, FILE *console);

#endif

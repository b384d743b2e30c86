/*
 * vCPU threads.
 *
 * Each vCPU thread loops on KVM_RUN. Exits it can finish alone (port I/O and
 * MMIO with a registered handler, MMIO that lands on RAM during a memslot
 * change) stay in the thread. An exit that needs a decision is turned into a
 * struct vcpu_call, posted to the VM's mailbox, and the thread sleeps on its
 * waiter until the reactor answers with vcpu_call_complete, the wait times
 * out, or shutdown cancels it.
 *
 * Kicking: vcpu_kick sets kvm_run.immediate_exit, then signals the thread.
 * If the signal lands before KVM_RUN is entered, immediate_exit makes KVM_RUN
 * return EINTR at once; if it lands inside, KVM_RUN returns EINTR. Either way
 * the thread sees its pending request bits before entering the guest again.
 *
 * State access: while a vCPU thread is parked (waiting on the reactor, state
 * VCPU_PARKED) it does not touch its fd, so the reactor may issue vCPU ioctls
 * on vcpu->fd directly. It must not while the vCPU is VCPU_RUNNING.
 */
#ifndef VIGIL_VCPU_H
#define VIGIL_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mailbox.h"

struct vm;

enum vcpu_state { VCPU_CREATED, VCPU_RUNNING, VCPU_PARKED, VCPU_STOPPED };

/* Request bits: set with vcpu_request(), consumed by the vCPU thread. */
#define VCPU_REQ_STOP      (1u << 0)   /* leave the run loop */
#define VCPU_REQ_HOOK      (1u << 1)   /* call hooks->request (introspection) */
#define VCPU_REQ_PLUGIN    (1u << 2)   /* call the plugin's request handler */

/* Subsystems keep per-vCPU state here, indexed by owner. */
enum vcpu_priv_slot { VCPU_PRIV_PLUGIN, VCPU_PRIV_KVMI, VCPU_PRIV_MAX };

/*
 * One question from a vCPU to the reactor. Lifetime rule: the reactor may
 * hold on to a call after the vCPU stopped waiting (timeout, shutdown), so the
 * struct must NOT live on the vCPU thread's stack: keep it in per-vCPU state
 * that outlives the vCPU threads (vcpu->call, or the subsystem's vcpu->priv
 * object, freed after vm_shutdown). A stale completion is ignored by ticket.
 */
struct vcpu;
struct vcpu_call {
	struct mbox_msg msg;      /* msg.handler runs in the reactor */
	struct vcpu *vcpu;
	uint64_t ticket;
	int result;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic uint32_t requests;
	_Atomic int state;
	struct waiter waiter;
	void *priv[VCPU_PRIV_MAX];
	/* Called in the vCPU thread, before KVM_RUN, when VCPU_REQ_PLUGIN is set. */
	int (*plugin_request)(struct vcpu *vcpu);
	/* Storage for vcpu_call_reactor callers that have none of their own. */
	struct vcpu_call call;
	/* Set while the thread waits on a device server (vcpu_device_call_*). */
	atomic_bool in_device_call;
	/* Statistics, owned by the vCPU thread. */
	uint64_t nr_exits, nr_calls;
};

/*
 * Hooks for introspection: installed on the VM, consulted by every vCPU.
 * All run in the vCPU thread. Return 1 if the exit was consumed, 0 to let the
 * default handling run, -errno to stop the VM (internal error).
 */
struct vcpu_hooks {
	/* Before every KVM_RUN (after pending requests). */
	int (*pre_run)(struct vcpu *vcpu, void *opaque);
	/* First look at every exit, including KVM_EXIT_INTR after a kick. */
	int (*exit)(struct vcpu *vcpu, void *opaque);
	/* VCPU_REQ_HOOK was set. */
	int (*request)(struct vcpu *vcpu, void *opaque);
};

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);
void vcpu_free(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
/* Set request bits and kick. Any thread. */
void vcpu_request(struct vcpu *vcpu, uint32_t bits);
/* Make KVM_RUN return (or not start). Any thread. */
void vcpu_kick(struct vcpu *vcpu);
/* vCPU thread: post @call (handler set by the caller) and sleep until it is
 * answered. Returns the answer, -ECANCELED on shutdown, -ETIMEDOUT. */
int vcpu_call_reactor(struct vcpu *vcpu, struct vcpu_call *call,
		      mbox_handler_fn handler, int timeout_ms);
/* Reactor: answer @call; false if the vCPU stopped waiting for it. */
bool vcpu_call_complete(struct vcpu_call *call, int result);
/* Wake the thread from any wait for good (shutdown). */
void vcpu_cancel(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

/*
 * vCPU thread: around a blocking call to a device server made while handling
 * an exit (a vfio-user REGION_READ/WRITE). Until the thread next passes its
 * pre-run point it touches neither guest memory slots nor its vCPU fd, so
 * whoever must hold the vCPUs away from the guest (introspection changing
 * memslots) may count it as stopped: it cannot enter the guest without
 * passing the pre-run hooks first. The device call may itself wait for that
 * someone (device DMA held for the introspection tool).
 */
static inline void vcpu_device_call_begin(struct vcpu *vcpu)
{
	if (vcpu)
		atomic_store(&vcpu->in_device_call, true);
}

static inline void vcpu_device_call_end(struct vcpu *vcpu)
{
	if (vcpu)
		atomic_store(&vcpu->in_device_call, false);
}

/* Install the signal used for kicks (once per process, before any vcpu_start). */
int vcpu_signal_setup(void);

#endif

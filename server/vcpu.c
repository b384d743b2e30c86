/* vCPU threads: the run loop, kicks, and calls into the reactor. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "vcpu.h"
#include "vcpu_exit.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)
/* How long a vCPU polls for the reactor's answer before sleeping, unless the
 * VM config says otherwise. On kvm_pvm a vCPU thread that sleeps pays ~70 us
 * to get back into the guest (docs/performance.md), so a short poll wins. */
#define VCPU_WAIT_SPIN_US 200

static void vcpu_kick_handler(int sig)
{
	(void)sig;  /* only here to make KVM_RUN return EINTR */
}

int vcpu_signal_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must come back with EINTR. */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out)
{
	struct vcpu *vcpu;
	int err;

	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->run = MAP_FAILED;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		err = -errno;
		goto fail;
	}
	vcpu->run_size = (size_t)vm->kvm->vcpu_mmap_size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	err = waiter_init(&vcpu->waiter);
	if (err)
		goto fail;
	vcpu->waiter.spin_us = vm->cfg.wait_spin_us ? vm->cfg.wait_spin_us : VCPU_WAIT_SPIN_US;
	atomic_store(&vcpu->state, VCPU_CREATED);
	*out = vcpu;
	return 0;
fail:
	if (vcpu->run != MAP_FAILED)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
	return err;
}

void vcpu_free(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	vcpu_join(vcpu);
	waiter_fini(&vcpu->waiter);
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
}

void vcpu_kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_request(struct vcpu *vcpu, uint32_t bits)
{
	/* The bits are visible before immediate_exit is: the thread clears
	 * immediate_exit and only then reads its requests. */
	atomic_fetch_or(&vcpu->requests, bits);
	vcpu_kick(vcpu);
}

void vcpu_cancel(struct vcpu *vcpu)
{
	waiter_cancel(&vcpu->waiter);
}

static bool vcpu_handle_requests(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	const struct vcpu_hooks *hooks;
	uint32_t req = atomic_exchange(&vcpu->requests, 0);
	int r = 0;

	if ((req & VCPU_REQ_STOP) || vm_stop_requested(vm) || waiter_is_cancelled(&vcpu->waiter))
		return false;
	hooks = __atomic_load_n(&vm->hooks, __ATOMIC_SEQ_CST);
	if ((req & VCPU_REQ_HOOK) && hooks && hooks->request)
		r = hooks->request(vcpu, __atomic_load_n(&vm->hooks_opaque, __ATOMIC_SEQ_CST));
	if (r >= 0 && (req & VCPU_REQ_PLUGIN) && vcpu->plugin_request)
		r = vcpu->plugin_request(vcpu);
	if (r >= 0 && hooks && hooks->pre_run)
		r = hooks->pre_run(vcpu, __atomic_load_n(&vm->hooks_opaque, __ATOMIC_SEQ_CST));
	if (r < 0 && r != -ECANCELED) {
		vm_request_stop(vm, VIGILD_EXIT_SOFTWARE, "vCPU %u: request handling failed: %s", vcpu->id,
				strerror(-r));
		return false;
	}
	return !vm_stop_requested(vm) && r != -ECANCELED;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atomic_store(&vcpu->state, VCPU_RUNNING);
	while (vcpu_handle_requests(vcpu)) {
		r = ioctl(vcpu->fd, KVM_RUN, 0);
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->exit_reason = KVM_EXIT_INTR;
			} else {
				vm_request_stop(vcpu->vm, VIGILD_EXIT_SOFTWARE, "vCPU %u: KVM_RUN failed: %s",
						vcpu->id, strerror(errno));
				break;
			}
		}
		vcpu->nr_exits++;
		if (vcpu_exit_handle(vcpu) < 0)
			break;
	}
	atomic_store(&vcpu->state, VCPU_STOPPED);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	sigset_t set, old;
	int err;

	/* Threads start with the kick signal blocked and unblock it themselves,
	 * so a kick can never hit a thread that has no handler context yet. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	vcpu->thread_started = true;
	return 0;
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

int vcpu_call_reactor(struct vcpu *vcpu, struct vcpu_call *call,
		      mbox_handler_fn handler, int timeout_ms)
{
	int err;

	call->vcpu = vcpu;
	call->msg.handler = handler;
	call->ticket = waiter_arm(&vcpu->waiter);
	call->result = 0;
	atomic_store(&vcpu->state, VCPU_PARKED);
	err = mailbox_post(&vcpu->vm->mailbox, &call->msg);
	if (!err)
		err = waiter_wait(&vcpu->waiter, timeout_ms);
	atomic_store(&vcpu->state, VCPU_RUNNING);
	vcpu->nr_calls++;
	return err;
}

bool vcpu_call_complete(struct vcpu_call *call, int result)
{
	call->result = result;
	return waiter_complete(&call->vcpu->waiter, call->ticket, result);
}

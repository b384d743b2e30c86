/* libevent glue: mailbox eventfd, termination signals, loop exit on VM stop. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "mailbox.h"
#include "reactor.h"
#include "vm.h"

static void mailbox_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	(void)fd;
	(void)what;
	mailbox_drain(&vm->mailbox);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct reactor *r = arg;

	(void)what;
	if (!r->vm) {
		event_base_loopexit(r->base, NULL);
		return;
	}
	vm_request_stop(r->vm, VIGILD_EXIT_SIGNAL_BASE + (int)sig, "stopped by %s",
			strsignal((int)sig));
}

static void vm_stopped(struct vm *vm, void *opaque)
{
	struct reactor *r = opaque;

	(void)vm;
	event_base_loopexit(r->base, NULL);
}

int reactor_init(struct reactor *r)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	unsigned i;

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	if (!r->base)
		return -ENOMEM;
	for (i = 0; i < 3; i++) {
		r->sig_ev[i] = evsignal_new(r->base, sigs[i], signal_cb, r);
		if (!r->sig_ev[i] || evsignal_add(r->sig_ev[i], NULL) < 0) {
			reactor_fini(r);
			return -ENOMEM;
		}
	}
	/* A peer closing its socket must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int reactor_attach_vm(struct reactor *r, struct vm *vm)
{
	r->vm = vm;
	r->mailbox_ev = event_new(r->base, mailbox_fd(&vm->mailbox), EV_READ | EV_PERSIST,
				  mailbox_ready_cb, vm);
	if (!r->mailbox_ev || event_add(r->mailbox_ev, NULL) < 0)
		return -ENOMEM;
	return vm_on_stop(vm, vm_stopped, r);
}

int reactor_run(struct reactor *r)
{
	/* A stop may have been requested before the loop started. */
	if (r->vm && vm_stop_requested(r->vm))
		mailbox_drain(&r->vm->mailbox);
	if (r->vm && vm_stop_requested(r->vm))
		return 0;
	return event_base_dispatch(r->base) < 0 ? -EIO : 0;
}

void reactor_fini(struct reactor *r)
{
	unsigned i;

	if (r->mailbox_ev)
		event_free(r->mailbox_ev);
	for (i = 0; i < 3; i++)
		if (r->sig_ev[i])
			event_free(r->sig_ev[i]);
	if (r->base)
		event_base_free(r->base);
	memset(r, 0, sizeof(*r));
}

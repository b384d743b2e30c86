/*
 * The reactor: one explicit libevent event_base in the main thread. It
 * watches the VM's mailbox eventfd (running vCPU calls), SIGINT/SIGTERM
 * (orderly stop) and whatever sockets the subsystems add to r->base.
 */
#ifndef VIGIL_REACTOR_H
#define VIGIL_REACTOR_H

#include <event2/event.h>

struct vm;

struct reactor {
	struct event_base *base;
	struct event *mailbox_ev;
	struct event *sig_ev[3];
	struct vm *vm;
};

int reactor_init(struct reactor *r);
/* Watch @vm's mailbox and stop the loop when the VM stops. */
int reactor_attach_vm(struct reactor *r, struct vm *vm);
/* Run until the VM stops (or the loop is told to exit). */
int reactor_run(struct reactor *r);
void reactor_fini(struct reactor *r);

#endif

/*
 * vCPU <-> reactor hand-off under stress, as a plain program (no Criterion:
 * its fork arena cannot coexist with ThreadSanitizer). Exit 0 on success.
 * Runs in every build; tools/test.sh also runs it under TSan.
 *  1. 4 poster threads x 3000 round trips through one mailbox and their waiters;
 *  2. a 4-vCPU guest whose ucalls are all answered by the reactor;
 *  3. the same guest with answers that never come, stopped by a timer.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "vcpu.h"

#define POSTERS 4
#define ROUNDS 3000

struct poster {
	struct mailbox *mb;
	struct waiter w;
	struct mbox_msg msg;
	uint64_t ticket;
	unsigned answered;
};

static void answer_cb(struct mbox_msg *msg)
{
	struct poster *p = msg->opaque;

	waiter_complete(&p->w, p->ticket, 7);
}

static void *poster_thread(void *arg)
{
	struct poster *p = arg;
	unsigned i;

	for (i = 0; i < ROUNDS; i++) {
		p->ticket = waiter_arm(&p->w);
		if (mailbox_post(p->mb, &p->msg) < 0)
			break;
		if (waiter_wait(&p->w, 10000) == 7)
			p->answered++;
	}
	return NULL;
}

static int stress_mailbox(void)
{
	struct poster p[POSTERS];
	struct mailbox mb;
	pthread_t th[POSTERS];
	unsigned i, total = 0, handled = 0;

	if (mailbox_init(&mb) < 0)
		return -1;
	for (i = 0; i < POSTERS; i++) {
		p[i] = (struct poster){ .mb = &mb, .msg = { .handler = answer_cb, .opaque = &p[i] } };
		waiter_init(&p[i].w);
		p[i].w.spin_us = i % 2 ? 0 : 20;   /* both the sleeping and the polling path */
		pthread_create(&th[i], NULL, poster_thread, &p[i]);
	}
	while (handled < POSTERS * ROUNDS) {
		struct pollfd pfd = { mailbox_fd(&mb), POLLIN, 0 };

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		handled += mailbox_drain(&mb);
	}
	for (i = 0; i < POSTERS; i++) {
		pthread_join(th[i], NULL);
		total += p[i].answered;
		waiter_fini(&p[i].w);
	}
	mailbox_fini(&mb);
	printf("mailbox: %u of %u round trips answered\n", total, POSTERS * ROUNDS);
	return total == POSTERS * ROUNDS ? 0 : -1;
}

static void reactor_answers(struct mbox_msg *msg)
{
	vcpu_call_complete((struct vcpu_call *)msg, 0);
}

static void never_answers(struct mbox_msg *msg)
{
	(void)msg;
}

static void sync_via_reactor(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	mbox_handler_fn fn = (mbox_handler_fn)opaque;

	if (vcpu_call_reactor(vcpu, &vcpu->call, fn, -1) == 0)
		uc->ret = uc->args[0] * 2;
}

static int run_guest(mbox_handler_fn fn, int timeout_ms, int expect)
{
	struct tvm t;
	int status;

	if (tvm_boot(&t, core_guest("ucall"), 4, 16 << 20) < 0)
		return -1;
	t.ports.on_sync = sync_via_reactor;
	t.ports.on_sync_opaque = (void *)fn;
	status = tvm_run(&t, timeout_ms);
	printf("guest: status %d (%s), expected %d\n", status, t.vm->stop.reason, expect);
	tvm_free(&t);
	return status == expect ? 0 : -1;
}

int main(void)
{
	if (stress_mailbox() < 0)
		return 1;
	if (run_guest(reactor_answers, 60000, 0) < 0)
		return 1;
	if (run_guest(never_answers, 1500, -1) < 0)
		return 1;
	return 0;
}

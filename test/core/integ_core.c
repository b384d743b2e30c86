/* The VM core in-process: ucall round trips, the mailbox path, shutdown
 * while a vCPU waits on the reactor. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"
#include "vcpu.h"

static struct tvm t;

static void double_it(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	(void)vcpu;
	(void)opaque;
	uc->ret = uc->args[0] * 2;
}

Test(core, ucall_round_trips_from_cpl0_and_cpl3)
{
	int status;

	cr_assert_eq(tvm_boot(&t, core_guest("ucall"), 2, 16 << 20), 0);
	t.ports.on_sync = double_it;
	status = tvm_run(&t, 20000);
	cr_assert_eq(status, 0, "status %d: %s", status, t.vm->stop.reason);
	/* 3 SYNCs per vCPU, the third from user mode. */
	cr_assert_eq(atomic_load(&t.ports.nr_sync), 6);
	cr_assert(strstr(t.console_buf, "ucall guest ok on vCPU 0"), "console: %s", t.console_buf);
	cr_assert(strstr(t.console_buf, "ucall guest ok on vCPU 1"), "console: %s", t.console_buf);
	tvm_free(&t);
}

Test(core, wrong_ucall_answer_fails_the_guest)
{
	int status;

	/* Without the doubling hook the guest's own assertion must fire. */
	cr_assert_eq(tvm_boot(&t, core_guest("ucall"), 1, 16 << 20), 0);
	status = tvm_run(&t, 20000);
	cr_assert_eq(status, 1, "status %d: %s", status, t.vm->stop.reason);
	cr_assert(strstr(t.vm->stop.reason, "GUEST_SYNC(1)"), "reason: %s", t.vm->stop.reason);
	tvm_free(&t);
}

/* A SYNC whose reactor side never answers: only shutdown can free the vCPU. */
static void never_answer(struct mbox_msg *msg)
{
	(void)msg;
}

static void park_forever(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	int r;

	(void)uc;
	(void)opaque;
	r = vcpu_call_reactor(vcpu, &vcpu->call, never_answer, -1);
	uc->ret = (uint64_t)r;
}

Test(core, shutdown_cancels_a_vcpu_waiting_on_the_reactor)
{
	int status;

	cr_assert_eq(tvm_boot(&t, core_guest("ucall"), 2, 16 << 20), 0);
	t.ports.on_sync = park_forever;
	/* The test timeout stops the VM; vm_shutdown must not hang. */
	status = tvm_run(&t, 1500);
	cr_assert_eq(status, -1, "status %d: %s", status, t.vm->stop.reason);
	cr_assert_str_eq(t.vm->stop.reason, "test timeout");
	tvm_free(&t);
}

static void answer_later_cb(struct mbox_msg *msg)
{
	struct vcpu_call *call = (struct vcpu_call *)msg;

	cr_assert_eq(atomic_load(&call->vcpu->state), VCPU_PARKED);
	vcpu_call_complete(call, 0);
}

static void through_mailbox(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	(void)opaque;
	cr_assert_eq(vcpu_call_reactor(vcpu, &vcpu->call, answer_later_cb, 5000), 0);
	uc->ret = uc->args[0] * 2;
}

Test(core, reactor_answers_through_the_mailbox)
{
	int status;

	cr_assert_eq(tvm_boot(&t, core_guest("ucall"), 4, 16 << 20), 0);
	t.ports.on_sync = through_mailbox;
	status = tvm_run(&t, 30000);
	cr_assert_eq(status, 0, "status %d: %s", status, t.vm->stop.reason);
	cr_assert_eq(atomic_load(&t.ports.nr_sync), 12);
	cr_assert_eq(t.vm->mailbox.handled, t.vm->mailbox.posted);
	tvm_free(&t);
}

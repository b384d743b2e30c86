/* Introspection events and actions; the guest checks every outcome itself
 * and vigild's exit status says whether it was satisfied. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"

static struct kt t;

static void teardown(void)
{
	kt_free(&t);
}

TestSuite(kvmi_events, .fini = teardown, .timeout = 90);

static void reply(struct vigil_kvmi_ev *ev, unsigned action)
{
	int r = vigil_kvmi_reply_event(t.c, ev, action, 0, 0, NULL, 0);

	if (r) {
		kt_wait(&t, 1000);
		cr_assert_fail("reply: %s; vigild log:\n%s", strerror(-r), t.log);
	}
}

static void enable(unsigned vcpu, unsigned event)
{
	cr_assert_eq(vigil_kvmi_control_events(t.c, vcpu, VIGIL_KVMI_EVENTS_ENABLE,
					       VIGIL_KVMI_EVBIT(event), NULL), 0);
}

static void expect_exit(int status)
{
	int st = kt_wait(&t, 30000);

	cr_assert_eq(st, status, "vigild exit %d, expected %d; log:\n%s", st, status, t.log);
}

static void protect(uint64_t gpa, uint8_t access)
{
	struct vigil_kvmi_page_entry e = { .gpa = gpa, .access = access };

	cr_assert_eq(vigil_kvmi_set_page_access(t.c, &e, 1, NULL), 0);
}

Test(kvmi_events, msr_write_actions)
{
	struct vigil_kvmi_ev ev;
	unsigned retries = 0;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, 0x830, 1), -EPERM, "x2APIC cannot be filtered");
	kt_go(&t, KT_MSR_ACTIONS);
	for (;;) {
		if (vigil_kvmi_wait_event(t.c, 10000))
			break;
		cr_assert_eq(vigil_kvmi_pop_event(t.c, &ev), 0);
		cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_MSR);
		cr_assert_eq(ev.u.msr.msr, KT_MSR);
		if (ev.u.msr.new_value == KT_MSR_REPLACE_ME)
			cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_ALLOW,
							    VIGIL_KVMI_REPLY_VALUE,
							    KT_MSR_REPLACEMENT, NULL, 0), 0);
		else if (ev.u.msr.new_value == KT_MSR_SKIP_ME)
			reply(&ev, VIGIL_KVMI_ACTION_SKIP);
		else if (ev.u.msr.new_value == KT_MSR_RETRY_ME && !retries++)
			reply(&ev, VIGIL_KVMI_ACTION_RETRY);
		else
			reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
		if (ev.u.msr.new_value == KT_MSR_SKIP_ME)
			cr_assert_eq(ev.u.msr.old_value, KT_MSR_REPLACEMENT, "old value reported");
		if (ev.u.msr.new_value == KT_MSR_RETRY_ME && retries == 2)
			break;
	}
	cr_assert_eq(retries, 2, "RETRY re-executed the wrmsr");
	expect_exit(0);
}

Test(kvmi_events, crash_ends_the_vm_with_the_reason)
{
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	kt_go(&t, KT_MSR_ACTIONS);
	kt_event(&t, &ev, 10000);
	reply(&ev, VIGIL_KVMI_ACTION_CRASH);
	expect_exit(82);
	cr_assert(strstr(t.log, "CRASH"), "reason in the log:\n%s", t.log);
}

Test(kvmi_events, page_write_skip_allow_retry)
{
	struct vigil_kvmi_ev ev;
	uint8_t access;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_PF);
	protect(t.ctl.wpage, VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	cr_assert_eq(vigil_kvmi_get_page_access(t.c, t.ctl.wpage, &access), 0);
	cr_assert_eq(access, VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	kt_go(&t, KT_PAGE_WRITE);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_PF);
	cr_assert_eq(ev.u.pf.gpa, t.ctl.wpage);
	cr_assert_eq(ev.u.pf.access, VIGIL_KVMI_PAGE_W);
	cr_assert_eq(*(uint64_t *)ev.u.pf.data, KT_W_SKIP_ME);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(*(uint64_t *)ev.u.pf.data, KT_W_ALLOW_ME);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(*(uint64_t *)ev.u.pf.data, KT_W_RETRY_ME);
	protect(t.ctl.wpage, VIGIL_KVMI_PAGE_RWX);   /* lift, then retry */
	reply(&ev, VIGIL_KVMI_ACTION_RETRY);
	expect_exit(0);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 100) == 0, 0, "no event after the lift");
}

Test(kvmi_events, read_protect_hides_memory)
{
	struct vigil_kvmi_ev ev;
	uint64_t hidden = KT_HIDDEN;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_PF);
	protect(t.ctl.rpage, VIGIL_KVMI_PAGE_W | VIGIL_KVMI_PAGE_X);
	kt_go(&t, KT_PAGE_READ);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.u.pf.access, VIGIL_KVMI_PAGE_R);
	cr_assert_eq(ev.u.pf.gpa, t.ctl.rpage);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_SKIP, VIGIL_KVMI_REPLY_CTX,
					    0, &hidden, sizeof(hidden)), 0);
	kt_event(&t, &ev, 10000);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	expect_exit(0);
}

Test(kvmi_events, exec_protect_catches_a_call)
{
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_PF);
	protect(t.ctl.exec_page, VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_W);
	kt_go(&t, KT_EXEC);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.u.pf.access, VIGIL_KVMI_PAGE_X);
	cr_assert_eq(ev.u.pf.gpa, t.ctl.exec_page);
	cr_assert_eq(ev.common.regs.rip, t.ctl.exec_page);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);          /* runs once, page closes again */
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.u.pf.access, VIGIL_KVMI_PAGE_X, "protection back after ALLOW");
	protect(t.ctl.exec_page, VIGIL_KVMI_PAGE_RWX);
	reply(&ev, VIGIL_KVMI_ACTION_RETRY);
	expect_exit(0);
}

Test(kvmi_events, cr_writes_skip_allow_and_value)
{
	struct vigil_kvmi_ev ev;
	uint64_t cr4;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_CR);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 0, 4, 1), 0);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 0, 0, 1), 0);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 0, 3, 1), 0);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 0, 2, 1), -EINVAL, "CR2 cannot be watched");
	kt_go(&t, KT_CR4);
	kt_event(&t, &ev, 20000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_CR);
	cr_assert_eq(ev.u.cr.cr, 4);
	cr4 = ev.u.cr.old_value;
	cr_assert_eq(ev.u.cr.new_value, cr4 | KT_CR4_BIT);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	kt_event(&t, &ev, 20000);
	cr_assert_eq(ev.u.cr.old_value, cr4, "SKIP left CR4 unchanged");
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 20000);
	cr_assert_eq(ev.u.cr.new_value, cr4);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_ALLOW, VIGIL_KVMI_REPLY_VALUE,
					    cr4 | KT_CR4_BIT, NULL, 0), 0);
	kt_event(&t, &ev, 20000);
	cr_assert_eq(ev.u.cr.cr, 0);
	cr_assert_eq(ev.u.cr.new_value, ev.u.cr.old_value & ~KT_CR0_WP);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	kt_event(&t, &ev, 20000);
	cr_assert_eq(ev.u.cr.cr, 3);
	cr_assert_eq(ev.u.cr.new_value, ev.u.cr.old_value);
	cr_assert_eq(ev.u.cr.old_value, ev.common.sregs.cr3);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 0, 4, 0), 0);   /* stepping stops */
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	expect_exit(0);
}

Test(kvmi_events, hypercall_and_set_registers)
{
	struct vigil_kvmi_ev ev;
	struct kvm_regs regs;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_HYPERCALL);
	kt_go(&t, KT_HYPERCALL);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_HYPERCALL);
	cr_assert_eq(ev.u.hc.value, KT_HC_VALUE);
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 0, &regs, NULL, NULL, 0, NULL, NULL), 0);
	regs.rbx = KT_HC_RBX;
	cr_assert_eq(vigil_kvmi_set_registers(t.c, 0, &regs), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	expect_exit(0);
}

Test(kvmi_events, inject_page_fault_reports_trap)
{
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_HYPERCALL);
	enable(0, VIGIL_KVMI_EVENT_TRAP);
	kt_go(&t, KT_INJECT);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.u.hc.value, KT_HC_INJECT);
	cr_assert_eq(vigil_kvmi_inject_exception(t.c, 0, 14, 0, 0, 0), -EINVAL, "#PF needs a code");
	cr_assert_eq(vigil_kvmi_inject_exception(t.c, 0, 14, 1, KT_PF_ERR, KT_PF_CR2), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_TRAP);
	cr_assert_eq(ev.u.trap.vector, 14);
	cr_assert_eq(ev.u.trap.cr2, KT_PF_CR2);
	cr_assert_eq(ev.u.trap.delivered, 1);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	expect_exit(0);
}

Test(kvmi_events, two_vcpus_raise_events_at_once)
{
	struct vigil_kvmi_ev ev;
	unsigned n[2] = { 0, 0 }, i;

	kt_start(&t, 2, 0);
	kt_ready(&t);
	enable(VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	kt_go(&t, KT_MULTI);
	for (i = 0; i < 2 * KT_MULTI_N; i++) {
		kt_event(&t, &ev, 10000);
		cr_assert_lt(ev.common.vcpu, 2);
		cr_assert_eq(ev.u.msr.new_value, KT_MULTI_BASE + ev.common.vcpu * 1000 + n[ev.common.vcpu]);
		n[ev.common.vcpu]++;
		reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	}
	expect_exit(0);
}

Test(kvmi_events, detach_mid_event_leaves_guest_running_unrestricted)
{
	struct vigil_kvmi_ev ev;
	uint64_t c0, c1;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	protect(t.ctl.wpage, VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	kt_go(&t, KT_BUSY);
	kt_event(&t, &ev, 10000);
	vigil_kvmi_close(&t.c);                         /* never answered */
	cr_assert_eq(kt_connect(&t, &t.c), 0);          /* reattach */
	c0 = kt_read64(&t, KT_CTL + offsetof(struct kt_ctl, counter));
	usleep(200000);
	c1 = kt_read64(&t, KT_CTL + offsetof(struct kt_ctl, counter));
	cr_assert_gt(c1, c0, "the guest runs on after the detach");
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 200), -ETIMEDOUT, "no intercept left");
	{
		uint8_t access;

		cr_assert_eq(vigil_kvmi_get_page_access(t.c, t.ctl.wpage, &access), 0);
		cr_assert_eq(access, VIGIL_KVMI_PAGE_RWX);
	}
	kt_set_stop(&t);
	expect_exit(0);
}

Test(kvmi_events, unanswered_event_times_out_with_default_action)
{
	struct vigil_kvmi_ev first, ev;
	int last = 0;

	kt_start(&t, 1, 300);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	kt_go(&t, KT_BUSY);
	kt_event(&t, &first, 10000);
	/* Not answered: after 300 ms the vCPU goes on (ALLOW) to the next wrmsr. */
	kt_event(&t, &ev, 10000);
	cr_assert_neq(ev.seq, first.seq);
	/* Too late for the first one: the server says nobody waits for it. */
	reply(&first, VIGIL_KVMI_ACTION_ALLOW);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 0), 0);
	cr_assert_eq(vigil_kvmi_reply_errors(t.c, &last), 1);
	cr_assert_eq(last, -ENOENT);
	kt_set_stop(&t);
	expect_exit(0);
	cr_assert(strstr(t.log, "no answer"), "timeout warning in the log:\n%s", t.log);
}

Test(kvmi_events, xsetbv_and_lidt_skip_allow)
{
	struct vigil_kvmi_ev ev;
	uint64_t xcr0, first;
	const char *platform = getenv("VIGIL_KVM_PLATFORM");

	/* Known failure there, not hidden: docs/testing.md, "Known failures". */
	if (platform && !strcmp(platform, "nested-kvm_amd"))
		cr_skip_test("on nested kvm_amd (QEMU TCG, no NRIP save) an ALLOWed XSETBV does "
			     "not reach XCR0 as seen by the next event; cause not yet found");
	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_XSETBV);
	enable(0, VIGIL_KVMI_EVENT_DESCRIPTOR);
	kt_go(&t, KT_XSETBV_LIDT);
	kt_event(&t, &ev, 30000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_XSETBV);
	cr_assert_eq(ev.u.xsetbv.xcr, 0);
	cr_assert_eq(ev.u.xsetbv.new_value, 3);
	first = ev.u.xsetbv.old_value;
	cr_assert_eq(vigil_kvmi_get_xcr0(t.c, 0, &xcr0), 0);
	cr_assert_eq(xcr0, first);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	kt_event(&t, &ev, 30000);
	cr_assert_eq(ev.u.xsetbv.old_value, first, "SKIP left XCR0 unchanged");
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 30000);
	cr_assert_eq(ev.u.xsetbv.old_value, 3, "ALLOW wrote XCR0");
	cr_assert_eq(vigil_kvmi_get_xcr0(t.c, 0, &xcr0), 0);
	cr_assert_eq(xcr0, 3);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 30000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_DESCRIPTOR);
	cr_assert_eq(ev.u.desc.descriptor, VIGIL_KVMI_DESC_IDTR);
	cr_assert_eq(ev.u.desc.new_base, ev.common.sregs.idt.base, "LIDT reloads the same IDT");
	cr_assert_eq(ev.u.desc.new_limit, ev.common.sregs.idt.limit);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	kt_event(&t, &ev, 30000);
	cr_assert_eq(ev.u.desc.descriptor, VIGIL_KVMI_DESC_IDTR);
	cr_assert_eq(vigil_kvmi_control_events(t.c, 0, VIGIL_KVMI_EVENTS_SET, 0, NULL), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	expect_exit(0);
}

Test(kvmi_events, xsave_while_paused)
{
	struct vigil_kvmi_ev ev;
	struct kvm_xsave *xs = malloc(sizeof(*xs));

	kt_start(&t, 1, 0);
	kt_ready(&t);
	kt_go(&t, KT_IDLE);
	cr_assert_eq(vigil_kvmi_get_xsave(t.c, 0, xs), -EAGAIN);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0), 0);
	kt_event(&t, &ev, 5000);
	cr_assert_eq(vigil_kvmi_get_xsave(t.c, 0, xs), 0);
	/* Legacy area: FCW defaults to 0x37f. */
	cr_assert_eq(xs->region[0] & 0xffff, 0x37f);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	free(xs);
}

Test(kvmi_events, hardware_breakpoint_and_singlestep)
{
	struct vigil_kvmi_ev ev;
	unsigned steps = 0;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_BREAKPOINT);
	enable(0, VIGIL_KVMI_EVENT_HYPERCALL);
	enable(0, VIGIL_KVMI_EVENT_SINGLESTEP);
	cr_assert_eq(vigil_kvmi_set_breakpoint(t.c, 0, 4, 1, VIGIL_KVMI_BP_EXEC, 1, 0), -EINVAL);
	cr_assert_eq(vigil_kvmi_set_breakpoint(t.c, 0, 1, 1, VIGIL_KVMI_BP_EXEC, 1, t.ctl.bp_target),
		     0);
	kt_go(&t, KT_BP_STEP);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_BREAKPOINT);
	cr_assert_eq(ev.u.bp.gva, t.ctl.bp_target);
	cr_assert_eq(ev.u.bp.index, 1);
	cr_assert_eq(ev.common.regs.rip, t.ctl.bp_target);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_BREAKPOINT, "the breakpoint stays armed");
	cr_assert_eq(vigil_kvmi_set_breakpoint(t.c, 0, 1, 0, VIGIL_KVMI_BP_EXEC, 1, 0), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_HYPERCALL);
	cr_assert_eq(ev.u.hc.value, KT_HC_STEP);
	cr_assert_eq(vigil_kvmi_control_singlestep(t.c, 0, 1), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	while (steps < 5) {
		kt_event(&t, &ev, 10000);
		cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_SINGLESTEP);
		steps++;
		if (steps == 5)
			cr_assert_eq(vigil_kvmi_control_singlestep(t.c, 0, 0), 0);
		reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	}
	expect_exit(0);
}

Test(kvmi_events, malformed_event_reply_keeps_the_vcpu_waiting)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_event_reply r;
	} m;
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	kt_go(&t, KT_IDLE);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0), 0);
	kt_event(&t, &ev, 5000);
	memset(&m, 0, sizeof(m));
	m.h.msg_id = VIGIL_KVMI_EVENT_REPLY;
	m.h.size = sizeof(m.r);
	m.h.seq = ev.seq;
	m.r.event = ev.common.event;
	m.r.padding2 = 1;                                /* non-zero padding */
	cr_assert_eq(vigil_kvmi_send_raw(t.c, &m, sizeof(m), ev.seq), -EINVAL);
	m.r.padding2 = 0;
	m.r.event = VIGIL_KVMI_EVENT_MSR;                /* wrong kind */
	cr_assert_eq(vigil_kvmi_send_raw(t.c, &m, sizeof(m), ev.seq), -EINVAL);
	m.r.event = ev.common.event;
	m.r.action = 9;                                  /* no such action */
	cr_assert_eq(vigil_kvmi_send_raw(t.c, &m, sizeof(m), ev.seq), -EINVAL);
	/* Still paused: registers are readable. */
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 0, NULL, NULL, NULL, 0, NULL, NULL), 0);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	cr_assert_eq(vigil_kvmi_reply_errors(t.c, NULL), 0, "the valid reply was accepted");
}

Test(kvmi_events, server_shutdown_tells_the_tool)
{
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	kt_go(&t, KT_IDLE);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0), 0);
	kt_event(&t, &ev, 5000);
	/* vigild stops while the vCPU waits for us: the tool hears NOTIFY_UNHOOK. */
	kill(t.pid, SIGTERM);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 10000), -ESHUTDOWN);
	cr_assert_eq(kt_wait(&t, 10000), 128 + SIGTERM);
}

Test(kvmi_events, unhook_command_removes_intercepts)
{
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_MSR);
	cr_assert_eq(vigil_kvmi_control_msr(t.c, KT_MSR, 1), 0);
	kt_go(&t, KT_BUSY);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(vigil_kvmi_unhook(t.c), 0);           /* the vCPU is released with ALLOW */
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 5000), -ESHUTDOWN);
	vigil_kvmi_close(&t.c);
	cr_assert_eq(kt_connect(&t, &t.c), 0);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 300), -ETIMEDOUT, "no MSR intercept left");
	kt_set_stop(&t);
	expect_exit(0);
}

Test(kvmi_events, int3_breakpoints_need_sw_bp)
{
	struct vigil_kvmi_version_reply v;
	struct vigil_kvmi_ev ev;

	kt_start(&t, 1, 0);
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0);
	if (!(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SW_BREAKPOINT)))
		cr_skip_test("int3 interception needs KVM_GUESTDBG_USE_SW_BP, which this host's KVM "
			     "does not honour (probed at vigild start)");
	kt_ready(&t);
	enable(0, VIGIL_KVMI_EVENT_SW_BREAKPOINT);
	kt_go(&t, KT_INT3);
	kt_event(&t, &ev, 10000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_SW_BREAKPOINT);
	reply(&ev, VIGIL_KVMI_ACTION_ALLOW);
	kt_event(&t, &ev, 10000);
	reply(&ev, VIGIL_KVMI_ACTION_SKIP);
	expect_exit(0);
}

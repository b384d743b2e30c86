/*
 * Device DMA as introspection events: a real vigild process running the test
 * guest with the vu-dma device server attached (trace-dma=on), the guest
 * driving copies, the test as the tool (libvigil_kvmi).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma_dev.h"
#include "kt.h"

#define CTL_OFF(f) (KT_CTL + offsetof(struct kt_ctl, f))
#define COPY_LEN 256u

static struct kt t;
static pid_t srv_pid;
static char srv_path[108];
static uint8_t pattern[COPY_LEN];

static void dev_start(void)
{
	char arg[140];

	snprintf(srv_path, sizeof(srv_path), "/tmp/kt-dma-%d.sock", getpid());
	snprintf(arg, sizeof(arg), "--socket-path=%s", srv_path);
	unlink(srv_path);
	srv_pid = fork();
	cr_assert_geq(srv_pid, 0);
	if (srv_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(VU_DMA_SERVER, VU_DMA_SERVER, arg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && access(srv_path, F_OK); i++)
		usleep(5000);
	cr_assert_eq(access(srv_path, F_OK), 0, "vu-dma did not start");
}

static void teardown(void)
{
	kt_free(&t);
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
		srv_pid = 0;
	}
	unlink(srv_path);
}

TestSuite(kvmi_dma, .fini = teardown, .timeout = 60);

/* vigild with vu-dma as device 0 ("trace-dma=on" plus @opts), the tool
 * attached, the guest waiting for copy requests. */
static void boot(int answer_timeout_ms, const char *opts)
{
	char spec[256];
	const char *extra[] = { "--device", spec, NULL };
	int r;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	dev_start();
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,trace-dma=on%s%s", srv_path,
		 opts ? "," : "", opts ? opts : "");
	kt_spawn_args(&t, 1, answer_timeout_ms, "16M", extra);
	r = kt_connect(&t, &t.c);
	if (r) {
		kt_stop(&t);
		cr_assert_fail("cannot attach: %s\nvigild log:\n%s", strerror(-r), t.log);
	}
	kt_ready(&t);
	kt_go(&t, KT_DMA);
	for (unsigned i = 0; i < COPY_LEN; i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
}

static void put(uint64_t gpa, uint64_t v)
{
	cr_assert_eq(vigil_kvmi_write_physical(t.c, gpa, &v, sizeof(v), 0, NULL), 0);
}

static void enable_dma(void)
{
	uint64_t mask = 0;

	cr_assert_eq(vigil_kvmi_control_events(t.c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_ENABLE,
					       VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), &mask), 0);
	cr_assert(mask & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA));
}

static void protect_dst(uint8_t access)
{
	struct vigil_kvmi_page_entry e = { .gpa = t.ctl.dma_dst, .access = access };

	cr_assert_eq(vigil_kvmi_set_page_access(t.c, &e, 1, NULL), 0);
}

/* Ask the guest for one copy src -> dst; returns the request number. */
static uint64_t copy_start(void)
{
	uint64_t req = kt_read64(&t, CTL_OFF(dma_req)) + 1;

	put(CTL_OFF(dma_len), COPY_LEN);
	put(CTL_OFF(dma_req), req);
	return req;
}

/* Wait for copy @req to finish; the device's STATUS. */
static uint32_t copy_wait(uint64_t req)
{
	for (int i = 0; i < 4000; i++) {
		if (kt_read64(&t, CTL_OFF(dma_done)) >= req)
			return (uint32_t)kt_read64(&t, CTL_OFF(dma_status));
		usleep(5000);
	}
	kt_drain_log(&t);
	cr_assert_fail("copy %llu never finished\nvigild log:\n%s", (unsigned long long)req, t.log);
	return 0;
}

static void expect_dma(const struct vigil_kvmi_ev *ev, unsigned dir, uint64_t gpa, bool denied)
{
	cr_assert_eq(ev->common.event, VIGIL_KVMI_EVENT_DMA);
	cr_assert_eq(ev->common.vcpu, VIGIL_KVMI_NO_VCPU);
	cr_assert_eq(ev->common.regs.rip, 0, "no vCPU: no registers");
	cr_assert_eq(ev->u.dma.device, 0);
	cr_assert_eq(ev->u.dma.direction, dir);
	cr_assert_eq(ev->u.dma.gpa, gpa);
	cr_assert_eq(ev->u.dma.len, COPY_LEN);
	cr_assert_eq(!!(ev->u.dma.flags & VIGIL_KVMI_DMA_DENIED), denied);
	cr_assert_eq(ev->u.dma.denied_gpa, denied ? (gpa & ~0xfffull) : 0);
	cr_assert_eq(vigil_kvmi_event_needs_reply(ev), denied);
}

/* The read of the source (allowed: a notification), then the write. */
static void expect_read_then_write(struct vigil_kvmi_ev *wr, bool denied)
{
	struct vigil_kvmi_ev ev;

	kt_event(&t, &ev, 10000);
	expect_dma(&ev, VIGIL_KVMI_DMA_READ, t.ctl.dma_src, false);
	kt_event(&t, wr, 10000);
	expect_dma(wr, VIGIL_KVMI_DMA_WRITE, t.ctl.dma_dst, denied);
}

static bool dst_holds_copy(void)
{
	uint8_t buf[COPY_LEN];

	cr_assert_eq(vigil_kvmi_read_physical(t.c, t.ctl.dma_dst, buf, sizeof(buf), NULL), 0);
	return !memcmp(buf, pattern, sizeof(buf));
}

static bool dst_untouched(void)
{
	uint8_t buf[COPY_LEN], zero[COPY_LEN] = { 0 };

	cr_assert_eq(vigil_kvmi_read_physical(t.c, t.ctl.dma_dst, buf, sizeof(buf), NULL), 0);
	return !memcmp(buf, zero, sizeof(buf));
}

Test(kvmi_dma, event_is_vm_scope_and_advertised)
{
	struct vigil_kvmi_version_reply v;
	uint64_t mask = 0;

	boot(0, NULL);
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0);
	cr_assert(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA));
	cr_assert_eq(vigil_kvmi_control_events(t.c, 0, VIGIL_KVMI_EVENTS_ENABLE,
					       VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), NULL),
		     -EINVAL, "DMA is not a vCPU's event");
	cr_assert_eq(vigil_kvmi_control_events(t.c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_SET,
					       VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), &mask), 0);
	cr_assert_eq(mask, VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA));
	cr_assert_eq(vigil_kvmi_control_events(t.c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_DISABLE,
					       VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), &mask), 0);
	cr_assert_eq(mask, 0);
}

Test(kvmi_dma, no_event_without_a_traced_device)
{
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	kt_start(&t, 1, 0);
	cr_assert_eq(vigil_kvmi_control_events(t.c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_ENABLE,
					       VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), NULL),
		     -ENOSYS);
}

Test(kvmi_dma, reads_and_writes_are_reported_with_device_and_slot)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(0, NULL);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, false);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
	cr_assert_eq(wr.u.dma.pci_slot, kt_read64(&t, CTL_OFF(dma_slot)),
		     "the PCI slot the guest found the device in");
	cr_assert(dst_holds_copy());
}

Test(kvmi_dma, tool_allow_lets_a_denied_write_land)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
	cr_assert(dst_holds_copy());
}

Test(kvmi_dma, tool_skip_fails_the_write_and_leaves_memory)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_SKIP, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_ERROR | EACCES);
	cr_assert(dst_untouched());
}

/* RETRY re-checks the page policy: still denied here, so the write fails. */
Test(kvmi_dma, retry_rechecks_the_policy)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_RETRY, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_ERROR | EACCES);
	cr_assert(dst_untouched());
}

/* The tool lifts the protection while the device waits, then RETRY: the
 * write lands. The vCPU that rang the doorbell is inside the device call all
 * along; SET_PAGE_ACCESS must not wait for it to park. */
Test(kvmi_dma, lifting_the_protection_then_retry_lets_the_write_land)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_W | VIGIL_KVMI_PAGE_X);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_RETRY, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
	cr_assert(dst_holds_copy());
}

Test(kvmi_dma, without_the_event_a_denied_write_fails_at_once)
{
	uint64_t req;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	req = copy_start();
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_ERROR | EACCES);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 0), -ETIMEDOUT, "no event was sent");
	cr_assert(dst_untouched());
}

Test(kvmi_dma, no_answer_times_out_to_deny_and_the_device_goes_on)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;

	boot(300, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);   /* and never answered */
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_ERROR | EACCES);
	cr_assert(dst_untouched());
	kt_drain_log(&t);
	cr_assert(strstr(t.log, "no answer to a DMA event within 300 ms"), "log:\n%s", t.log);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	/* Neither the device nor the guest is stuck: the next copy is asked and lands. */
	req = copy_start();
	expect_read_then_write(&wr, true);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
	cr_assert(dst_holds_copy());
	{
		int last = 0;

		cr_assert_eq(vigil_kvmi_reply_errors(t.c, &last), 1, "the late answer");
		cr_assert_eq(last, -ENOENT);
	}
}

Test(kvmi_dma, detach_releases_a_pending_dma_with_deny)
{
	struct vigil_kvmi_ev wr;
	uint64_t req;
	int r;

	/* Long waits: only the detach can end this one quickly. */
	boot(30000, "timeout=60000");
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	vigil_kvmi_close(&t.c);
	r = kt_connect(&t, &t.c);
	cr_assert_eq(r, 0, "reattach: %s", strerror(-r));
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_ERROR | EACCES);
	cr_assert(dst_untouched());
	kt_drain_log(&t);
	cr_assert_null(strstr(t.log, "no answer to a DMA event"), "released, not timed out:\n%s",
		       t.log);
	/* The new tool has not enabled the event: nothing restricted, it lands. */
	req = copy_start();
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
}

Test(kvmi_dma, malformed_answers_are_refused_and_the_device_keeps_waiting)
{
	struct vigil_kvmi_version_reply v;
	struct vigil_kvmi_ev wr, wrong;
	uint64_t req;
	int last = 0;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	req = copy_start();
	expect_read_then_write(&wr, true);
	/* A value to write instead makes no sense for a DMA. */
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_ALLOW, VIGIL_KVMI_REPLY_VALUE,
					    1, NULL, 0), 0);
	/* The event id must echo DMA. */
	wrong = wr;
	wrong.common.event = VIGIL_KVMI_EVENT_PF;
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wrong, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0, "commands still work");
	cr_assert_eq(vigil_kvmi_reply_errors(t.c, &last), 2);
	cr_assert_eq(last, -EINVAL);
	cr_assert_eq(kt_read64(&t, CTL_OFF(dma_done)), req - 1, "the device still waits");
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	cr_assert_eq(copy_wait(req), DMA_DEV_STATUS_DONE);
	cr_assert(dst_holds_copy());
}

Test(kvmi_dma, crash_answer_stops_the_vm)
{
	struct vigil_kvmi_ev wr;

	boot(0, NULL);
	protect_dst(VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	enable_dma();
	copy_start();
	expect_read_then_write(&wr, true);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &wr, VIGIL_KVMI_ACTION_CRASH, 0, 0, NULL, 0), 0);
	cr_assert_eq(kt_wait(&t, 20000), 82, "log:\n%s", t.log);
	cr_assert(strstr(t.log, "answered CRASH to a DMA event of device 0"), "log:\n%s", t.log);
}

/*
 * vfio-user devices seen by a real guest: an in-process VM (test/core
 * harness) with vu-dma attached as a PCI function, and vigild as a process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dma_dev.h"
#include "harness.h"
#include "memslot.h"
#include "vfio_dev.h"
#include "vfio_guest.h"
#include "vu_test_util.h"

static struct tvm t;
static struct vu_srv srv;
static struct vfio_set *set;

struct run_ctx {
	unsigned scenario;
	uint32_t expected_status;
	uint64_t bar0;
};
static struct run_ctx ctx;

static void on_sync(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	struct run_ctx *c = opaque;

	(void)vcpu;
	switch (uc->args[0]) {
	case SYNC_SCENARIO:
		uc->ret = c->scenario;
		break;
	case SYNC_FOUND:
		c->bar0 = uc->args[1];
		break;
	case SYNC_PROTECT:
		/* The only vCPU is in this exit: nothing else changes memslots. */
		uc->ret = (uint64_t)memslots_set_flags(&t.vm->slots, uc->args[1], 8192,
						       MEMSLOT_READONLY);
		break;
	case SYNC_EXPECTED_STATUS:
		uc->ret = c->expected_status;
		break;
	}
}

static void teardown(void)
{
	vfio_set_free(&set);
	if (t.vm)
		tvm_free(&t);
	vu_srv_stop(&srv);
}

TestSuite(vfio_guest, .fini = teardown, .timeout = 60);

/* Boot the guest with vu-dma (@mode) attached as "@opts". */
static void boot(const char *mode, const char *opts, unsigned scenario)
{
	char spec[256], why[256] = "";
	const char *args[1] = { spec };

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	cr_assert_eq(vu_srv_start(&srv, mode, NULL), 0);
	cr_assert_eq(vu_srv_wait_ready(&srv), 0);
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s%s%s", srv.path, opts ? "," : "",
		 opts ? opts : "");
	cr_assert_eq(tvm_boot(&t, VFIO_GUEST_DMA, 1, 32 << 20), 0);
	cr_assert_eq(vfio_set_new(&set, t.vm, args, 1, why, sizeof(why)), 0, "%s", why);
	ctx = (struct run_ctx){ .scenario = scenario };
	t.ports.on_sync = on_sync;
	t.ports.on_sync_opaque = &ctx;
}

static struct vfio_dev_stats run_ok(void)
{
	struct vfio_dev_stats st;
	int status = tvm_run(&t, 40000);

	cr_assert_eq(status, 0, "status %d: %s\nconsole: %s", status, t.vm->stop.reason,
		     t.console_buf);
	vfio_dev_stats(vfio_set_dev(set, 0), &st);
	return st;
}

Test(vfio_guest, enumerates_sizes_bars_and_traps_or_maps_regions)
{
	struct vfio_dev_stats st;

	boot(NULL, NULL, SCENARIO_REGIONS);
	st = run_ok();
	cr_assert_eq(ctx.bar0, vfio_dev_bar(vfio_set_dev(set, 0), 0));
	/* ID, resets, scratch w+r, BAR2 trapped page w+r; the mapped page never exits. */
	cr_assert_eq(st.region_calls, 6);
	cr_assert_not(vfio_dev_failed(vfio_set_dev(set, 0)));
}

/* A server whose mmap-able BAR pages are not backed by its file: vigild
 * traps the BAR instead of giving the guest pages KVM cannot fault in. */
Test(vfio_guest, bar_file_shorter_than_the_region_is_trapped_not_mapped)
{
	uint64_t bar2, hva;
	uint32_t flags;

	boot("short-bar2", NULL, SCENARIO_REGIONS);
	bar2 = vfio_dev_bar(vfio_set_dev(set, 0), 2);
	cr_assert_neq(bar2, 0);
	cr_assert_lt(memslots_lookup(&t.vm->slots, bar2 + 4096, &flags, &hva), 0,
		     "BAR2's unbacked page was given to the guest");
	cr_assert_not(vfio_dev_failed(vfio_set_dev(set, 0)));
}

Test(vfio_guest, dma_by_mmap_and_interrupt_delivery)
{
	struct vfio_dev_stats st;

	boot(NULL, "dma=fd", SCENARIO_DMA);
	st = run_ok();
	cr_assert_eq(st.dma_reads + st.dma_writes, 0, "the server used the RAM mapping");
}

Test(vfio_guest, dma_by_message)
{
	struct vfio_dev_stats st;

	boot(NULL, "dma=msg", SCENARIO_DMA);
	st = run_ok();
	cr_assert_eq(st.dma_reads, 1);
	cr_assert_eq(st.dma_writes, 1);
}

Test(vfio_guest, dma_write_to_protected_page_is_denied)
{
	struct vfio_dev_stats st;

	boot(NULL, "trace-dma=on", SCENARIO_DMA_PROTECTED);
	ctx.expected_status = DMA_DEV_STATUS_ERROR | EACCES;
	st = run_ok();
	cr_assert_eq(st.dma_denied, 1);
	cr_assert_eq(st.dma_reads, 1, "reading the unprotected source is fine");
	cr_assert_eq(st.dma_writes, 0);
}

struct dma_seen {
	unsigned n;
	uint64_t gpa[4];
	int dir[4];
};
static struct dma_seen seen;

static int tool_allows(void *opaque, uint32_t dev_id, uint64_t gpa, uint64_t len, int dir)
{
	struct dma_seen *s = opaque;

	(void)len;
	cr_assert_eq(dev_id, 0);
	if (s->n < 4) {
		s->gpa[s->n] = gpa;
		s->dir[s->n] = dir;
	}
	s->n++;
	return 0;
}

Test(vfio_guest, dma_hook_sees_every_access_and_can_allow)
{
	struct vfio_dev_stats st;

	boot(NULL, "trace-dma=on", SCENARIO_DMA_PROTECTED);
	memset(&seen, 0, sizeof(seen));
	vfio_set_dma_check(set, tool_allows, &seen);
	ctx.expected_status = DMA_DEV_STATUS_DONE;
	st = run_ok();
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.dir[0], VFIO_DMA_TO_DEVICE);
	cr_assert_eq(seen.dir[1], VFIO_DMA_FROM_DEVICE);
	cr_assert_eq(seen.gpa[1] & 0xfff, 0, "destination buffer is page aligned");
	cr_assert_eq(st.dma_writes, 1, "the tool allowed the write to the protected page");
}

static void expect_failed_device(const char *mode, const char *opts)
{
	boot(mode, opts, SCENARIO_FAIL);
	run_ok();
	cr_assert(vfio_dev_failed(vfio_set_dev(set, 0)));
	cr_assert(strstr(t.console_buf, "scenario 4 ok"), "console: %s", t.console_buf);
}

Test(vfio_guest, server_crash_mid_run_leaves_guest_running)
{
	expect_failed_device("crash", NULL);
}

Test(vfio_guest, malformed_reply_leaves_guest_running)
{
	expect_failed_device("malformed", NULL);
}

Test(vfio_guest, hung_server_times_out_and_guest_goes_on)
{
	expect_failed_device("hang", "timeout=300");
}

/* ---- vigild as a process ---- */

Test(vfio_guest, vigild_drives_a_device_end_to_end)
{
	char spec[256];
	static struct proc_result res_buf;
	struct proc_result *res = &res_buf;
	char *argv[] = { (char *)VIGILD_BIN, "run", "--guest", (char *)VFIO_GUEST_DMA,
			 "--mem", "32M", "--device", spec, NULL };

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	cr_assert_eq(vu_srv_start(&srv, NULL, NULL), 0);
	cr_assert_eq(vu_srv_wait_ready(&srv), 0);
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s", srv.path);
	cr_assert_eq(proc_run(argv, 40000, res), 0);
	cr_assert_eq(res->status, 0, "stderr: %s", res->err);
	cr_assert(strstr(res->out, "scenario 2 ok"), "stdout: %s", res->out);
}

Test(vfio_guest, vigild_refuses_unreachable_socket_and_bad_spec)
{
	static struct proc_result res_buf;
	struct proc_result *res = &res_buf;
	char *a1[] = { (char *)VIGILD_BIN, "run", "--guest", (char *)VFIO_GUEST_DMA, "--device",
		       "vfio-user,socket=/nonexistent/vu.sock", NULL };
	char *a2[] = { (char *)VIGILD_BIN, "run", "--guest", (char *)VFIO_GUEST_DMA, "--device",
		       "vfio-user,socket=/tmp/x,trace-dma=maybe", NULL };

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	cr_assert_eq(proc_run(a1, 20000, res), 0);
	cr_assert_eq(res->status, 69, "stderr: %s", res->err);
	cr_assert(strstr(res->err, "cannot connect"), "stderr: %s", res->err);
	cr_assert_eq(proc_run(a2, 20000, res), 0);
	cr_assert_eq(res->status, 64, "stderr: %s", res->err);
	cr_assert(strstr(res->err, "trace-dma"), "stderr: %s", res->err);
}

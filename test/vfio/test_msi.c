/*
 * MSI and MSI-X of vfio-user devices seen by a real guest: an in-process VM
 * (test/core harness), vu-dma --irq=msi|msix attached as a PCI function, and
 * the guest in guests/msi_guest.c driving it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dma_dev.h"
#include "harness.h"
#include "irq_routing.h"
#include "memslot.h"
#include "vfio_dev.h"
#include "vfio_guest.h"
#include "vu_test_util.h"

static struct tvm t;
static struct vu_srv srv;
static struct vfio_set *set;
static unsigned scenario;

static void on_sync(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	(void)vcpu;
	(void)opaque;
	if (uc->args[0] == SYNC_SCENARIO)
		uc->ret = scenario;
}

static void teardown(void)
{
	vfio_set_free(&set);
	if (t.vm)
		tvm_free(&t);
	vu_srv_stop(&srv);
}

TestSuite(vfio_msi, .fini = teardown, .timeout = 60);

/* Boot the MSI guest with vu-dma --irq=@irq; @caps replaces its VERSION
 * capabilities; @no_routing: as on a KVM without MSI routing. */
static void boot(const char *irq, const char *caps, unsigned which, bool no_routing)
{
	char spec[256], why[256] = "";
	const char *args[1] = { spec };

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	cr_assert_eq(vu_srv_start_irq(&srv, NULL, caps, irq), 0);
	cr_assert_eq(vu_srv_wait_ready(&srv), 0);
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s", srv.path);
	cr_assert_eq(tvm_boot(&t, VFIO_GUEST_MSI, 1, 32 << 20), 0);
	if (!t.vm->irq_routing || irq_routing_msi_missing(t.vm->irq_routing))
		cr_skip_test("this KVM has no MSI routing (%s)", t.vm->irq_routing ?
			     irq_routing_msi_missing(t.vm->irq_routing) : "no irqchip");
	if (no_routing)
		irq_routing_free(&t.vm->irq_routing);
	cr_assert_eq(vfio_set_new(&set, t.vm, args, 1, why, sizeof(why)), 0, "%s", why);
	scenario = which;
	t.ports.on_sync = on_sync;
}

static void run_ok(void)
{
	int status = tvm_run(&t, 40000);

	cr_assert_eq(status, 0, "status %d: %s\nconsole: %s", status, t.vm->stop.reason,
		     t.console_buf);
	cr_assert(strstr(t.console_buf, "ok"), "console: %s", t.console_buf);
	cr_assert_not(vfio_dev_failed(vfio_set_dev(set, 0)));
}

static bool mapped(uint64_t gpa)
{
	uint32_t flags;
	uint64_t hva;

	return memslots_lookup(&t.vm->slots, gpa, &flags, &hva) >= 0;
}

/* A server that keeps its own mask bits (QEMU's device models) signals a
 * vector only after ACTION_UNMASK: vigild opens them when MSI-X goes on and
 * does masking itself. */
Test(vfio_msi, server_with_its_own_vector_masks_is_unmasked_at_enable)
{
	boot("msix-masked", NULL, SCENARIO_MSIX, false);
	run_ok();
}

Test(vfio_msi, msix_vectors_deliver_pend_while_masked_and_deliver_on_unmask)
{
	struct irq_routing_stats st;
	uint64_t bar4;

	boot("msix", NULL, SCENARIO_MSIX, false);
	bar4 = vfio_dev_bar(vfio_set_dev(set, 0), 4);
	cr_assert_neq(bar4, 0);
	/* The server offered all of BAR4 for mmap: only the pages without the
	 * table and PBA are mapped. */
	cr_assert(mapped(bar4));
	cr_assert_not(mapped(bar4 + DMA_DEV_MSIX_TABLE), "the MSI-X table page is mapped");
	cr_assert_not(mapped(bar4 + DMA_DEV_MSIX_PBA), "the PBA page is mapped");
	cr_assert(mapped(bar4 + 3 * 4096));
	run_ok();
	irq_routing_stats(t.vm->irq_routing, &st);
	cr_assert_gt(st.commits, 0);
	cr_assert_eq(st.nr_msi, 0, "MSI-X disabled: its routes are gone");
}

Test(vfio_msi, msix_eventfds_go_in_several_messages_when_the_server_takes_one_fd)
{
	boot("msix", "{\"capabilities\":{\"max_msg_fds\":1}}", SCENARIO_MSIX, false);
	run_ok();
}

Test(vfio_msi, msi_two_vectors_masking_pending_and_retarget)
{
	boot("msi", NULL, SCENARIO_MSI, false);
	run_ok();
}

Test(vfio_msi, msix_table_in_an_absent_bar_is_hidden_and_intx_works)
{
	boot("msix-bad-bir", NULL, SCENARIO_NO_MSI, false);
	run_ok();
}

Test(vfio_msi, msix_table_larger_than_its_bar_is_hidden_and_intx_works)
{
	boot("msix-huge", NULL, SCENARIO_NO_MSI, false);
	run_ok();
	/* Its pages stay trapped all the same: never mapped. */
	cr_assert_not(mapped(vfio_dev_bar(vfio_set_dev(set, 0), 4) + DMA_DEV_MSIX_TABLE));
}

Test(vfio_msi, a_looping_capability_list_is_cut_and_msix_still_works)
{
	boot("cap-loop", NULL, SCENARIO_MSIX, false);
	run_ok();
}

Test(vfio_msi, without_msi_routing_the_guest_sees_intx_only)
{
	boot("msix", NULL, SCENARIO_NO_MSI, true);
	run_ok();
}

/*
 * The GSI routing owner (server/irq_routing.c) against the real /dev/kvm: a
 * VM with an in-kernel irqchip and one vCPU whose LAPIC is software-enabled,
 * so an MSI that reaches it shows in the LAPIC's IRR.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "irq_routing.h"

#define LAPIC_SVR 0xf0
#define LAPIC_IRR 0x200

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct irq_routing *rt;

static void fini(void)
{
	irq_routing_free(&rt);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
}

TestSuite(irq_routing, .fini = fini, .timeout = 30);

/* VM + irqchip + vCPU 0 with its LAPIC enabled; skips without MSI support. */
static void setup_vm(void)
{
	struct kvm_lapic_state lapic;
	const char *missing;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		cr_skip_test("needs /dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(vm_fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
	cr_assert_eq(ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), 0, "%s", strerror(errno));
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	cr_assert_geq(vcpu_fd, 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic), 0);
	*(uint32_t *)&lapic.regs[LAPIC_SVR] |= 0x1ff;   /* software enable */
	cr_assert_eq(ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic), 0);
	cr_assert_eq(irq_routing_new(&rt, vm_fd, kvm_fd), 0);
	missing = irq_routing_msi_missing(rt);
	if (missing)
		cr_skip_test("this KVM lacks %s: no MSI routes", missing);
}

static bool irr_has(unsigned vec)
{
	struct kvm_lapic_state lapic;
	uint32_t w;

	cr_assert_eq(ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic), 0);
	memcpy(&w, &lapic.regs[LAPIC_IRR + (vec / 32) * 0x10], 4);
	return w & (1u << (vec % 32));
}

/* irqfd injection may go through a workqueue: give it a second. */
static bool wait_irr(unsigned vec)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (int i = 0; i < 1000; i++) {
		if (irr_has(vec))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static int attach_irqfd(int efd, unsigned gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi };

	return ioctl(vm_fd, KVM_IRQFD, &irqfd);
}

Test(irq_routing, msi_routes_start_at_gsi_24_after_the_irqchip_defaults)
{
	struct irq_routing_stats st;

	setup_vm();
	cr_assert_eq(irq_routing_add_msi(rt, 0xfee00000, 0x40), 24);
	cr_assert_eq(irq_routing_add_msi(rt, 0xfee00000, 0x41), 25);
	cr_assert_eq(irq_routing_commit(rt), 0);
	irq_routing_stats(rt, &st);
	/* 16 GSIs x (IOAPIC + PIC) + 8 IOAPIC-only + 2 MSI. */
	cr_assert_eq(st.nr_entries, 16 * 2 + 8 + 2);
	cr_assert_eq(st.nr_msi, 2);
	cr_assert_eq(st.commits, 1);
	cr_assert_eq(irq_routing_commit(rt), 0);
	irq_routing_stats(rt, &st);
	cr_assert_eq(st.commits, 1, "nothing changed: no second ioctl");
}

Test(irq_routing, an_irqfd_on_an_msi_route_reaches_the_lapic_and_follows_updates)
{
	int efd, gsi;
	uint64_t one = 1;

	setup_vm();
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	gsi = irq_routing_add_msi(rt, 0xfee00000, 0x45);
	cr_assert_geq(gsi, 24);
	cr_assert_eq(irq_routing_commit(rt), 0);
	cr_assert_eq(attach_irqfd(efd, (unsigned)gsi), 0, "%s", strerror(errno));
	cr_assert_not(irr_has(0x45));
	cr_assert_eq(write(efd, &one, 8), 8);
	cr_assert(wait_irr(0x45), "the MSI did not reach vCPU 0's IRR");
	/* Retarget the route to another vector: the same eventfd follows. */
	cr_assert_eq(irq_routing_update_msi(rt, (unsigned)gsi, 0xfee00000, 0x66), 0);
	cr_assert_eq(irq_routing_commit(rt), 0);
	cr_assert_eq(write(efd, &one, 8), 8);
	cr_assert(wait_irr(0x66));
	close(efd);
}

Test(irq_routing, signal_msi_injects_directly)
{
	setup_vm();
	cr_assert_eq(irq_routing_signal_msi(rt, 0xfee00000, 0x52), 0);
	cr_assert(irr_has(0x52));
}

Test(irq_routing, removed_routes_are_reused_and_unknown_gsis_refused)
{
	int a, b;

	setup_vm();
	a = irq_routing_add_msi(rt, 0xfee00000, 0x40);
	b = irq_routing_add_msi(rt, 0xfee00000, 0x41);
	cr_assert_eq(irq_routing_remove(rt, (unsigned)a), 0);
	cr_assert_eq(irq_routing_remove(rt, (unsigned)a), -ENOENT);
	cr_assert_eq(irq_routing_update_msi(rt, 3, 0xfee00000, 0), -ENOENT, "GSI 3 is the IOAPIC's");
	cr_assert_eq(irq_routing_remove(rt, 5000), -ENOENT);
	cr_assert_eq(irq_routing_commit(rt), 0);
	/* The freed GSI comes back once the hint wraps past the others. */
	for (int g = 0; g >= 0 && g != a; )
		g = irq_routing_add_msi(rt, 0xfee00000, 0x42);
	cr_assert_neq(a, b);
	cr_assert_eq(irq_routing_commit(rt), 0);
}

Test(irq_routing, a_full_table_says_enospc_and_still_commits)
{
	struct irq_routing_stats st;
	int n = 0, g;

	setup_vm();
	while ((g = irq_routing_add_msi(rt, 0xfee00000, 0x40 + (n & 0x3f))) >= 0)
		n++;
	cr_assert_eq(g, -ENOSPC);
	irq_routing_stats(rt, &st);
	cr_assert_eq((unsigned)n, st.max_gsi - 40, "%d routes for %u GSIs", n, st.max_gsi);
	cr_assert_eq(irq_routing_commit(rt), 0, "KVM refused a full table: %s", strerror(errno));
	irq_routing_stats(rt, &st);
	cr_assert_eq(st.nr_entries, st.max_gsi);
}

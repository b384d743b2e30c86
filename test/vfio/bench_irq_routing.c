/*
 * What the MSI machinery costs in KVM (a program, not a test): a routing
 * commit with few and with many MSI routes, KVM_SIGNAL_MSI, and an irqfd
 * unbind + bind (what masking and unmasking a vector costs), each as a ratio
 * to a trivial VM ioctl (KVM_CHECK_EXTENSION) measured in the same run.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "irq_routing.h"

static int vm_fd;
static struct irq_routing *rt;
static int efd, gsi;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void op_baseline(unsigned i)
{
	(void)i;
	ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
}

static void op_commit(unsigned i)
{
	irq_routing_update_msi(rt, (unsigned)gsi, 0xfee00000, 0x40 + (i & 1));
	irq_routing_commit(rt);
}

static void op_signal(unsigned i)
{
	irq_routing_signal_msi(rt, 0xfee00000, 0x40 + (i & 0x3f));
}

static void op_rebind(unsigned i)
{
	struct kvm_irqfd a = { .fd = (uint32_t)efd, .gsi = (uint32_t)gsi };
	struct kvm_irqfd d = a;

	(void)i;
	d.flags = KVM_IRQFD_FLAG_DEASSIGN;
	ioctl(vm_fd, KVM_IRQFD, &d);
	ioctl(vm_fd, KVM_IRQFD, &a);
}

static double measure(void (*op)(unsigned), unsigned n)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < n; i++)
		op(i);
	return (now_ns() - t0) / n;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vcpu;
	struct kvm_irqfd irqfd = { 0 };
	double base, few, many, sig, rebind;

	if (kvm < 0 || (vm_fd = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 ||
	    ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 || (vcpu = ioctl(vm_fd, KVM_CREATE_VCPU, 0)) < 0 ||
	    irq_routing_new(&rt, vm_fd, kvm) < 0) {
		fprintf(stderr, "bench_irq_routing: KVM setup failed: %s\n", strerror(errno));
		return 1;
	}
	if (irq_routing_msi_missing(rt)) {
		printf("skipped: this KVM lacks %s\n", irq_routing_msi_missing(rt));
		return 0;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	gsi = irq_routing_add_msi(rt, 0xfee00000, 0x40);
	irq_routing_commit(rt);
	irqfd.fd = (uint32_t)efd;
	irqfd.gsi = (uint32_t)gsi;
	ioctl(vm_fd, KVM_IRQFD, &irqfd);
	base = measure(op_baseline, 20000);
	few = measure(op_commit, 500);
	sig = measure(op_signal, 20000);
	rebind = measure(op_rebind, 500);
	for (unsigned i = 0; i < 2047; i++)
		irq_routing_add_msi(rt, 0xfee00000, 0x41);
	many = measure(op_commit, 100);
	printf("baseline KVM_CHECK_EXTENSION      %9.0f ns  1.0x\n", base);
	printf("routing commit, 41 entries        %9.0f ns  %.1fx\n", few, few / base);
	printf("routing commit, 2088 entries      %9.0f ns  %.1fx\n", many, many / base);
	printf("KVM_SIGNAL_MSI                    %9.0f ns  %.1fx\n", sig, sig / base);
	printf("irqfd unbind + bind (mask/unmask) %9.0f ns  %.1fx\n", rebind, rebind / base);
	irq_routing_free(&rt);
	close(vcpu);
	close(vm_fd);
	close(kvm);
	return 0;
}

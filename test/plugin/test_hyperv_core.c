/*
 * KVM_EXIT_HYPERV in the VM core, without a plugin: an in-process VM (the
 * core test harness) whose vCPU 0 has SynIC enabled and Hyper-V CPUID leaves,
 * running a guest that writes SynIC MSRs. With a handler installed
 * (vm_set_hyperv_handler) every exit reaches it in the vCPU thread; without
 * one the VM stops with a message naming the exit. Needs KVM's Hyper-V
 * emulation (not on kvm_pvm: these run on the nested kvm_amd platform).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exitcodes.h"
#include "harness.h"
#include "vcpu.h"

#define HV_MSR_SCONTROL 0x40000080
#define HV_MSR_SIEFP    0x40000082

static void require_synic(void)
{
	struct kvm_host k = { .fd = -1 };
	char why[160];
	int hv = 0, synic = 0;

	if (kvm_host_open(&k, NULL, why, sizeof(why)) < 0)
		cr_skip_test("/dev/kvm: %s", why);
	hv = kvm_host_check(&k, KVM_CAP_HYPERV);
	synic = kvm_host_check(&k, KVM_CAP_HYPERV_SYNIC);
	kvm_host_close(&k);
	if (hv <= 0)
		cr_skip_test("KVM_CAP_HYPERV: this host's KVM offers no Hyper-V emulation "
			     "(kvm_pvm has none; the nested kvm_amd platform does)");
	if (synic <= 0)
		cr_skip_test("KVM_CAP_HYPERV_SYNIC: this host's KVM has no Hyper-V SynIC");
}

static struct kvm_cpuid2 *cpuid_get(int fd, unsigned long nr)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));

	cr_assert(c);
	c->nent = 256;
	cr_assert(ioctl(fd, nr, c) == 0, "cpuid ioctl: %s", strerror(errno));
	return c;
}

/* vCPU 0: standard CPUID with KVM's 0x400000xx leaves replaced by Hyper-V's,
 * and SynIC on. Before the vCPU first runs. */
static void enable_synic(struct tvm *t)
{
	struct vcpu *v = t->vm->vcpus[0];
	struct kvm_cpuid2 *std = cpuid_get(t->kvm.fd, KVM_GET_SUPPORTED_CPUID);
	struct kvm_cpuid2 *hv = cpuid_get(v->fd, KVM_GET_SUPPORTED_HV_CPUID);
	struct kvm_cpuid2 *all = calloc(1, sizeof(*all) + 512 * sizeof(all->entries[0]));
	struct kvm_enable_cap cap = { .cap = KVM_CAP_HYPERV_SYNIC };

	cr_assert(all);
	for (uint32_t i = 0; i < std->nent; i++)
		if ((std->entries[i].function & 0xffffff00) != 0x40000000)
			all->entries[all->nent++] = std->entries[i];
	for (uint32_t i = 0; i < hv->nent; i++)
		all->entries[all->nent++] = hv->entries[i];
	cr_assert(ioctl(v->fd, KVM_SET_CPUID2, all) == 0, "KVM_SET_CPUID2: %s", strerror(errno));
	cr_assert(ioctl(v->fd, KVM_ENABLE_CAP, &cap) == 0, "SynIC: %s", strerror(errno));
	free(std);
	free(hv);
	free(all);
}

static void boot(struct tvm *t)
{
	cr_assert_eq(tvm_boot(t, HVCORE_GUEST_PATH, 1, 8u << 20), 0);
	enable_synic(t);
}

struct seen {
	unsigned n;
	uint32_t type[4], msr[4];
	uint64_t evt_page[4];
	unsigned vcpu_id[4];
};

/* vCPU thread. */
static int record_exit(struct vcpu *vcpu, void *opaque)
{
	struct seen *s = opaque;
	struct kvm_hyperv_exit *hv = &vcpu->run->hyperv;

	if (s->n < 4) {
		s->type[s->n] = hv->type;
		s->msr[s->n] = hv->u.synic.msr;
		s->evt_page[s->n] = hv->u.synic.evt_page;
		s->vcpu_id[s->n] = vcpu->id;
	}
	s->n++;
	return 0;
}

Test(hyperv_core, exits_reach_the_vm_handler)
{
	struct seen s = { 0 };
	struct tvm t;

	require_synic();
	boot(&t);
	vm_set_hyperv_handler(t.vm, record_exit, &s);
	cr_assert_eq(tvm_run(&t, 20000), 0, "stop: %s", t.vm->stop.reason);
	cr_assert_eq(s.n, 2, "%u Hyper-V exits", s.n);
	cr_assert_eq(s.type[0], KVM_EXIT_HYPERV_SYNIC);
	cr_assert_eq(s.msr[0], HV_MSR_SCONTROL);
	cr_assert_eq(s.msr[1], HV_MSR_SIEFP);
	cr_assert_eq(s.evt_page[1] & 1, 1, "SIEFP enable bit");
	cr_assert_eq(s.vcpu_id[1], 0);
	tvm_free(&t);
}

Test(hyperv_core, exit_without_handler_stops_the_vm_naming_it)
{
	struct tvm t;

	require_synic();
	boot(&t);
	cr_assert_eq(tvm_run(&t, 20000), VIGILD_EXIT_GUEST_ERROR, "stop: %s", t.vm->stop.reason);
	cr_assert(strstr(t.vm->stop.reason, "KVM_EXIT_HYPERV (SynIC MSR write"),
		  "reason: %s", t.vm->stop.reason);
	tvm_free(&t);
}

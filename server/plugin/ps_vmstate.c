/* VM-wide and per-vCPU state as raw KVM structures, and CPUID lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ps.h"
#include "vm.h"

static int irqchip_get(struct plugin *pl, unsigned chip, void *out, size_t size)
{
	struct kvm_irqchip ic = { .chip_id = chip };

	if (ioctl(pl->vm->fd, KVM_GET_IRQCHIP, &ic) < 0)
		return -errno;
	memcpy(out, &ic.chip, size);
	return 0;
}

static int irqchip_set(struct plugin *pl, unsigned chip, const void *in, size_t size)
{
	struct kvm_irqchip ic = { .chip_id = chip };

	memcpy(&ic.chip, in, size);
	return ioctl(pl->vm->fd, KVM_SET_IRQCHIP, &ic) < 0 ? -errno : 0;
}

static size_t vm_state_size(int set)
{
	switch (set) {
	case MAIN_REQUEST__STATE_SET__PIC0:
	case MAIN_REQUEST__STATE_SET__PIC1: return sizeof(struct kvm_pic_state);
	case MAIN_REQUEST__STATE_SET__IOAPIC: return sizeof(struct kvm_ioapic_state);
	case MAIN_REQUEST__STATE_SET__PIT: return sizeof(struct kvm_pit_state2);
	case MAIN_REQUEST__STATE_SET__CLOCK: return sizeof(struct kvm_clock_data);
	default: return 0;
	}
}

int ps_get_vm_state(struct plugin *pl, int set, uint8_t *out, size_t *len)
{
	size_t size = vm_state_size(set);
	int fd = pl->vm->fd;

	if (!size || size > *len)
		return -EINVAL;
	*len = size;
	switch (set) {
	case MAIN_REQUEST__STATE_SET__PIC0: return irqchip_get(pl, KVM_IRQCHIP_PIC_MASTER, out, size);
	case MAIN_REQUEST__STATE_SET__PIC1: return irqchip_get(pl, KVM_IRQCHIP_PIC_SLAVE, out, size);
	case MAIN_REQUEST__STATE_SET__IOAPIC: return irqchip_get(pl, KVM_IRQCHIP_IOAPIC, out, size);
	case MAIN_REQUEST__STATE_SET__PIT: return ioctl(fd, KVM_GET_PIT2, out) < 0 ? -errno : 0;
	default: return ioctl(fd, KVM_GET_CLOCK, out) < 0 ? -errno : 0;
	}
}

int ps_set_vm_state(struct plugin *pl, int set, const uint8_t *in, size_t len)
{
	size_t size = vm_state_size(set);
	int fd = pl->vm->fd;

	if (!size || len != size)
		return -EINVAL;
	switch (set) {
	case MAIN_REQUEST__STATE_SET__PIC0: return irqchip_set(pl, KVM_IRQCHIP_PIC_MASTER, in, size);
	case MAIN_REQUEST__STATE_SET__PIC1: return irqchip_set(pl, KVM_IRQCHIP_PIC_SLAVE, in, size);
	case MAIN_REQUEST__STATE_SET__IOAPIC: return irqchip_set(pl, KVM_IRQCHIP_IOAPIC, in, size);
	case MAIN_REQUEST__STATE_SET__PIT: return ioctl(fd, KVM_SET_PIT2, in) < 0 ? -errno : 0;
	default: {
		struct kvm_clock_data cd;

		memcpy(&cd, in, sizeof(cd));
		/* Set exactly this value: no realtime/TSC adjustment. */
		cd.flags = 0;
		return ioctl(fd, KVM_SET_CLOCK, &cd) < 0 ? -errno : 0;
	}
	}
}

struct vstate {
	size_t size;
	unsigned long get, set;
};

static const struct vstate vcpu_states[] = {
	[VCPU_REQUEST__STATE_SET__REGS] = { sizeof(struct kvm_regs), KVM_GET_REGS, KVM_SET_REGS },
	[VCPU_REQUEST__STATE_SET__SREGS] = { sizeof(struct kvm_sregs), KVM_GET_SREGS, KVM_SET_SREGS },
	[VCPU_REQUEST__STATE_SET__FPU] = { sizeof(struct kvm_fpu), KVM_GET_FPU, KVM_SET_FPU },
	[VCPU_REQUEST__STATE_SET__DEBUGREGS] = { sizeof(struct kvm_debugregs), KVM_GET_DEBUGREGS,
						 KVM_SET_DEBUGREGS },
	[VCPU_REQUEST__STATE_SET__LAPIC] = { sizeof(struct kvm_lapic_state), KVM_GET_LAPIC,
					     KVM_SET_LAPIC },
	[VCPU_REQUEST__STATE_SET__MP] = { sizeof(struct kvm_mp_state), KVM_GET_MP_STATE,
					  KVM_SET_MP_STATE },
	[VCPU_REQUEST__STATE_SET__XCREGS] = { sizeof(struct kvm_xcrs), KVM_GET_XCRS, KVM_SET_XCRS },
	[VCPU_REQUEST__STATE_SET__EVENTS] = { sizeof(struct kvm_vcpu_events), KVM_GET_VCPU_EVENTS,
					      KVM_SET_VCPU_EVENTS },
};

static const struct vstate *vstate(int set)
{
	if (set < 0 || (size_t)set >= sizeof(vcpu_states) / sizeof(vcpu_states[0]))
		return NULL;
	return &vcpu_states[set];
}

int ps_get_vcpu_state(struct pvcpu *pv, int set, uint8_t *out, size_t *len)
{
	const struct vstate *s = vstate(set);

	if (!s || s->size > *len)
		return -EINVAL;
	memset(out, 0, s->size);
	if (ioctl(pv->vcpu->fd, s->get, out) < 0)
		return -errno;
	*len = s->size;
	return 0;
}

int ps_set_vcpu_state(struct pvcpu *pv, int set, const uint8_t *in, size_t len)
{
	const struct vstate *s = vstate(set);
	uint8_t buf[4096];

	if (!s || len != s->size || len > sizeof(buf))
		return -EINVAL;
	memcpy(buf, in, len);   /* aligned copy for the ioctl */
	return ioctl(pv->vcpu->fd, s->set, buf) < 0 ? -errno : 0;
}

void ps_cpuid_from_wire(const CpuidEntry *w, struct kvm_cpuid_entry2 *e)
{
	memset(e, 0, sizeof(*e));
	e->function = w->function;
	e->index = w->index;
	e->flags = w->flags | (w->has_index ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0);
	e->eax = w->eax;
	e->ebx = w->ebx;
	e->ecx = w->ecx;
	e->edx = w->edx;
}

void ps_cpuid_list_free(CpuidEntry **entries, size_t n)
{
	if (entries && n)
		free(entries[0]);
	free(entries);
}

/* The fd for KVM_GET_SUPPORTED_HV_CPUID: the vCPU's. Before Start, when the
 * vCPUs do not exist yet, /dev/kvm's (Linux 5.11+, KVM_CAP_SYS_HYPERV_CPUID:
 * the same list but for eVMCS, which a plugin cannot enable; and a KVM with
 * no Hyper-V at all gives its error there too). Only an older KVM with
 * Hyper-V makes vigild create the vCPUs now. */
static int hv_cpuid_fd(struct plugin *pl, struct pvcpu *pv, int *fd)
{
	const struct kvm_host *kvm = pl->vm->kvm;
	int err;

	if (!pv->vcpu && (kvm_host_check(kvm, KVM_CAP_SYS_HYPERV_CPUID) > 0 ||
			  kvm_host_check(kvm, KVM_CAP_HYPERV) <= 0)) {
		*fd = kvm->fd;
		return 0;
	}
	if (!pv->vcpu) {
		err = ps_vcpus_create(pl);
		if (err)
			return err;
	}
	*fd = pv->vcpu->fd;
	return 0;
}

/* KVM_GET_SUPPORTED_CPUID / EMULATED (system fd) or _HV_CPUID (@pv given). */
int ps_cpuid_list(struct plugin *pl, struct pvcpu *pv, unsigned long nr, CpuidEntry ***out,
		  size_t *n)
{
	int fd = pl->vm->kvm->fd;
	struct kvm_cpuid2 *c = NULL;
	CpuidEntry *e, **ep;
	uint32_t cap = 64;

	if (pv) {
		int err = hv_cpuid_fd(pl, pv, &fd);

		if (err)
			return err;
	}
	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + cap * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return -ENOMEM;
		c->nent = cap;
		if (ioctl(fd, nr, c) == 0)
			break;
		if (errno != E2BIG || cap >= 4096) {
			int err = -errno;

			free(c);
			return err;
		}
		cap *= 2;
	}
	e = calloc(c->nent ? c->nent : 1, sizeof(*e));
	ep = calloc(c->nent ? c->nent : 1, sizeof(*ep));
	if (!e || !ep) {
		free(e);
		free(ep);
		free(c);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *k = &c->entries[i];

		cpuid_entry__init(&e[i]);
		e[i].function = k->function;
		e[i].index = k->index;
		e[i].flags = k->flags;
		e[i].has_index = !!(k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		e[i].eax = k->eax;
		e[i].ebx = k->ebx;
		e[i].ecx = k->ecx;
		e[i].edx = k->edx;
		ep[i] = &e[i];
	}
	*n = c->nent;
	*out = ep;
	if (!c->nent)
		free(e);
	free(c);
	return 0;
}

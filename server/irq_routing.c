/* The VM's GSI routing table: default irqchip routes plus MSI routes. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "irq_routing.h"

/* KVM_MAX_IRQ_ROUTES on x86; what KVM_CAP_IRQ_ROUTING reports there. */
#define IRQ_ROUTING_MAX_GSI 4096u
/* Used when the capability only says "yes" (1). */
#define IRQ_ROUTING_FALLBACK_GSI 1024u

struct msi_route {
	bool used;
	uint64_t addr;
	uint32_t data;
};

struct irq_routing {
	pthread_mutex_t lock;
	int vm_fd;
	const char *missing;      /* NULL: MSI works */
	unsigned max_gsi;
	struct msi_route *msi;    /* index: gsi - IRQ_ROUTING_MSI_BASE */
	unsigned nr_msi_slots, nr_msi, next_hint;
	bool dirty;
	unsigned committed_entries;
	uint64_t commits;
};

static int check_cap(int vm_fd, int kvm_fd, long cap)
{
	int r = ioctl(vm_fd, KVM_CHECK_EXTENSION, cap);

	if (r < 0 && kvm_fd >= 0)
		r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int irq_routing_new(struct irq_routing **out, int vm_fd, int kvm_fd)
{
	struct irq_routing *r = calloc(1, sizeof(*r));
	int routes, err;

	if (!r)
		return -ENOMEM;
	err = pthread_mutex_init(&r->lock, NULL);
	if (err) {
		free(r);
		return -err;
	}
	r->vm_fd = vm_fd;
	routes = check_cap(vm_fd, kvm_fd, KVM_CAP_IRQ_ROUTING);
	if (routes <= 0)
		r->missing = "KVM_CAP_IRQ_ROUTING";
	else if (!check_cap(vm_fd, kvm_fd, KVM_CAP_SIGNAL_MSI))
		r->missing = "KVM_CAP_SIGNAL_MSI";
	if (routes > IRQ_ROUTING_MSI_BASE)
		r->max_gsi = (unsigned)routes < IRQ_ROUTING_MAX_GSI ? (unsigned)routes
								     : IRQ_ROUTING_MAX_GSI;
	else if (routes > 0)
		r->max_gsi = IRQ_ROUTING_FALLBACK_GSI;
	if (r->max_gsi > IRQ_ROUTING_MSI_BASE) {
		r->nr_msi_slots = r->max_gsi - IRQ_ROUTING_MSI_BASE;
		r->msi = calloc(r->nr_msi_slots, sizeof(*r->msi));
		if (!r->msi) {
			irq_routing_free(&r);
			return -ENOMEM;
		}
	}
	*out = r;
	return 0;
}

void irq_routing_free(struct irq_routing **rp)
{
	struct irq_routing *r = *rp;

	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->msi);
	free(r);
	*rp = NULL;
}

const char *irq_routing_msi_missing(const struct irq_routing *r)
{
	return r->missing;
}

int irq_routing_add_msi(struct irq_routing *r, uint64_t addr, uint32_t data)
{
	int gsi = -ENOSPC;

	if (r->missing)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&r->lock);
	/* KVM also bounds the number of entries by the same limit. */
	if (IRQ_ROUTING_NR_IOAPIC + IRQ_ROUTING_NR_PIC + r->nr_msi >= r->max_gsi) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	for (unsigned k = 0; k < r->nr_msi_slots; k++) {
		unsigned i = (r->next_hint + k) % r->nr_msi_slots;

		if (r->msi[i].used)
			continue;
		r->msi[i] = (struct msi_route){ .used = true, .addr = addr, .data = data };
		r->nr_msi++;
		r->next_hint = i + 1;
		r->dirty = true;
		gsi = (int)(i + IRQ_ROUTING_MSI_BASE);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

static struct msi_route *find_msi(struct irq_routing *r, unsigned gsi)
{
	if (gsi < IRQ_ROUTING_MSI_BASE || gsi - IRQ_ROUTING_MSI_BASE >= r->nr_msi_slots)
		return NULL;
	return r->msi[gsi - IRQ_ROUTING_MSI_BASE].used ? &r->msi[gsi - IRQ_ROUTING_MSI_BASE]
						       : NULL;
}

int irq_routing_update_msi(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct msi_route *m;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	m = find_msi(r, gsi);
	if (!m) {
		err = -ENOENT;
	} else if (m->addr != addr || m->data != data) {
		m->addr = addr;
		m->data = data;
		r->dirty = true;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

int irq_routing_remove(struct irq_routing *r, unsigned gsi)
{
	struct msi_route *m;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	m = find_msi(r, gsi);
	if (m) {
		m->used = false;
		r->nr_msi--;
		r->dirty = true;
	} else {
		err = -ENOENT;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

/* What KVM sets up by itself with KVM_CREATE_IRQCHIP (irq_comm.c's default
 * table): GSI n < 16 to IOAPIC pin n and PIC (master/slave) pin n % 8;
 * GSIs 16-23 to IOAPIC pins 16-23. */
static unsigned fill_defaults(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < IRQ_ROUTING_NR_IOAPIC; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
		if (gsi >= IRQ_ROUTING_NR_PIC)
			continue;
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							   : KVM_IRQCHIP_PIC_SLAVE,
				       .pin = gsi % 8 },
		};
	}
	return n;
}

static int commit_locked(struct irq_routing *r)
{
	unsigned max = IRQ_ROUTING_NR_IOAPIC + IRQ_ROUTING_NR_PIC + r->nr_msi, n;
	struct kvm_irq_routing *t;
	int err = 0;

	t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	n = fill_defaults(t->entries);
	for (unsigned i = 0; i < r->nr_msi_slots && n < max; i++) {
		if (!r->msi[i].used)
			continue;
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = i + IRQ_ROUTING_MSI_BASE, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->msi[i].addr,
				   .address_hi = (uint32_t)(r->msi[i].addr >> 32),
				   .data = r->msi[i].data },
		};
	}
	t->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0) {
		err = -errno;
	} else {
		r->dirty = false;
		r->committed_entries = n;
		r->commits++;
	}
	free(t);
	return err;
}

int irq_routing_commit(struct irq_routing *r)
{
	int err = 0;

	if (r->missing)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&r->lock);
	if (r->dirty)
		err = commit_locked(r);
	pthread_mutex_unlock(&r->lock);
	return err;
}

int irq_routing_signal_msi(struct irq_routing *r, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data,
	};

	if (r->missing)
		return -EOPNOTSUPP;
	/* > 0: delivered, 0: blocked by the guest (e.g. APIC disabled). */
	return ioctl(r->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

void irq_routing_stats(struct irq_routing *r, struct irq_routing_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->nr_entries = r->committed_entries;
	out->nr_msi = r->nr_msi;
	out->max_gsi = r->max_gsi;
	out->commits = r->commits;
	pthread_mutex_unlock(&r->lock);
}

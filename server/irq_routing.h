/*
 * The VM's GSI routing table (KVM_SET_GSI_ROUTING): one owner per VM.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so whoever sets a route must
 * know every other route. This object holds them all: the routes KVM installs
 * by default with an in-kernel irqchip (GSIs 0-15 to the PIC and the IOAPIC
 * pin of the same number, 16-23 to the IOAPIC) and MSI routes handed out from
 * GSI 24 up. Changes are made in memory and reach KVM with irq_routing_commit
 * (one ioctl for any number of changes); until the first commit KVM keeps its
 * own default table, which is the same.
 *
 * Thread safety: every function takes the object's lock (held only across
 * the KVM ioctl, never across a peer); vCPU threads and the reactor may call
 * them. The VM owns it (vm->irq_routing, NULL without an in-kernel irqchip).
 */
#ifndef VIGIL_IRQ_ROUTING_H
#define VIGIL_IRQ_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

struct irq_routing;

#define IRQ_ROUTING_NR_PIC     16   /* GSIs routed to PIC + IOAPIC */
#define IRQ_ROUTING_NR_IOAPIC  24   /* IOAPIC pins */
#define IRQ_ROUTING_MSI_BASE   24   /* first GSI handed out for MSI */

/* Probe KVM_CAP_IRQ_ROUTING and KVM_CAP_SIGNAL_MSI on @vm_fd (falling back to
 * @kvm_fd for kernels without per-VM capability checks). Succeeds even when
 * they are missing: irq_routing_msi_missing() then names what is. -ENOMEM. */
int irq_routing_new(struct irq_routing **out, int vm_fd, int kvm_fd);
/* Accepts NULL; NULLs *r. Does not touch KVM (the VM is going away). */
void irq_routing_free(struct irq_routing **r);

/* NULL if MSI routes and KVM_SIGNAL_MSI are available, else the name of the
 * missing capability. */
const char *irq_routing_msi_missing(const struct irq_routing *r);

/* A new MSI route; returns its GSI (>= IRQ_ROUTING_MSI_BASE) or -ENOSPC (table
 * full), -EOPNOTSUPP (no routing). Not in KVM until irq_routing_commit. */
int irq_routing_add_msi(struct irq_routing *r, uint64_t addr, uint32_t data);
/* Change the message of MSI route @gsi. -ENOENT if it is not one. */
int irq_routing_update_msi(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data);
/* Drop MSI route @gsi (its GSI can be handed out again). -ENOENT. */
int irq_routing_remove(struct irq_routing *r, unsigned gsi);
/* Give KVM the table if it changed since the last commit. 0 or -errno from
 * KVM_SET_GSI_ROUTING (the changes stay pending then). */
int irq_routing_commit(struct irq_routing *r);

/* Inject one MSI now (KVM_SIGNAL_MSI). 0 (delivered or blocked by the guest's
 * APIC state), -errno. */
int irq_routing_signal_msi(struct irq_routing *r, uint64_t addr, uint32_t data);

/* For tests and stats. */
struct irq_routing_stats {
	unsigned nr_entries;     /* entries in the table as last committed */
	unsigned nr_msi;         /* MSI routes now */
	unsigned max_gsi;        /* GSIs available: 0 .. max_gsi-1 */
	uint64_t commits;        /* KVM_SET_GSI_ROUTING calls made */
};
void irq_routing_stats(struct irq_routing *r, struct irq_routing_stats *out);

#endif

/*
 * A minimal PCI host bridge: configuration mechanism #1 (ports 0xCF8/0xCFC)
 * on bus 0, the bridge itself at 00:00.0 and up to 31 functions behind it.
 *
 * Accesses run in vCPU threads (iobus handlers). Functions are added before
 * the VM starts and stay until pci_host_free (after the vCPUs are joined).
 */
#ifndef VIGIL_PCI_HOST_H
#define VIGIL_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct pci_host;

#define PCI_HOST_PORT_ADDR 0xcf8
#define PCI_HOST_PORT_DATA 0xcfc
#define PCI_HOST_MAX_SLOTS 32

struct pci_fn_ops {
	/* @off is 0..255, the access lies within one dword. Reads fill @data.
	 * Called in the thread of @vcpu (the one doing the 0xCFC access). */
	void (*cfg_read)(struct vcpu *vcpu, void *opaque, unsigned off, void *data,
			 unsigned len);
	void (*cfg_write)(struct vcpu *vcpu, void *opaque, unsigned off, const void *data,
			  unsigned len);
};

int pci_host_new(struct pci_host **out, struct vm *vm);
/* Put a function at the next free slot; returns the slot (1..31) or -ENOSPC. */
int pci_host_add(struct pci_host *h, const struct pci_fn_ops *ops, void *opaque);
/* Unregister the ports and free. Accepts NULL; NULLs *h. */
void pci_host_free(struct pci_host **h);

/* Helpers for configuration emulation. */
static inline uint32_t pci_cfg_extract(uint32_t dword, unsigned off, unsigned len)
{
	uint32_t v = dword >> ((off & 3) * 8);

	return len == 4 ? v : v & ((1u << (len * 8)) - 1);
}

#endif

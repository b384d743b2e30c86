/* Minimal PCI host bridge: configuration mechanism #1 on bus 0. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "iobus.h"
#include "pci_host.h"
#include "vm.h"

#define CFG_ENABLE 0x80000000u

struct pci_slot {
	const struct pci_fn_ops *ops;
	void *opaque;
};

struct pci_host {
	struct vm *vm;
	_Atomic uint32_t addr;            /* last value written to 0xCF8 */
	struct pci_slot slot[PCI_HOST_MAX_SLOTS];
	bool ports_registered;
};

/* The bridge's own header: Intel 440FX host bridge, class 06/00. */
static void bridge_read(unsigned off, void *data, unsigned len)
{
	static const uint32_t hdr[4] = { 0x12378086, 0x00000006, 0x06000000, 0 };
	uint32_t v = off < 16 ? hdr[off / 4] : 0;

	v = pci_cfg_extract(v, off, len);
	memcpy(data, &v, len);
}

static int addr_io(struct pci_host *h, bool is_write, void *data, unsigned len)
{
	uint32_t v;

	if (len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		atomic_store(&h->addr, v & 0x80fffffcu);
	} else {
		v = atomic_load(&h->addr);
		memcpy(data, &v, 4);
	}
	return 0;
}

static int data_io(struct pci_host *h, struct vcpu *vcpu, uint64_t port, bool is_write,
		   void *data, unsigned len)
{
	uint32_t a = atomic_load(&h->addr);
	unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	unsigned off = (a & 0xfc) + (unsigned)(port - PCI_HOST_PORT_DATA);
	struct pci_slot *s = &h->slot[dev];

	if (off + len > (a & 0xfc) + 4U)
		len = (a & 0xfc) + 4 - off;
	if (!(a & CFG_ENABLE) || bus || fn || (dev && !s->ops)) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	if (dev == 0) {
		if (!is_write)
			bridge_read(off, data, len);
		return 0;
	}
	if (is_write)
		s->ops->cfg_write(vcpu, s->opaque, off, data, len);
	else
		s->ops->cfg_read(vcpu, s->opaque, off, data, len);
	return 0;
}

static int pci_io(struct vcpu *vcpu, void *opaque, uint64_t port, bool is_write,
		  void *data, unsigned len)
{
	struct pci_host *h = opaque;

	if (port == PCI_HOST_PORT_ADDR)
		return addr_io(h, is_write, data, len);
	if (port >= PCI_HOST_PORT_DATA && port + len <= PCI_HOST_PORT_DATA + 4)
		return data_io(h, vcpu, port, is_write, data, len);
	if (!is_write)
		memset(data, 0xff, len);
	return 0;
}

int pci_host_new(struct pci_host **out, struct vm *vm)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->vm = vm;
	err = iobus_register(&vm->pio, PCI_HOST_PORT_ADDR, 8, pci_io, h);
	if (err) {
		free(h);
		return err;
	}
	h->ports_registered = true;
	*out = h;
	return 0;
}

int pci_host_add(struct pci_host *h, const struct pci_fn_ops *ops, void *opaque)
{
	for (unsigned i = 1; i < PCI_HOST_MAX_SLOTS; i++) {
		if (!h->slot[i].ops) {
			h->slot[i] = (struct pci_slot){ ops, opaque };
			return (int)i;
		}
	}
	return -ENOSPC;
}

void pci_host_free(struct pci_host **hp)
{
	struct pci_host *h = *hp;

	if (!h)
		return;
	if (h->ports_registered)
		iobus_unregister(&h->vm->pio, PCI_HOST_PORT_ADDR);
	free(h);
	*hp = NULL;
}

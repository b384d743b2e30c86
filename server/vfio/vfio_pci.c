/*
 * A vfio-user device as a PCI function: configuration space forwarded to the
 * server's config region with BARs, ROM and interrupt line virtualised; BARs
 * placed in the MMIO hole (or I/O ports) and trapped or mapped directly.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iobus.h"
#include "log.h"
#include "memslot.h"
#include "vfio_int.h"
#include "vm.h"

#define PCI_BAR0        0x10
#define PCI_BAR_END     0x28
#define PCI_ROM         0x30
#define PCI_INT_LINE    0x3c
/* Keep clear of the in-kernel IOAPIC/LAPIC at 0xfec00000. */
#define VFIO_MMIO_END   0xfec00000ULL

static void region_error(struct vfio_dev *d, const char *what, int err)
{
	/* A failed connection was logged once by the client already. */
	if (vu_client_failed(d->c) || atomic_exchange(&d->warned_error, true))
		return;
	log_warn("vfio-user %s: %s failed: %s (reported once)", d->name, what, strerror(-err));
}

static int bar_io(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		  void *data, unsigned len)
{
	struct vfio_bar *b = opaque;
	struct vfio_dev *d = b->dev;
	uint64_t off = addr - b->base;
	int err = -ENOTCONN;

	(void)vcpu;
	if (off + len <= b->region_size && !atomic_load(&d->failed)) {
		atomic_fetch_add(&d->region_calls, 1);
		if (is_write)
			err = vu_dev_region_write(d->c, b->idx, off, data, len);
		else
			err = vu_dev_region_read(d->c, b->idx, off, data, len);
		if (err)
			region_error(d, is_write ? "BAR write" : "BAR read", err);
	}
	if (err && !is_write)
		memset(data, 0xff, len);
	return 0;
}

static void cfg_read(void *opaque, unsigned off, void *data, unsigned len)
{
	struct vfio_dev *d = opaque;
	unsigned dw = off & ~3u;
	uint32_t v;
	int err = -ENOTCONN;

	if (dw >= PCI_BAR0 && dw < PCI_BAR_END) {
		v = pci_cfg_extract(d->bar_reg[(dw - PCI_BAR0) / 4], off, len);
		memcpy(data, &v, len);
		return;
	}
	if (dw == PCI_ROM) {
		memset(data, 0, len);
		return;
	}
	if (!atomic_load(&d->failed))
		err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, off, data, len);
	if (err) {
		region_error(d, "config read", err);
		memset(data, 0xff, len);
		return;
	}
	if (off <= PCI_INT_LINE && off + len > PCI_INT_LINE)
		((uint8_t *)data)[PCI_INT_LINE - off] = d->irqfd_wired ? (uint8_t)d->gsi : 0xff;
}

static void bar_reg_write(struct vfio_dev *d, unsigned off, const void *data, unsigned len)
{
	unsigned i = (off - PCI_BAR0) / 4;
	struct vfio_bar *b = &d->bar[i];
	uint32_t reg = d->bar_reg[i], mask;

	memcpy((uint8_t *)&reg + (off & 3), data, len);
	if (b->is_upper) {
		/* Upper half of a 64-bit BAR below 4 GiB: sizing reads back ones. */
		d->bar_reg[i] = reg == 0xffffffffu ? reg : 0;
		return;
	}
	if (!b->size) {
		d->bar_reg[i] = 0;
		return;
	}
	mask = (b->is_io ? ~3u : ~15u) & ~(uint32_t)(b->size - 1);
	d->bar_reg[i] = (reg & mask) | b->flags;
	/* Sizing (all-ones) and writing the address back are fine. */
	if ((reg & mask) != (uint32_t)b->base && (reg & mask) != mask &&
	    !atomic_exchange(&d->warned_relocate, true))
		log_warn("vfio-user %s: BAR%u relocation to %#x is not supported; it stays at %#llx",
			 d->name, i, reg & mask, (unsigned long long)b->base);
}

static void cfg_write(void *opaque, unsigned off, const void *data, unsigned len)
{
	struct vfio_dev *d = opaque;
	unsigned dw = off & ~3u;
	int err;

	if (dw >= PCI_BAR0 && dw < PCI_BAR_END) {
		bar_reg_write(d, off, data, len);
		return;
	}
	if (dw == PCI_ROM || (off == PCI_INT_LINE && len == 1))
		return;
	if (atomic_load(&d->failed))
		return;
	err = vu_dev_region_write(d->c, VFIO_PCI_CONFIG_REGION_INDEX, off, data, len);
	if (err)
		region_error(d, "config write", err);
}

const struct pci_fn_ops vfio_pci_ops = { .cfg_read = cfg_read, .cfg_write = cfg_write };

static uint64_t pow2_at_least(uint64_t v, uint64_t min)
{
	uint64_t p = min;

	while (p < v)
		p <<= 1;
	return p;
}

/* Give BAR @b an address (MMIO hole or ports) and register it. */
static int bar_place(struct vfio_dev *d, struct vfio_bar *b)
{
	struct vfio_set *s = d->set;
	uint64_t *next = b->is_io ? &s->next_pio : &s->next_mmio;
	uint64_t end = b->is_io ? VFIO_PIO_END : VFIO_MMIO_END;
	uint64_t base = (*next + b->size - 1) & ~(b->size - 1);
	int err;

	if (base + b->size > end || base + b->size < base)
		return -ENOSPC;
	err = iobus_register(b->is_io ? &d->vm->pio : &d->vm->mmio, base, b->size, bar_io, b);
	if (err)
		return err;
	b->base = base;
	b->registered = true;
	*next = base + b->size;
	return 0;
}

static int map_area(struct vfio_dev *d, struct vfio_bar *b, uint64_t off, uint64_t len)
{
	int r;

	if ((off | len) & 4095 || !len || off + len > b->map_len)
		return 0;   /* not page granular: stays trapped */
	r = memslots_add(&d->vm->slots, b->base + off, len,
			 (uint64_t)(uintptr_t)b->map + off, 0);
	if (r < 0)
		return r;
	b->slot_regions[b->nr_slot_regions++] = r;
	return 0;
}

/* Map what the server lets us map; the rest of the BAR stays trapped. */
static int bar_map(struct vfio_dev *d, struct vfio_bar *b, const struct vu_region *r, int fd)
{
	void *p;
	int err = 0;

	if (b->is_io || (r->size & 4095))
		return 0;
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)r->offset);
	if (p == MAP_FAILED) {
		log_warn("vfio-user %s: cannot map BAR%u (%s); trapping it", d->name, b->idx,
			 strerror(errno));
		return 0;
	}
	b->map = p;
	b->map_len = r->size;
	if (!r->has_sparse)
		return map_area(d, b, 0, r->size);
	for (unsigned i = 0; i < r->nr_sparse && !err; i++)
		err = map_area(d, b, r->sparse[i].offset, r->sparse[i].size);
	return err;
}

static int bar_setup(struct vfio_dev *d, unsigned i)
{
	struct vfio_bar *b = &d->bar[i];
	struct vu_region r;
	uint32_t reg = 0;
	int fd, err;

	err = vu_dev_get_region_info(d->c, i, &r, &fd);
	if (err)
		return err;
	err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, PCI_BAR0 + 4 * i, &reg, 4);
	if (!err && r.size) {
		b->is_io = reg & 1;
		b->is_64 = !b->is_io && ((reg >> 1) & 3) == 2;
		b->flags = reg & (b->is_io ? 3u : 15u);
		b->region_size = r.size;
		b->size = pow2_at_least(r.size, b->is_io ? 4 : 4096);
		err = bar_place(d, b);
		if (!err && fd >= 0 && (r.flags & VFIO_REGION_INFO_FLAG_MMAP))
			err = bar_map(d, b, &r, fd);
		d->bar_reg[i] = (uint32_t)b->base | b->flags;
	}
	if (fd >= 0)
		close(fd);
	return err;
}

int vfio_pci_setup_bars(struct vfio_dev *d)
{
	unsigned n = d->info.num_regions < VFIO_NR_BARS ? d->info.num_regions : VFIO_NR_BARS;
	int err;

	for (unsigned i = 0; i < VFIO_NR_BARS; i++) {
		d->bar[i].dev = d;
		d->bar[i].idx = i;
	}
	for (unsigned i = 0; i < n; i++) {
		if (d->bar[i].is_upper)
			continue;
		err = bar_setup(d, i);
		if (err)
			return err;
		if (d->bar[i].is_64 && i + 1 < VFIO_NR_BARS)
			d->bar[i + 1].is_upper = true;
	}
	return 0;
}

void vfio_pci_teardown_bars(struct vfio_dev *d)
{
	for (unsigned i = 0; i < VFIO_NR_BARS; i++) {
		struct vfio_bar *b = &d->bar[i];

		for (unsigned k = 0; k < b->nr_slot_regions; k++)
			memslots_remove(&d->vm->slots, (uint32_t)b->slot_regions[k]);
		b->nr_slot_regions = 0;
		if (b->registered)
			iobus_unregister(b->is_io ? &d->vm->pio : &d->vm->mmio, b->base);
		b->registered = false;
		if (b->map)
			munmap(b->map, b->map_len);
		b->map = NULL;
	}
}

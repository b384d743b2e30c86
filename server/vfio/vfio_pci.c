/*
 * A vfio-user device as a PCI function: configuration space forwarded to the
 * server's config region with BARs, ROM and interrupt line virtualised; BARs
 * placed in the MMIO hole (or I/O ports) and trapped or mapped directly.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iobus.h"
#include "log.h"
#include "memslot.h"
#include "vfio_int.h"
#include "vcpu.h"
#include "vfio_msi.h"
#include "vm.h"

#define PCI_BAR0        0x10
#define PCI_BAR_END     0x28
#define PCI_ROM         0x30
#define PCI_INT_LINE    0x3c
/* Keep clear of the in-kernel IOAPIC/LAPIC at 0xfec00000. */
#define VFIO_MMIO_END   0xfec00000ULL
/* 64-bit BARs the guest moves above RAM stay below 1 TiB. */
#define VFIO_MMIO_HIGH_END (1ULL << 40)

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

	if (vfio_msix_bar_access(d, b->idx, off, is_write, data, len))
		return 0;
	if (off + len <= b->region_size && !atomic_load(&d->failed)) {
		atomic_fetch_add(&d->region_calls, 1);
		/* The server may do DMA inside this call and that DMA may wait for
		 * the introspection tool, which may need the vCPUs stopped. */
		vcpu_device_call_begin(vcpu);
		if (is_write)
			err = vu_dev_region_write(d->c, b->idx, off, data, len);
		else
			err = vu_dev_region_read(d->c, b->idx, off, data, len);
		vcpu_device_call_end(vcpu);
		if (err)
			region_error(d, is_write ? "BAR write" : "BAR read", err);
	}
	if (err && !is_write)
		memset(data, 0xff, len);
	return 0;
}

static uint32_t bar_addr_mask(const struct vfio_bar *b)
{
	return (b->is_io ? ~3u : ~15u) & ~(uint32_t)(b->size - 1);
}

/* The address the guest has programmed into BAR @b (both halves if 64-bit). */
static uint64_t bar_programmed(struct vfio_dev *d, const struct vfio_bar *b)
{
	uint64_t a = atomic_load(&d->bar_reg[b->idx]) & bar_addr_mask(b);

	if (b->is_64 && b->idx + 1 < VFIO_NR_BARS)
		a |= (uint64_t)atomic_load(&d->bar_reg[b->idx + 1]) << 32;
	return a;
}

static void cfg_read(struct vcpu *vcpu, void *opaque, unsigned off, void *data, unsigned len)
{
	struct vfio_dev *d = opaque;
	unsigned dw = off & ~3u;
	uint32_t v;
	int err = -ENOTCONN;

	(void)vcpu;
	if (dw >= PCI_BAR0 && dw < PCI_BAR_END) {
		v = pci_cfg_extract(atomic_load(&d->bar_reg[(dw - PCI_BAR0) / 4]), off, len);
		memcpy(data, &v, len);
		return;
	}
	if (dw == PCI_ROM) {
		memset(data, 0, len);
		return;
	}
	if (vfio_irqs_cfg_read(d, off, data, len))
		return;
	if (!atomic_load(&d->failed))
		err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, off, data, len);
	if (err) {
		region_error(d, "config read", err);
		memset(data, 0xff, len);
		return;
	}
	if (off <= PCI_INT_LINE && off + len > PCI_INT_LINE)
		((uint8_t *)data)[PCI_INT_LINE - off] = d->irqfd_wired ? (uint8_t)d->gsi : 0xff;
	vfio_irqs_cfg_patch(d, off, data, len);
}

static uint64_t ram_end_high(const struct vm *vm)
{
	uint64_t size = vm->ram.size;

	return size > VM_MMIO_HOLE_START ? VM_MMIO_HOLE_END + size - VM_MMIO_HOLE_START
					 : VM_MMIO_HOLE_END;
}

/* Where a BAR may be decoded: ports above the legacy range, or memory in the
 * MMIO hole below the IOAPIC or above the end of RAM (1 TiB at most). */
static bool bar_range_ok(const struct vfio_dev *d, const struct vfio_bar *b, uint64_t base)
{
	uint64_t end = base + b->size;

	if (end < base)
		return false;
	if (b->is_io)
		return base >= VFIO_PIO_BASE && end <= VFIO_PIO_END;
	return (base >= VM_MMIO_HOLE_START && end <= VFIO_MMIO_END) ||
	       (base >= ram_end_high(d->vm) && end <= VFIO_MMIO_HIGH_END);
}

static int map_area(struct vfio_dev *d, struct vfio_bar *b, uint64_t off, uint64_t len)
{
	uint64_t piece[3][2];
	unsigned n;
	int r;

	if ((off | len) & 4095 || !len || off + len > b->map_len)
		return 0;   /* not page granular: stays trapped */
	/* The MSI-X table and PBA pages stay trapped (vigild emulates them). */
	n = vfio_msix_mappable(d, b->idx, off, len, piece);
	for (unsigned i = 0; i < n; i++) {
		if (b->nr_slot_regions == sizeof(b->slot_regions) / sizeof(b->slot_regions[0]))
			return -ENOSPC;
		r = memslots_add(&d->vm->slots, b->base + piece[i][0], piece[i][1],
				 (uint64_t)(uintptr_t)b->map + piece[i][0], 0);
		if (r < 0)
			return r;
		b->slot_regions[b->nr_slot_regions++] = r;
	}
	return 0;
}

/* Give the guest the server's mmap-able pages of @b at its current base. */
static int bar_map_areas(struct vfio_dev *d, struct vfio_bar *b)
{
	const struct vu_region *r = &b->region;
	int err = 0;

	if (!b->map)
		return 0;
	if (!r->has_sparse)
		return map_area(d, b, 0, b->map_len);
	for (unsigned i = 0; i < r->nr_sparse && !err; i++)
		err = map_area(d, b, r->sparse[i].offset, r->sparse[i].size);
	return err;
}

/* Stop decoding @b: no memslots, no trap. */
static void bar_undecode(struct vfio_dev *d, struct vfio_bar *b)
{
	for (unsigned k = 0; k < b->nr_slot_regions; k++)
		memslots_remove(&d->vm->slots, (uint32_t)b->slot_regions[k]);
	b->nr_slot_regions = 0;
	if (b->registered)
		iobus_unregister(b->is_io ? &d->vm->pio : &d->vm->mmio, b->base);
	b->registered = false;
	b->base = 0;
}

/* Decode @b at @base: trap the whole BAR, map what may be mapped. */
static int bar_decode(struct vfio_dev *d, struct vfio_bar *b, uint64_t base)
{
	int err;

	err = iobus_register(b->is_io ? &d->vm->pio : &d->vm->mmio, base, b->size, bar_io, b);
	if (err)
		return err;
	b->base = base;
	b->registered = true;
	err = bar_map_areas(d, b);
	if (err)
		bar_undecode(d, b);
	return err;
}

/*
 * Reactor: make what @b decodes follow its register. An address of 0 turns
 * decoding off; an address that would overlap RAM, another device or leave
 * the windows of bar_range_ok is refused (logged once per device): the
 * register keeps what the guest wrote, the BAR decodes nothing.
 */
static int bar_move(struct vfio_dev *d, struct vfio_bar *b)
{
	uint64_t to = bar_programmed(d, b);
	int err = 0;

	if (to == b->base && b->registered)
		return 0;
	bar_undecode(d, b);
	if (!to)
		return 0;
	if (!bar_range_ok(d, b, to))
		err = -ERANGE;
	else
		err = bar_decode(d, b, to);
	if (err && !atomic_exchange(&d->warned_relocate, true))
		log_warn("vfio-user %s: BAR%u cannot decode at %#llx (%s); it is off until moved",
			 d->name, b->idx, (unsigned long long)to, strerror(-err));
	return err;
}

static void bar_move_cb(struct mbox_msg *msg)
{
	struct vcpu_call *call = (struct vcpu_call *)msg;
	struct vfio_bar *b = msg->opaque;

	vcpu_call_complete(call, bar_move(b->dev, b));
}

/*
 * Tell the server what BAR register @i holds. vigild decodes BARs itself,
 * but a server may route accesses by its own copy of the registers as a PCI
 * function does (QEMU's x-vfio-user-server serves a BAR only while it is
 * mapped at a non-zero address with decoding enabled in the command register).
 */
static void bar_reg_forward(struct vfio_dev *d, unsigned i, uint32_t reg)
{
	int err;

	if (atomic_load(&d->failed))
		return;
	err = vu_dev_region_write(d->c, VFIO_PCI_CONFIG_REGION_INDEX, PCI_BAR0 + 4 * i, &reg, 4);
	if (err)
		region_error(d, "BAR register write", err);
}

static void bar_reg_write(struct vcpu *vcpu, struct vfio_dev *d, unsigned off,
			  const void *data, unsigned len)
{
	unsigned i = (off - PCI_BAR0) / 4;
	struct vfio_bar *b = &d->bar[i];
	struct vfio_bar *owner = b->is_upper ? &d->bar[i - 1] : b;
	uint32_t old = atomic_load(&d->bar_reg[i]), reg;
	uint64_t to;

	do {
		reg = old;
		memcpy((uint8_t *)&reg + (off & 3), data, len);
		/* The upper half of a 64-bit BAR is all address bits. */
		if (!b->is_upper)
			reg = b->size ? (reg & bar_addr_mask(b)) | b->flags : 0;
	} while (!atomic_compare_exchange_weak(&d->bar_reg[i], &old, reg));
	if (!owner->size)
		return;
	bar_reg_forward(d, i, reg);
	/* Sizing (all-ones in either half) is not a move; neither is writing
	 * back the address the BAR already decodes. */
	to = bar_programmed(d, owner);
	if ((uint32_t)to == bar_addr_mask(owner) || (owner->is_64 && to >> 32 == 0xffffffffu) ||
	    (to == owner->base && owner->registered))
		return;
	/* Memslots and the bus belong to the reactor: move it there. */
	vcpu->call.msg.opaque = owner;
	vcpu_call_reactor(vcpu, &vcpu->call, bar_move_cb, -1);
}

static void cfg_write(struct vcpu *vcpu, void *opaque, unsigned off, const void *data,
		      unsigned len)
{
	struct vfio_dev *d = opaque;
	unsigned dw = off & ~3u;
	int err;

	if (dw >= PCI_BAR0 && dw < PCI_BAR_END) {
		bar_reg_write(vcpu, d, off, data, len);
		return;
	}
	if (dw == PCI_ROM || (off == PCI_INT_LINE && len == 1))
		return;
	if (vfio_irqs_cfg_write(d, off, data, len))
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

/* First naturally aligned free range of @size in [lo, hi), from @hint on,
 * then from @lo. */
static int bar_alloc(struct iobus *bus, uint64_t lo, uint64_t hi, uint64_t hint,
		     uint64_t size, uint64_t *out)
{
	for (int pass = 0; pass < 2; pass++) {
		uint64_t a = ((pass ? lo : hint) + size - 1) & ~(size - 1);

		for (; a + size <= hi && a + size > a; a += size) {
			if (!iobus_overlaps(bus, a, size)) {
				*out = a;
				return 0;
			}
		}
	}
	return -ENOSPC;
}

/* Give BAR @b an address (MMIO hole or ports) at attach time and decode it. */
static int bar_place(struct vfio_dev *d, struct vfio_bar *b)
{
	struct vfio_set *s = d->set;
	uint64_t *next = b->is_io ? &s->next_pio : &s->next_mmio;
	uint64_t base;
	int err;

	if (b->is_io)
		err = bar_alloc(&d->vm->pio, VFIO_PIO_BASE, VFIO_PIO_END, *next, b->size, &base);
	else
		err = bar_alloc(&d->vm->mmio, VM_MMIO_HOLE_START, VFIO_MMIO_END, *next, b->size,
				&base);
	if (err)
		return err;
	err = bar_decode(d, b, base);
	if (!err)
		*next = base + b->size;
	return err;
}

/* Map the region's descriptor; which pages reach the guest is bar_map_areas'. */
static void bar_mmap(struct vfio_dev *d, struct vfio_bar *b, int fd)
{
	void *p;

	struct stat st;

	if (b->is_io || (b->region.size & 4095) || !(b->region.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return;
	/* A file shorter than the region would give the guest pages without
	 * backing (KVM_RUN fails on them): trap such a BAR instead. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size < b->region.offset + b->region.size) {
		log_warn("vfio-user %s: BAR%u's file is %lld bytes, the region needs %llu; trapping it",
			 d->name, b->idx, (long long)st.st_size,
			 (unsigned long long)(b->region.offset + b->region.size));
		return;
	}
	p = mmap(NULL, b->region.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)b->region.offset);
	if (p == MAP_FAILED) {
		log_warn("vfio-user %s: cannot map BAR%u (%s); trapping it", d->name, b->idx,
			 strerror(errno));
		return;
	}
	b->map = p;
	b->map_len = b->region.size;
}

static int bar_setup(struct vfio_dev *d, unsigned i)
{
	struct vfio_bar *b = &d->bar[i];
	uint32_t reg = 0;
	int fd, err;

	err = vu_dev_get_region_info(d->c, i, &b->region, &fd);
	if (err)
		return err;
	err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, PCI_BAR0 + 4 * i, &reg, 4);
	if (!err && b->region.size) {
		b->is_io = reg & 1;
		b->is_64 = !b->is_io && ((reg >> 1) & 3) == 2;
		b->flags = reg & (b->is_io ? 3u : 15u);
		b->region_size = b->region.size;
		b->size = pow2_at_least(b->region.size, b->is_io ? 4 : 4096);
		if (fd >= 0)
			bar_mmap(d, b, fd);
		err = bar_place(d, b);
		atomic_store(&d->bar_reg[i], (uint32_t)b->base | b->flags);
		if (!err)
			bar_reg_forward(d, i, (uint32_t)b->base | b->flags);
		if (!err && b->is_64 && i + 1 < VFIO_NR_BARS)
			bar_reg_forward(d, i + 1, 0);
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

		bar_undecode(d, b);
		if (b->map)
			munmap(b->map, b->map_len);
		b->map = NULL;
	}
}

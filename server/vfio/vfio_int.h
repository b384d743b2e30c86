/* vfio-user device internals shared by vfio_dev.c and vfio_pci.c. */
#ifndef VIGIL_VFIO_INT_H
#define VIGIL_VFIO_INT_H

#include <stdatomic.h>

#include "pci_host.h"
#include "vfio_dev.h"
#include "vu_dev.h"

#define VFIO_NR_BARS 6
#define VFIO_GSI_BASE 16
/* Ports given to I/O BARs: above the legacy ports vigild and PC guests use. */
#define VFIO_PIO_BASE 0x1000u
#define VFIO_PIO_END  0x10000u

struct vfio_bar {
	struct vfio_dev *dev;
	unsigned idx;
	_Atomic uint64_t base;   /* decoded guest address (MMIO) or port (I/O), 0: none */
	uint64_t size;           /* decoded size (power of two) */
	uint64_t region_size;    /* what the server has */
	uint32_t flags;          /* low bits of the BAR register (type) */
	bool is_io, is_64, is_upper;
	bool registered;
	void *map;               /* mmap of the region fd, or NULL */
	uint64_t map_len;
	struct vu_region region; /* the server's region info (sparse areas) */
	/* + 2: the MSI-X table and PBA pages can split areas */
	int slot_regions[VU_MAX_SPARSE_AREAS + 3];
	unsigned nr_slot_regions;
};

struct vfio_dev {
	struct vm *vm;
	struct vfio_set *set;
	uint32_t id;
	char name[32];
	struct vfio_dev_spec spec;
	struct vu_client *c;
	struct vu_device_info info;
	struct vfio_bar bar[VFIO_NR_BARS];
	/* What the guest reads back; written by vCPU threads, read by the
	 * reactor when a BAR moves. */
	_Atomic uint32_t bar_reg[VFIO_NR_BARS];
	unsigned slot, gsi;
	int irq_fd;
	bool irqfd_wired;
	struct vfio_irqs *irqs;           /* MSI/MSI-X (vfio_msi.h) */
	atomic_bool failed;
	_Atomic uint64_t dma_reads, dma_writes, dma_denied, region_calls;
	atomic_bool warned_relocate, warned_error;
};

struct vfio_set {
	struct vm *vm;
	struct pci_host *host;
	struct vfio_dev *dev;
	unsigned nr;
	uint64_t next_mmio, next_pio;
	vfio_dma_check_fn dma_check;
	void *dma_check_opaque;
};

/* vfio_pci.c */
extern const struct pci_fn_ops vfio_pci_ops;
int vfio_pci_setup_bars(struct vfio_dev *d);
void vfio_pci_teardown_bars(struct vfio_dev *d);

#endif

/* pci_probe's helpers, shared by the drives of pci_probe.c and qemu_devs.c. */
#ifndef PCI_PROBE_H
#define PCI_PROBE_H

#include "guest.h"

#define PCI_CMD_STATUS 0x04
#define PCI_CMD_IO     0x1u
#define PCI_CMD_MEM    0x2u
#define PCI_CMD_MASTER 0x4u
#define PCI_CAP_PTR    0x34
#define PCI_INT        0x3c

struct bar {
	uint64_t base, size;
	bool io, is64, present;
};

static inline uint32_t cfg_read32(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	return inl(0xcfc);
}

static inline void cfg_write32(unsigned slot, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	outl(0xcfc, v);
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline volatile uint8_t *mmio8(uint64_t a) { return (volatile uint8_t *)a; }
static inline volatile uint16_t *mmio16(uint64_t a) { return (volatile uint16_t *)a; }
static inline volatile uint32_t *mmio32(uint64_t a) { return (volatile uint32_t *)a; }
static inline volatile uint64_t *mmio64(uint64_t a) { return (volatile uint64_t *)a; }

/* Move BAR @i to @to (a 32-bit address or port) and return the old base. */
uint64_t bar_move(unsigned slot, unsigned i, const struct bar *b, uint32_t to);

/* Offset of the first capability @id in the standard list, 0 if none. */
unsigned pci_find_cap(unsigned slot, unsigned id, unsigned from);

/* Route the function's INTx (GSI = its interrupt line) to an edge-triggered
 * vector counting into irq_count; returns the GSI. */
unsigned intx_setup(unsigned slot);
extern volatile unsigned irq_count;
#define PROBE_IRQ_VECTOR 0x40
/* Wait until irq_count reaches @n (hlt between interrupts); false after
 * about @spins idle wake-ups without it. */
bool wait_irq(unsigned n, unsigned spins);

/* Drive QEMU's device models served over vfio-user (qemu_devs.c); returns
 * false for a function it does not know. */
bool drive_qemu_device(unsigned slot, uint32_t id, struct bar bars[6]);

#endif

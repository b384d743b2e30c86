/* PCI and interrupt helpers for the vfio test guests (no libc). */
#ifndef VIGIL_TEST_PCI_UTIL_H
#define VIGIL_TEST_PCI_UTIL_H

#include <stdint.h>

#define IOAPIC_BASE 0xfec00000UL
#define LAPIC_BASE  0xfee00000UL
#define MSI_ADDR(dest) (0xfee00000u | ((uint32_t)(dest) << 12))

uint32_t cfg_read32(unsigned slot, unsigned off);
void cfg_write32(unsigned slot, unsigned off, uint32_t v);
/* Slot of vendor:device, 0 if none. */
unsigned pci_find(uint16_t vendor, uint16_t device);
/* Offset of capability @id following the list as a driver does, 0 if none. */
unsigned pci_find_cap(unsigned slot, uint8_t id);
/* Size BAR @bar (expecting @size), check it is placed; return its address. */
uint64_t pci_bar(unsigned slot, unsigned bar, uint32_t size);

/* Software-enable the LAPIC (spurious vector 0xff, TPR 0). */
void lapic_enable(void);
void idt_gate(unsigned vec, void (*fn)(void));
/* Route GSI @gsi (edge, active high, physical APIC 0) to @vec. */
void ioapic_route(unsigned gsi, unsigned vec);

static inline volatile uint32_t *reg32(uint64_t base, unsigned off)
{
	return (volatile uint32_t *)(base + off);
}

static inline volatile uint64_t *reg64(uint64_t base, unsigned off)
{
	return (volatile uint64_t *)(base + off);
}

#endif

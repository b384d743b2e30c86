/* PCI and interrupt helpers for the vfio test guests. */
#include "guest.h"
#include "pci_util.h"

uint32_t cfg_read32(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	return inl(0xcfc);
}

void cfg_write32(unsigned slot, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	outl(0xcfc, v);
}

unsigned pci_find(uint16_t vendor, uint16_t device)
{
	GUEST_ASSERT_EQ(cfg_read32(0, 0) & 0xffff, 0x8086);   /* host bridge */
	for (unsigned slot = 1; slot < 32; slot++)
		if (cfg_read32(slot, 0) == (vendor | ((uint32_t)device << 16)))
			return slot;
	return 0;
}

unsigned pci_find_cap(unsigned slot, uint8_t id)
{
	unsigned at;

	if (!((cfg_read32(slot, 0x04) >> 16) & 0x10))
		return 0;
	at = cfg_read32(slot, 0x34) & 0xfc;
	for (unsigned n = 0; at && n < 48; n++) {
		uint32_t hdr = cfg_read32(slot, at);

		if ((hdr & 0xff) == id)
			return at;
		at = (hdr >> 8) & 0xfc;
	}
	return 0;
}

uint64_t pci_bar(unsigned slot, unsigned bar, uint32_t size)
{
	unsigned off = 0x10 + 4 * bar;
	uint32_t orig = cfg_read32(slot, off);

	/* Standard sizing: all-ones, read the mask back, restore. */
	cfg_write32(slot, off, 0xffffffffu);
	GUEST_ASSERT_EQ(cfg_read32(slot, off) & ~0xfu, ~(size - 1));
	cfg_write32(slot, off, orig);
	GUEST_ASSERT_EQ(cfg_read32(slot, off), orig);
	GUEST_ASSERT(orig >= 0xc0000000u);
	return orig & ~0xfu;
}

void lapic_enable(void)
{
	*(volatile uint32_t *)(LAPIC_BASE + 0xf0) = 0x1ff;   /* enable, spurious 0xff */
	*(volatile uint32_t *)(LAPIC_BASE + 0x80) = 0;       /* TPR */
}

void idt_gate(unsigned vec, void (*fn)(void))
{
	uint64_t a = (uint64_t)fn;
	uint32_t *gate = (uint32_t *)(VIGIL_GUEST_IDT + vec * 16);

	gate[0] = (uint32_t)(a & 0xffff) | ((uint32_t)VIGIL_SEL_KCODE << 16);
	gate[1] = (uint32_t)(a & 0xffff0000) | 0x8e00;
	gate[2] = (uint32_t)(a >> 32);
	gate[3] = 0;
}

static void ioapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	*(volatile uint32_t *)(IOAPIC_BASE + 0x10) = v;
}

void ioapic_route(unsigned gsi, unsigned vec)
{
	ioapic_write(0x11 + 2 * gsi, 0);
	ioapic_write(0x10 + 2 * gsi, vec);
}

/*
 * pci_probe: what a guest sees of vigild's PCI bus, and a few drives of
 * devices it knows.
 *
 * Prints an lspci-like listing of every function behind the host bridge
 * (IDs, class, BARs sized the standard way, capability list, interrupt pin
 * and line) on the serial console, then drives the devices it recognises:
 *   dead:beef  libvfio-user's samples/server: I/O BAR1 round trip, an access
 *              the server refuses (BAR0 takes only 8-byte accesses), BAR1
 *              moved to another port and back
 *   494f:0dc8  libvfio-user's samples/gpio-pci-idio-16: the input port
 *   1de5:d0a1  vigil's vu-dma: memory BARs moved (trapped and mapped pages)
 *   QEMU's device models served by QEMU's x-vfio-user-server: edu, pci-testdev,
 *              e1000, e1000e, nvme, lsi53c895a, virtio-net/blk (qemu_devs.c)
 * Any other function is listed only. The guest ends with GUEST_DONE, or an
 * assertion (vigild exit status 1) when a device misbehaves.
 *
 *   vigild run --guest pci_probe.elf --device vfio-user,socket=PATH
 */
#include "guest.h"
#include "dma_dev.h"
#include "pci_probe.h"

#define PCI_CLASS_REV  0x08
#define PCI_HEADER     0x0c
#define PCI_SUBSYS     0x2c

#define IOAPIC_BASE 0xfec00000UL
#define LAPIC_BASE  0xfee00000UL
#define IRQ_VECTOR  PROBE_IRQ_VECTOR

volatile unsigned irq_count;
void probe_irq_entry(void);
__asm__(".globl probe_irq_entry\n"
	"probe_irq_entry:\n"
	"  push %rax\n"
	"  lock incl irq_count(%rip)\n"
	"  mov $0xfee000b0, %eax\n"      /* LAPIC EOI */
	"  movl $0, (%rax)\n"
	"  pop %rax\n"
	"  iretq\n");

static void ioapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)IOAPIC_BASE = reg;
	*(volatile uint32_t *)(IOAPIC_BASE + 0x10) = v;
}

unsigned intx_setup(unsigned slot)
{
	unsigned gsi = cfg_read32(slot, PCI_INT) & 0xff;
	uint64_t gate = (uint64_t)probe_irq_entry;
	uint32_t *g = (uint32_t *)(VIGIL_GUEST_IDT + IRQ_VECTOR * 16);

	GUEST_ASSERT(gsi >= 16 && gsi < 24);
	g[0] = (uint32_t)(gate & 0xffff) | ((uint32_t)VIGIL_SEL_KCODE << 16);
	g[1] = (uint32_t)(gate & 0xffff0000) | 0x8e00;
	g[2] = (uint32_t)(gate >> 32);
	g[3] = 0;
	*(volatile uint32_t *)(LAPIC_BASE + 0xf0) = 0x1ff;   /* enable, spurious 0xff */
	*(volatile uint32_t *)(LAPIC_BASE + 0x80) = 0;       /* TPR */
	ioapic_write(0x11 + 2 * gsi, 0);
	ioapic_write(0x10 + 2 * gsi, IRQ_VECTOR);            /* edge, high, unmasked */
	return gsi;
}

bool wait_irq(unsigned n, unsigned spins)
{
	for (unsigned i = 0; i < spins && irq_count < n; i++)
		__asm__ volatile("sti; pause; pause; cli" ::: "memory");
	return irq_count >= n;
}

unsigned pci_find_cap(unsigned slot, unsigned id, unsigned from)
{
	unsigned ptr = from ? (cfg_read32(slot, from) >> 8) & 0xfc
			    : cfg_read32(slot, PCI_CAP_PTR) & 0xfc;

	if (!(cfg_read32(slot, PCI_CMD_STATUS) & (1u << 20)))
		return 0;
	for (unsigned n = 0; ptr && n < 48; n++) {
		uint32_t h = cfg_read32(slot, ptr);

		if ((h & 0xff) == id)
			return ptr;
		ptr = (h >> 8) & 0xfc;
	}
	return 0;
}

/* Size BAR @i the standard way (all-ones, read the mask, restore). Returns
 * the number of BAR registers it takes (2 for a 64-bit memory BAR). */
static unsigned bar_probe(unsigned slot, unsigned i, struct bar *b)
{
	unsigned off = 0x10 + 4 * i;
	uint32_t orig = cfg_read32(slot, off), mask, hi = 0, hi_mask = 0;

	memset(b, 0, sizeof(*b));
	cfg_write32(slot, off, 0xffffffffu);
	mask = cfg_read32(slot, off);
	cfg_write32(slot, off, orig);
	b->io = orig & 1;
	b->is64 = !b->io && ((orig >> 1) & 3) == 2;
	if (b->is64 && i < 5) {
		hi = cfg_read32(slot, off + 4);
		cfg_write32(slot, off + 4, 0xffffffffu);
		hi_mask = cfg_read32(slot, off + 4);
		cfg_write32(slot, off + 4, hi);
	}
	mask &= b->io ? ~3u : ~15u;
	if (mask) {
		uint64_t m = ((uint64_t)hi_mask << 32) | mask;

		if (!b->is64)
			m |= 0xffffffff00000000ULL;
		b->size = ~m + 1;
		b->base = (((uint64_t)hi << 32) | orig) & (b->io ? ~3ULL : ~15ULL);
		b->present = true;
	}
	return b->is64 ? 2 : 1;
}

static void list_caps(unsigned slot)
{
	unsigned ptr = cfg_read32(slot, PCI_CAP_PTR) & 0xfc;

	if (!(cfg_read32(slot, PCI_CMD_STATUS) & (1u << 20)))
		return;
	for (unsigned n = 0; ptr && n < 48; n++) {
		uint32_t h = cfg_read32(slot, ptr);

		GUEST_PRINTF("  capability 0x%02x at 0x%02x\n", h & 0xff, ptr);
		ptr = (h >> 8) & 0xfc;
	}
}

static void list_function(unsigned slot, struct bar bars[6])
{
	uint32_t id = cfg_read32(slot, 0), cr = cfg_read32(slot, PCI_CLASS_REV);
	uint32_t ss = cfg_read32(slot, PCI_SUBSYS), in = cfg_read32(slot, PCI_INT);

	GUEST_PRINTF("00:%02x.0 %04x:%04x class %06x rev %02x subsystem %04x:%04x header %02x\n",
		     slot, id & 0xffff, id >> 16, cr >> 8, cr & 0xff, ss & 0xffff, ss >> 16,
		     (cfg_read32(slot, PCI_HEADER) >> 16) & 0x7f);
	memset(bars, 0, 6 * sizeof(*bars));
	for (unsigned i = 0, n; i < 6; i += n) {
		struct bar *b = &bars[i];

		n = bar_probe(slot, i, b);
		if (b->present)
			GUEST_PRINTF("  BAR%u %s%s at 0x%llx size 0x%llx\n", i, b->io ? "io" : "mem",
				     b->is64 ? " 64-bit" : "", (unsigned long long)b->base,
				     (unsigned long long)b->size);
	}
	GUEST_PRINTF("  interrupt pin %u line %u\n", (in >> 8) & 0xff, in & 0xff);
	list_caps(slot);
	/* Turn decoding on, as firmware does: a function answers at its BARs
	 * only with I/O and memory space enabled in its command register. */
	cfg_write32(slot, PCI_CMD_STATUS,
		    (cfg_read32(slot, PCI_CMD_STATUS) & 0xffff) | PCI_CMD_IO | PCI_CMD_MEM);
}

/* Move BAR @i to @to (a 32-bit address or port) and return the old base. */
uint64_t bar_move(unsigned slot, unsigned i, const struct bar *b, uint32_t to)
{
	cfg_write32(slot, 0x10 + 4 * i, to | (cfg_read32(slot, 0x10 + 4 * i) & (b->io ? 3u : 15u)));
	return b->base;
}

static void drive_lvu_server(unsigned slot, struct bar bars[6])
{
	struct bar *b0 = &bars[0], *b1 = &bars[1];
	uint16_t p1, moved = 0xc000;   /* free unless many devices take ports */

	GUEST_ASSERT(b0->present && b0->io && b1->present && b1->io);
	p1 = (uint16_t)b1->base;
	outl(p1, 0x12345678);
	GUEST_ASSERT_EQ(inl(p1), 0x12345678);
	/* The server takes only 8-byte BAR0 accesses: it answers an error,
	 * the guest reads all-ones, and the device stays usable. */
	GUEST_ASSERT_EQ(inl((uint16_t)b0->base), 0xffffffffu);
	outl(p1, 0x9abcdef0);
	GUEST_ASSERT_EQ(inl(p1), 0x9abcdef0);
	/* Move BAR1 and back. */
	GUEST_ASSERT(b1->size <= 0x4000);
	bar_move(slot, 1, b1, moved);
	GUEST_ASSERT_EQ(cfg_read32(slot, 0x14), moved | 1u);
	GUEST_ASSERT_EQ(inl(moved), 0x9abcdef0);
	GUEST_ASSERT_EQ(inl(p1), 0xffffffffu);   /* nothing decodes there now */
	bar_move(slot, 1, b1, p1);
	GUEST_ASSERT_EQ(inl(p1), 0x9abcdef0);
	GUEST_PRINTF("drive 00:%02x.0 libvfio-user server: BAR1 round trip, refused access, BAR1 moved: ok\n",
		     slot);
}

static void drive_lvu_gpio(unsigned slot, struct bar bars[6])
{
	struct bar *b2 = &bars[2];
	uint8_t v[9];

	GUEST_ASSERT(b2->present && b2->io);
	for (unsigned i = 0; i < 9; i++)
		v[i] = inb((uint16_t)b2->base);
	/* The sample's input port counts up once every three reads. */
	for (unsigned i = 1; i < 9; i++)
		GUEST_ASSERT(v[i] == v[i - 1] || v[i] == (uint8_t)(v[i - 1] + 1));
	GUEST_ASSERT(v[8] != v[0]);
	GUEST_PRINTF("drive 00:%02x.0 libvfio-user gpio: inputs %u %u %u %u %u %u %u %u %u: ok\n",
		     slot, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
}

static void drive_vu_dma(unsigned slot, struct bar bars[6])
{
	struct bar *b0 = &bars[0], *b2 = &bars[2];
	uint64_t old0 = b0->base, old2 = b2->base;
	uint64_t to0 = 0xd0000000, to2 = 0xd0100000;
	volatile uint32_t *id, *mapped;

	GUEST_ASSERT(b0->present && !b0->io && b2->present && !b2->io);
	mapped = (volatile uint32_t *)(old2 + 4096);
	*mapped = 0x5a5a1234;
	bar_move(slot, 0, b0, (uint32_t)to0);
	bar_move(slot, 2, b2, (uint32_t)to2);
	id = (volatile uint32_t *)(to0 + DMA_DEV_REG_ID);
	GUEST_ASSERT_EQ(*id, DMA_DEV_ID);                                   /* trapped */
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(to2 + 4096), 0x5a5a1234);    /* mapped page */
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(old0 + DMA_DEV_REG_ID), 0xffffffffu);
	bar_move(slot, 0, b0, (uint32_t)old0);
	bar_move(slot, 2, b2, (uint32_t)old2);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(old0 + DMA_DEV_REG_ID), DMA_DEV_ID);
	GUEST_ASSERT_EQ(*mapped, 0x5a5a1234);
	/* Refused moves: onto guest RAM, onto the other BAR. The register keeps
	 * what was written, the BAR decodes nothing until it is moved again. */
	bar_move(slot, 0, b0, 0x00200000);
	GUEST_ASSERT_EQ(cfg_read32(slot, 0x10) & ~0xfu, 0x00200000);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(old0 + DMA_DEV_REG_ID), 0xffffffffu);
	bar_move(slot, 0, b0, (uint32_t)old0);
	GUEST_ASSERT(old0 % b2->size == 0);
	bar_move(slot, 2, b2, (uint32_t)old0);
	GUEST_ASSERT_EQ(*(volatile uint32_t *)(old0 + DMA_DEV_REG_ID), DMA_DEV_ID);
	bar_move(slot, 2, b2, (uint32_t)old2);
	GUEST_ASSERT_EQ(*mapped, 0x5a5a1234);
	GUEST_PRINTF("drive 00:%02x.0 vu-dma: BAR0 and BAR2 moved and back, moves onto RAM and onto BAR0 refused: ok\n",
		     slot);
}

void guest_main(unsigned id, unsigned nr)
{
	unsigned found = 0;

	(void)nr;
	if (id)
		return;
	GUEST_ASSERT_EQ(cfg_read32(0, 0), 0x12378086u);   /* vigild's host bridge */
	for (unsigned slot = 1; slot < 32; slot++) {
		uint32_t dev_id = cfg_read32(slot, 0);
		struct bar bars[6];

		if ((dev_id & 0xffff) == 0xffff)
			continue;
		found++;
		list_function(slot, bars);
		if (dev_id == 0xbeefdead)
			drive_lvu_server(slot, bars);
		else if (dev_id == 0x0dc8494f)
			drive_lvu_gpio(slot, bars);
		else if (dev_id == (DMA_DEV_VENDOR | ((uint32_t)DMA_DEV_DEVICE << 16)))
			drive_vu_dma(slot, bars);
		else
			drive_qemu_device(slot, dev_id, bars);
	}
	GUEST_PRINTF("pci_probe: %u function(s) behind the host bridge\n", found);
	GUEST_DONE();
}

/*
 * Guest driver for vu-dma's MSI and MSI-X interrupts (vu-dma --irq=...).
 *
 * The guest walks the capability list as a driver does, programs MSI-X table
 * entries or the MSI registers (address 0xFEE00000 | dest << 12, data =
 * vector), takes the completion interrupt on the vector the device used,
 * masks a vector to see its pending bit set and delivery on unmask, and
 * checks that enabling MSI/MSI-X takes INTx away and disabling brings it back.
 */
#include "guest.h"
#include "dma_dev.h"
#include "pci_util.h"
#include "vfio_guest.h"

#define INTX_VEC 0x41
/* Bounded waits (a lost interrupt fails, not hangs), in TSC cycles: about
 * 5-10 s. The irqfd injection runs in a host worker, which a loaded host may
 * delay by far more than a fixed number of guest loop turns. */
#define WAIT_TSC 20000000000ULL

volatile unsigned hits[256];

/* One entry stub per vector: count, EOI, return. */
#define IRQ_STUB(v)                                                     \
	void irq_##v(void);                                             \
	__asm__(".globl irq_" #v "\nirq_" #v ":\n"                      \
		"  push %rax\n"                                         \
		"  lock incl hits+4*" #v "(%rip)\n"                     \
		"  mov $0xfee000b0, %eax\n"                             \
		"  movl $0, (%rax)\n"                                   \
		"  pop %rax\n"                                          \
		"  iretq\n")
IRQ_STUB(0x41);
IRQ_STUB(0x50);
IRQ_STUB(0x51);
IRQ_STUB(0x52);
IRQ_STUB(0x60);
IRQ_STUB(0x61);
IRQ_STUB(0x70);
IRQ_STUB(0x71);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void gates(void)
{
	idt_gate(0x41, irq_0x41);
	idt_gate(0x50, irq_0x50);
	idt_gate(0x51, irq_0x51);
	idt_gate(0x52, irq_0x52);
	idt_gate(0x60, irq_0x60);
	idt_gate(0x61, irq_0x61);
	idt_gate(0x70, irq_0x70);
	idt_gate(0x71, irq_0x71);
}

static void wait_hits(unsigned vec, unsigned n)
{
	uint64_t t0 = rdtsc();

	while (hits[vec] < n && rdtsc() - t0 < WAIT_TSC)
		__asm__ volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_MSG(hits[vec] >= n, "vector 0x%x: %u interrupts, expected %u", vec,
			 hits[vec], n);
}

/* Interrupts open for a while; vector @vec must still have @n. */
static void no_more(unsigned vec, unsigned n)
{
	for (unsigned i = 0; i < 200; i++)
		__asm__ volatile("sti; nop; cli" ::: "memory");
	GUEST_ASSERT_EQ(hits[vec], n);
}

/* The device signals vector @vector of whatever mode is on (or INTx). */
static void fire(uint64_t bar0, unsigned vector)
{
	*reg32(bar0, DMA_DEV_REG_VECTOR) = vector;
	*reg32(bar0, DMA_DEV_REG_LEN) = 0;
	*reg32(bar0, DMA_DEV_REG_DOORBELL) = 1;
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_STATUS), DMA_DEV_STATUS_DONE);
}

static uint32_t irq_mode(uint64_t bar0)
{
	return *reg32(bar0, DMA_DEV_REG_IRQ_MODE);
}

static void msix_entry(volatile uint32_t *t, unsigned i, unsigned vec, bool masked)
{
	t[i * 4 + 0] = MSI_ADDR(0);
	t[i * 4 + 1] = 0;
	t[i * 4 + 2] = vec;
	t[i * 4 + 3] = masked;
}

#define MSIX_ON   (0x8000u << 16)
#define MSIX_MASK (0x4000u << 16)

/* Mask one vector, then the function: pending bits, delivery on unmask. */
static void msix_masking(unsigned slot, unsigned cap, uint64_t bar0, volatile uint32_t *t,
			 volatile uint64_t *pba)
{
	t[1 * 4 + 3] = 1;
	fire(bar0, 1);
	no_more(0x51, 1);
	GUEST_ASSERT_EQ(pba[0], 1u << 1);
	t[1 * 4 + 3] = 0;
	wait_hits(0x51, 2);
	GUEST_ASSERT_EQ(pba[0], 0);

	cfg_write32(slot, cap, MSIX_ON | MSIX_MASK);
	fire(bar0, 0);
	no_more(0x50, 1);
	GUEST_ASSERT_EQ(pba[0], 1u << 0);
	cfg_write32(slot, cap, MSIX_ON);
	wait_hits(0x50, 2);
	GUEST_ASSERT_EQ(pba[0], 0);

	/* A vector the guest never unmasked only ever pends. */
	fire(bar0, 5);
	GUEST_ASSERT_EQ(pba[0], 1u << 5);
}

static void scenario_msix(unsigned slot, uint64_t bar0)
{
	unsigned cap = pci_find_cap(slot, 0x11);
	uint32_t tbl = cfg_read32(slot, cap + 4), pba = cfg_read32(slot, cap + 8);
	uint64_t bar4;
	volatile uint32_t *t;

	GUEST_ASSERT_EQ(cap, DMA_DEV_CAP_MSIX);
	GUEST_ASSERT_EQ(pci_find_cap(slot, 0x01), DMA_DEV_CAP_PM);
	GUEST_ASSERT_EQ(((cfg_read32(slot, cap) >> 16) & 0x7ff) + 1, DMA_DEV_MSIX_VECTORS);
	GUEST_ASSERT_EQ(tbl & 7, 4);
	bar4 = pci_bar(slot, 4, DMA_DEV_BAR4_SIZE);
	t = (volatile uint32_t *)(bar4 + (tbl & ~7u));
	GUEST_ASSERT_EQ(t[3], 1);                        /* vectors start masked */
	/* As Linux does: enable with the function masked, program, unmask. */
	cfg_write32(slot, cap, MSIX_ON | MSIX_MASK);
	GUEST_ASSERT_EQ(irq_mode(bar0) & 7, DMA_DEV_IRQ_MSIX);   /* INTx taken away */
	GUEST_ASSERT(irq_mode(bar0) & DMA_DEV_IRQ_MSIX_CFG);     /* enable forwarded */
	msix_entry(t, 0, 0x50, false);
	msix_entry(t, 1, 0x51, false);
	GUEST_ASSERT_EQ(t[1 * 4 + 2], 0x51);
	cfg_write32(slot, cap, MSIX_ON);
	fire(bar0, 0);
	wait_hits(0x50, 1);
	fire(bar0, 1);
	wait_hits(0x51, 1);
	msix_masking(slot, cap, bar0, t, (volatile uint64_t *)(bar4 + (pba & ~7u)));
	/* Retarget a live vector. */
	t[0 * 4 + 2] = 0x52;
	fire(bar0, 0);
	wait_hits(0x52, 1);
	/* BAR4 outside the table and PBA is the server's memory, mapped. */
	*reg32(bar4, 0) = 0x1234abcd;
	GUEST_ASSERT_EQ(*reg32(bar4, 0), 0x1234abcd);
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_BAR4_CALLS), 0);
	/* Disabled: INTx is back. */
	cfg_write32(slot, cap, 0);
	GUEST_ASSERT_EQ(irq_mode(bar0) & 0x207, DMA_DEV_IRQ_INTX);
	fire(bar0, 0);
	wait_hits(INTX_VEC, 1);
}

static void scenario_msi(unsigned slot, uint64_t bar0)
{
	unsigned cap = pci_find_cap(slot, 0x05);
	uint32_t ctrl = cfg_read32(slot, cap) >> 16;

	GUEST_ASSERT_EQ(cap, DMA_DEV_CAP_MSI);
	GUEST_ASSERT_EQ(pci_find_cap(slot, 0x11), 0);
	GUEST_ASSERT_EQ(ctrl & 0x180, 0x180);                    /* 64-bit, per-vector mask */
	GUEST_ASSERT_EQ((ctrl >> 1) & 7, 2);                     /* 4 vectors */
	cfg_write32(slot, cap + 4, MSI_ADDR(0));
	cfg_write32(slot, cap + 8, 0);
	cfg_write32(slot, cap + 12, 0x60);
	cfg_write32(slot, cap + 16, 0);
	GUEST_ASSERT_EQ(cfg_read32(slot, cap + 4), MSI_ADDR(0));
	cfg_write32(slot, cap, ((1u << 4) | 1u) << 16);          /* 2 vectors, enable */
	GUEST_ASSERT_EQ((cfg_read32(slot, cap) >> 16) & 0x71, 0x11);
	GUEST_ASSERT_EQ(irq_mode(bar0) & 7, DMA_DEV_IRQ_MSI);
	GUEST_ASSERT(irq_mode(bar0) & DMA_DEV_IRQ_MSI_CFG);
	fire(bar0, 0);
	wait_hits(0x60, 1);
	fire(bar0, 1);
	wait_hits(0x61, 1);
	cfg_write32(slot, cap + 16, 1u << 1);                    /* mask vector 1 */
	fire(bar0, 1);
	no_more(0x61, 1);
	GUEST_ASSERT_EQ(cfg_read32(slot, cap + 20), 1u << 1);    /* pending */
	cfg_write32(slot, cap + 16, 0);
	wait_hits(0x61, 2);
	GUEST_ASSERT_EQ(cfg_read32(slot, cap + 20), 0);
	cfg_write32(slot, cap + 12, 0x70);                       /* retarget both */
	fire(bar0, 0);
	wait_hits(0x70, 1);
	fire(bar0, 1);
	wait_hits(0x71, 1);
	cfg_write32(slot, cap, 0);
	GUEST_ASSERT_EQ(irq_mode(bar0) & 0x107, DMA_DEV_IRQ_INTX);
	fire(bar0, 0);
	wait_hits(INTX_VEC, 1);
}

/* The server's MSI-X capability is unusable: the guest must not see it. */
static void scenario_no_msi(unsigned slot, uint64_t bar0)
{
	GUEST_ASSERT_EQ(pci_find_cap(slot, 0x11), 0);
	GUEST_ASSERT_EQ(pci_find_cap(slot, 0x05), 0);
	GUEST_ASSERT_EQ(pci_find_cap(slot, 0x01), DMA_DEV_CAP_PM);
	GUEST_ASSERT_EQ(irq_mode(bar0) & 7, DMA_DEV_IRQ_INTX);
	fire(bar0, 0);
	wait_hits(INTX_VEC, 1);
}

void guest_main(unsigned id, unsigned nr)
{
	unsigned scenario, slot;
	uint64_t bar0;

	(void)nr;
	if (id)
		return;
	scenario = (unsigned)GUEST_SYNC(SYNC_SCENARIO);
	slot = pci_find(DMA_DEV_VENDOR, DMA_DEV_DEVICE);
	GUEST_ASSERT(slot);
	bar0 = pci_bar(slot, 0, DMA_DEV_BAR0_SIZE);
	gates();
	lapic_enable();
	ioapic_route(cfg_read32(slot, 0x3c) & 0xff, INTX_VEC);
	switch (scenario) {
	case SCENARIO_MSIX:
		scenario_msix(slot, bar0);
		break;
	case SCENARIO_MSI:
		scenario_msi(slot, bar0);
		break;
	case SCENARIO_NO_MSI:
		scenario_no_msi(slot, bar0);
		break;
	default:
		GUEST_ASSERT(0);
	}
	GUEST_PRINTF("msi guest: scenario %u ok", scenario);
}

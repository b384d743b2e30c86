/*
 * Guest driver for the vu-dma device behind vigild's PCI host bridge.
 *
 * The host picks the scenario (answer to GUEST_SYNC(SYNC_SCENARIO)). The guest
 * finds the device with configuration mechanism #1, sizes and reads its BARs,
 * drives registers over MMIO, takes the completion interrupt through the
 * IOAPIC and LAPIC, and checks what a failed device looks like (all-ones).
 */
#include "guest.h"
#include "dma_dev.h"
#include "pci_util.h"
#include "vfio_guest.h"

#define IRQ_VECTOR  0x40

volatile unsigned irq_count;
void dma_irq_entry(void);
__asm__(".globl dma_irq_entry\n"
	"dma_irq_entry:\n"
	"  push %rax\n"
	"  lock incl irq_count(%rip)\n"
	"  mov $0xfee000b0, %eax\n"      /* LAPIC EOI */
	"  movl $0, (%rax)\n"
	"  pop %rax\n"
	"  iretq\n");

static uint8_t src[8192] __attribute__((aligned(4096)));
static uint8_t dst[8192] __attribute__((aligned(4096)));

static unsigned find_device(void)
{
	return pci_find(DMA_DEV_VENDOR, DMA_DEV_DEVICE);
}

/* Route GSI @gsi to vector IRQ_VECTOR on APIC 0. */
static void irq_setup(unsigned gsi)
{
	idt_gate(IRQ_VECTOR, dma_irq_entry);
	lapic_enable();
	ioapic_route(gsi, IRQ_VECTOR);
}

static void wait_irq(unsigned n)
{
	while (irq_count < n)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

static void do_copy(uint64_t bar0, uint32_t len)
{
	*reg64(bar0, DMA_DEV_REG_SRC) = (uint64_t)src;
	*reg64(bar0, DMA_DEV_REG_DST) = (uint64_t)dst;
	*reg32(bar0, DMA_DEV_REG_LEN) = len;
	*reg32(bar0, DMA_DEV_REG_DOORBELL) = 1;
}

static void scenario_regions(unsigned slot, uint64_t bar0, uint64_t bar2)
{
	volatile uint32_t *trapped = reg32(bar2, 0x10), *mapped = reg32(bar2, 4096 + 0x10);

	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_ID), DMA_DEV_ID);
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_RESETS), 1);   /* vigild reset it at attach */
	*reg64(bar0, DMA_DEV_REG_SCRATCH) = 0x0123456789abcdefULL;
	GUEST_ASSERT_EQ(*reg64(bar0, DMA_DEV_REG_SCRATCH), 0x0123456789abcdefULL);
	/* BAR2: first page trapped, second page mapped (sparse mmap). */
	*trapped = 0xcafe0001;
	GUEST_ASSERT_EQ(*trapped, 0xcafe0001);
	*mapped = 0xcafe0002;
	GUEST_ASSERT_EQ(*mapped, 0xcafe0002);
	/* Beyond the device's 4 KiB inside BAR0's decode: nothing there. */
	GUEST_ASSERT_EQ(cfg_read32(slot, 0x30), 0);   /* no ROM */
	guest_ucall(VIGIL_UCALL_SYNC, SYNC_REGIONS_DONE, 0, NULL);
}

static void scenario_dma(uint64_t bar0, unsigned gsi, uint32_t expect_status)
{
	uint32_t len = sizeof(src) - 100;

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	irq_setup(gsi);
	do_copy(bar0, len);
	wait_irq(1);
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_STATUS), expect_status);
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_IRQS), 1);
	if (expect_status == DMA_DEV_STATUS_DONE)
		GUEST_ASSERT_EQ(memcmp(src, dst, len), 0);
	else
		GUEST_ASSERT_EQ(dst[0] | dst[100] | dst[len - 1], 0);
}

static void scenario_fail(unsigned slot, uint64_t bar0)
{
	do_copy(bar0, 64);
	/* The device is gone: all-ones everywhere, and the guest goes on. */
	GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_ID), 0xffffffffu);
	GUEST_ASSERT_EQ(*reg64(bar0, DMA_DEV_REG_SCRATCH), ~0ULL);
	GUEST_ASSERT_EQ(cfg_read32(slot, 0), 0xffffffffu);
}

static void bench_phase(unsigned phase)
{
	guest_ucall(VIGIL_UCALL_SYNC, SYNC_BENCH, phase, NULL);
}

/* Exit costs: a port write nobody but vigild sees (baseline), a trapped BAR
 * read (REGION_READ round trip), a read of the mmap'ed BAR page (no exit),
 * then whole DMA copies polled to completion. */
static void scenario_bench(uint64_t bar0, uint64_t bar2)
{
	volatile uint32_t *mapped = reg32(bar2, 4096);
	uint32_t sum = 0;

	bench_phase(BENCH_NOP);
	for (unsigned i = 0; i < BENCH_ITERS; i++)
		outl(VIGIL_PORT_NOP, i);
	bench_phase(BENCH_BAR_TRAPPED);
	for (unsigned i = 0; i < BENCH_ITERS; i++)
		sum += *reg32(bar0, DMA_DEV_REG_STATUS);
	bench_phase(BENCH_BAR_MAPPED);
	for (unsigned i = 0; i < BENCH_ITERS; i++)
		sum += *mapped;
	bench_phase(BENCH_DMA_COPY);
	for (unsigned i = 0; i < BENCH_COPIES; i++) {
		do_copy(bar0, sizeof(src));
		GUEST_ASSERT_EQ(*reg32(bar0, DMA_DEV_REG_STATUS), DMA_DEV_STATUS_DONE);
	}
	bench_phase(BENCH_END);
	GUEST_ASSERT(sum != 1);
}

void guest_main(unsigned id, unsigned nr)
{
	unsigned scenario, slot, gsi;
	uint64_t bar0, bar2;

	(void)nr;
	if (id)
		return;
	/* vigild answers 0 to every SYNC: the plain DMA run. */
	scenario = (unsigned)GUEST_SYNC(SYNC_SCENARIO);
	if (!scenario)
		scenario = SCENARIO_DMA;
	slot = find_device();
	GUEST_ASSERT(slot);
	bar0 = pci_bar(slot, 0, DMA_DEV_BAR0_SIZE);
	bar2 = pci_bar(slot, 2, 8192);
	gsi = cfg_read32(slot, 0x3c) & 0xff;
	GUEST_ASSERT_EQ((cfg_read32(slot, 0x3c) >> 8) & 0xff, 1);   /* INTA# */
	guest_ucall(VIGIL_UCALL_SYNC, SYNC_FOUND, bar0, NULL);
	switch (scenario) {
	case SCENARIO_REGIONS:
		scenario_regions(slot, bar0, bar2);
		break;
	case SCENARIO_DMA:
		scenario_dma(bar0, gsi, DMA_DEV_STATUS_DONE);
		break;
	case SCENARIO_DMA_PROTECTED:
		guest_ucall(VIGIL_UCALL_SYNC, SYNC_PROTECT, (uint64_t)dst, NULL);
		scenario_dma(bar0, gsi, (uint32_t)GUEST_SYNC(SYNC_EXPECTED_STATUS));
		break;
	case SCENARIO_FAIL:
		scenario_fail(slot, bar0);
		break;
	case SCENARIO_BENCH:
		scenario_bench(bar0, bar2);
		break;
	default:
		GUEST_ASSERT(0);
	}
	GUEST_PRINTF("dma guest: scenario %u ok", scenario);
}

/*
 * Guest for the vigil trace --dma tests: waits for a vigil tool (hello on
 * the hypercall doorbell), then has the vu-dma device copy DMA_CLI_LEN bytes
 * from DMA_CLI_SRC to DMA_CLI_DST1, then to DMA_CLI_DST2, prints each
 * STATUS and ends the VM with status 0.
 */
#include <vigil/kvmi.h>

#include "dma_cli.h"
#include "dma_dev.h"
#include "guest.h"

static uint32_t pci_read32(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	return inl(0xcfc);
}

static int wait_for_tool(void)
{
	for (unsigned i = 0; i < DMA_CLI_HELLO_TRIES; i++) {
		uint32_t v = DMA_CLI_HELLO;

		__asm__ volatile("outl %%eax, %%dx" : "+a"(v) : "d"(VIGIL_KVMI_HYPERCALL_PORT) : "memory");
		if (v == DMA_CLI_READY)
			return 1;
	}
	return 0;
}

static uint32_t copy(volatile uint8_t *bar0, uint64_t dst)
{
	*(volatile uint64_t *)(bar0 + DMA_DEV_REG_SRC) = DMA_CLI_SRC;
	*(volatile uint64_t *)(bar0 + DMA_DEV_REG_DST) = dst;
	*(volatile uint32_t *)(bar0 + DMA_DEV_REG_LEN) = DMA_CLI_LEN;
	*(volatile uint32_t *)(bar0 + DMA_DEV_REG_DOORBELL) = 1;   /* copies, then returns */
	return *(volatile uint32_t *)(bar0 + DMA_DEV_REG_STATUS);
}

void guest_main(unsigned id, unsigned nr)
{
	volatile uint8_t *bar0 = 0;
	uint32_t s1, s2;

	(void)nr;
	if (id)
		return;
	for (unsigned i = 0; i < DMA_CLI_LEN; i++)
		((volatile uint8_t *)DMA_CLI_SRC)[i] = (uint8_t)(i + 1);
	for (unsigned slot = 1; slot < 32 && !bar0; slot++)
		if (pci_read32(slot, 0) == (DMA_DEV_VENDOR | ((uint32_t)DMA_DEV_DEVICE << 16)))
			bar0 = (volatile uint8_t *)(uintptr_t)(pci_read32(slot, 0x10) & ~0xfu);
	GUEST_ASSERT(bar0);
	GUEST_PRINTF("dma guest: waiting for a vigil tool\n");
	if (!wait_for_tool())
		guest_exit(3);
	s1 = copy(bar0, DMA_CLI_DST1);
	s2 = copy(bar0, DMA_CLI_DST2);
	GUEST_PRINTF("dma guest: copy 1 status %x, copy 2 status %x\n", s1, s2);
	guest_exit(0);
}

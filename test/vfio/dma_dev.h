/*
 * Register layout of the vu-dma test device (shared by the device server, the
 * host tests and the guest driver; no libc).
 */
#ifndef VIGIL_TEST_DMA_DEV_H
#define VIGIL_TEST_DMA_DEV_H

#define DMA_DEV_VENDOR        0x1de5
#define DMA_DEV_DEVICE        0xd0a1
#define DMA_DEV_ID            0x56494731u   /* "VIG1" */
#define DMA_DEV_NUM_IRQS      3             /* INTx, MSI, MSI-X (--irq=) */
#define DMA_DEV_BAR0_SIZE     4096
#define DMA_DEV_MAX_LEN       (1u << 20)

#define DMA_DEV_REG_ID        0x00   /* r, 32 */
#define DMA_DEV_REG_SRC       0x08   /* rw, 64: guest physical source */
#define DMA_DEV_REG_DST       0x10   /* rw, 64: guest physical destination */
#define DMA_DEV_REG_LEN       0x18   /* rw, 32 */
#define DMA_DEV_REG_DOORBELL  0x20   /* w: copy, then STATUS and INTx */
#define DMA_DEV_REG_STATUS    0x24   /* r, 32 */
#define DMA_DEV_REG_IRQS      0x28   /* r, 32: interrupts raised */
#define DMA_DEV_REG_RESETS    0x2c   /* r, 32: DEVICE_RESETs received */
#define DMA_DEV_REG_SCRATCH   0x30   /* rw, 64 */
#define DMA_DEV_REG_VECTOR    0x38   /* rw, 32: MSI/MSI-X vector of the completion */
#define DMA_DEV_REG_IRQ_MODE  0x3c   /* r, 32: DMA_DEV_IRQ_* */
#define DMA_DEV_REG_BAR4_CALLS 0x40  /* r, 32: REGION_READ/WRITE that reached BAR4 */

/* IRQ_MODE: which eventfds the server holds, and the enable bits the client
 * forwarded to its configuration space. */
#define DMA_DEV_IRQ_INTX      0x1u
#define DMA_DEV_IRQ_MSI       0x2u
#define DMA_DEV_IRQ_MSIX      0x4u
#define DMA_DEV_IRQ_MSI_CFG   0x100u
#define DMA_DEV_IRQ_MSIX_CFG  0x200u

/* --irq=msi|msix: capabilities (a power management one first, kept as is). */
#define DMA_DEV_CAP_PM        0x40
#define DMA_DEV_CAP_MSI       0x50   /* 64-bit, per-vector masking */
#define DMA_DEV_CAP_MSIX      0x60
#define DMA_DEV_MSI_VECTORS   4
#define DMA_DEV_MSIX_VECTORS  8
/* The MSI-X table and PBA live in BAR4, which the server offers for mmap
 * whole: pages 0 and 3 are plain memory, 1 and 2 hold table and PBA. */
#define DMA_DEV_BAR4_SIZE     16384
#define DMA_DEV_MSIX_TABLE    0x1000
#define DMA_DEV_MSIX_PBA      0x2000
#define DMA_DEV_STATUS_DONE      0x1u
#define DMA_DEV_STATUS_IRQ_LOST  0x2u
#define DMA_DEV_STATUS_ERROR     0x80000000u   /* | errno */

#endif

/*
 * Register layout of the vu-dma test device (shared by the device server, the
 * host tests and the guest driver; no libc).
 */
#ifndef VIGIL_TEST_DMA_DEV_H
#define VIGIL_TEST_DMA_DEV_H

#define DMA_DEV_VENDOR        0x1de5
#define DMA_DEV_DEVICE        0xd0a1
#define DMA_DEV_ID            0x56494731u   /* "VIG1" */
#define DMA_DEV_NUM_IRQS      2             /* INTx (1 vector), MSI (none) */
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

#define DMA_DEV_STATUS_DONE      0x1u
#define DMA_DEV_STATUS_IRQ_LOST  0x2u
#define DMA_DEV_STATUS_ERROR     0x80000000u   /* | errno */

#endif

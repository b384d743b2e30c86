/* Contract of the vigil trace --dma guest (no libc). */
#ifndef VIGIL_TEST_DMA_CLI_H
#define VIGIL_TEST_DMA_CLI_H

#define DMA_CLI_SRC   0x300000ul
#define DMA_CLI_DST1  0x310000ul
#define DMA_CLI_DST2  0x320000ul
#define DMA_CLI_LEN   256u
#define DMA_CLI_HELLO 0x56474c31u   /* VIGIL_CLI_HELLO (tools/vigil/trace_run.h) */
#define DMA_CLI_READY 0x52454459u   /* VIGIL_CLI_READY */
#define DMA_CLI_HELLO_TRIES 2000000u

#endif

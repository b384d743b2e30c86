/*
 * Fuzz target: the vfio-user client (server/vfio/vu_client.c, vu_dev.c,
 * vu_msg.c, vu_tran_fd.c) fed whatever a device server might send.
 *
 * Input: the byte stream of a "server" (see vfio_client_env.h: messages as
 * on the wire; header flag bits 24..27 attach eventfds). The client talks to
 * it over a real UNIX socketpair, with real descriptor passing both ways,
 * and makes a fixed sequence of calls: VERSION, device info, two DMA windows
 * (read-write and read-only, served by message from small buffers), region
 * info for BAR0 and BAR2 (sparse mmap capability, argsz retry, a
 * descriptor), IRQ info, SET_IRQS with an eventfd, config and BAR0 reads and
 * writes (the writes make vu-dma copy by DMA_READ/DMA_WRITE, which is how
 * the seeds were recorded), DMA_UNMAP, reset, SET_IRQS off.
 *
 * Checked for every input: each call returns 0 or a -errno; a negotiation
 * that succeeded agreed on bounded capabilities that were offered; replies
 * that succeeded hold what the call promises (region index and sparse areas,
 * IRQ index, bounded counts, a descriptor only for a mappable region); every
 * DMA the client serves lies in a live window that allows it; a failure is
 * reported once and is sticky; no descriptor is left open. The call timeout
 * is 100 ms (the replay never makes the client wait for a reply, so a
 * timeout is itself something to look at).
 */
#include <stddef.h>
#include <stdint.h>

#include "vfio_client_env.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vfio_env_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vfio_env_replay(data, size, 100);
	return 0;
}

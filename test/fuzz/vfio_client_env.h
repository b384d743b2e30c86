/*
 * The vfio-user client under fuzzing (fuzz_vfio_client) and the program
 * that records its seeds from vu-dma (fuzz_vfio_gen_seeds): one fixed call
 * sequence, and a "server" that replays a byte stream.
 *
 * Stream format: what a server writes on the socket, messages one after the
 * other, as the client reads them. One liberty: bits 24..27 of a header's
 * flags (unknown to the protocol) are taken by the replay as "attach that
 * many descriptors to this message" (15 means 20, more than the client
 * takes) and cleared before the message is sent. A recording sets them for
 * the descriptors the server really sent.
 */
#ifndef VIGIL_FUZZ_VFIO_CLIENT_ENV_H
#define VIGIL_FUZZ_VFIO_CLIENT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_client.h"

#define VFIO_ENV_FD_SHIFT 24
#define VFIO_ENV_FD_MASK  (0xfu << VFIO_ENV_FD_SHIFT)
#define VFIO_ENV_STEPS    17

/* Quiet logs (FUZZ_VERBOSE=1: debug), SIGPIPE ignored. */
void vfio_env_init(void);

/* The client's side: DMA windows served from small buffers (a served
 * access outside a live window is a finding), the callbacks counted. */
struct vfio_env_dma;
struct vfio_env_dma *vfio_env_dma_new(void);
void vfio_env_dma_free(struct vfio_env_dma *m);
/* Client configuration whose ops serve @m. */
void vfio_env_client_config(struct vu_client_config *cfg, struct vfio_env_dma *m,
			    int timeout_ms);

/* The fixed call sequence on @c (negotiate, device and region info, DMA
 * windows, IRQ info and SET_IRQS with an eventfd, region reads and writes
 * that make vu-dma copy by DMA, unmap, reset). Every result is checked
 * (FUZZ_CHECK). Returns a mask of the steps that succeeded. */
uint32_t vfio_env_session(struct vu_client *c, struct vfio_env_dma *m);

/* A guest's first look at an attached device @d of @vm, through the PCI
 * host ports and the BARs as a vCPU would (no vCPU runs): the config
 * header (BAR registers read, never written: a move needs a vCPU), the
 * command register written, the capability chain, MSI and MSI-X switched
 * on (eventfds to the server, routes and irqfds in KVM), an MSI-X entry
 * written, then masked and off, the first dword of each MMIO BAR. */
struct vm;
struct vfio_dev;
void vfio_env_guest_probe(struct vm *vm, struct vfio_dev *d);

/* A server replaying @buf to the client on the connected socket @fd, or on
 * the first connection accepted on @listen_fd (then @fd is -1): a feeder
 * thread releases one message per call in progress, a drainer thread reads
 * and counts what the client sends (closing its descriptors). Attached
 * descriptors are eventfds, or 64 KiB memfds if @memfds. */
struct vfio_env_server;
struct vfio_env_server *vfio_env_server_start(int fd, int listen_fd, const uint8_t *buf,
					      size_t len, bool memfds);
/* After the client closed its side: join, close, free (the listening
 * socket is shut down, so a client that never came ends the wait). */
void vfio_env_server_finish(struct vfio_env_server *s);
/* The first call takes a baseline of open descriptors; later calls check
 * against it (a failed check is a finding). */
void vfio_env_check_fds(const char *when);

/* The session against a server replaying @buf (socketpair, the real fd
 * transport). Checks no descriptor is left. Returns the step mask. */
uint32_t vfio_env_replay(const uint8_t *buf, size_t len, int timeout_ms);

#endif

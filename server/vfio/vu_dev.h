/*
 * vfio-user device commands on top of a client connection.
 *
 * Each function builds one command, waits for the reply and checks it
 * (sizes, echoed fields) before using it. All return 0 or -errno: the server's
 * errno for an error reply, -EPROTO for a reply that does not match the
 * command, -ENOTCONN once the connection failed.
 */
#ifndef VIGIL_VU_DEV_H
#define VIGIL_VU_DEV_H

#include <stdint.h>

#include "vu_client.h"

#define VU_MAX_REGIONS 16
#define VU_MAX_IRQ_TYPES 8
/* Largest region info reply (with capabilities) the client asks for. */
#define VU_MAX_REGION_INFO 4096u

int vu_dev_get_info(struct vu_client *c, struct vu_device_info *out);
/* Region info; retries once with the argsz the server asks for. If the region
 * is mappable and the server sent a descriptor, *@fd gets it (else -1). */
int vu_dev_get_region_info(struct vu_client *c, uint32_t index,
			   struct vu_region *out, int *fd);
int vu_dev_get_irq_info(struct vu_client *c, uint32_t index, struct vu_irq_info *out);
/* SET_IRQS. With VFIO_IRQ_SET_DATA_EVENTFD, @fds has @count descriptors
 * (-1: de-assign); they are sent in chunks of the server's max_msg_fds. */
int vu_dev_set_irqs(struct vu_client *c, uint32_t flags, uint32_t index,
		    uint32_t start, uint32_t count, const int *fds);
int vu_dev_region_read(struct vu_client *c, uint32_t region, uint64_t offset,
		       void *buf, uint32_t len);
int vu_dev_region_write(struct vu_client *c, uint32_t region, uint64_t offset,
			const void *buf, uint32_t len);
/* DMA_MAP (fd < 0: no descriptor, the server must use DMA_READ/DMA_WRITE). */
int vu_dev_dma_map(struct vu_client *c, uint64_t addr, uint64_t size,
		   uint32_t flags, int fd, uint64_t fd_offset);
int vu_dev_dma_unmap(struct vu_client *c, uint64_t addr, uint64_t size);
int vu_dev_reset(struct vu_client *c);

#endif

/* vfio-user device commands: build, call, check the reply. */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vu_dev.h"

static int call_simple(struct vu_client *c, uint16_t cmd, const void *req,
		       size_t req_len, void *reply, uint32_t reply_len)
{
	struct iovec iov = { (void *)req, req_len };
	struct vu_call call = {
		.cmd = cmd, .iov = &iov, .iovcnt = req_len ? 1 : 0,
		.reply = reply, .reply_max = reply_len,
	};
	int err = vu_client_call(c, &call);

	if (err)
		return err;
	return call.reply_len == reply_len ? 0 : -EPROTO;
}

int vu_dev_get_info(struct vu_client *c, struct vu_device_info *out)
{
	struct vu_device_info req = { .argsz = sizeof(req) };
	struct iovec iov = { &req, sizeof(req) };
	struct vu_call call = {
		.cmd = VU_CMD_DEVICE_GET_INFO, .iov = &iov, .iovcnt = 1,
		.reply = out, .reply_max = sizeof(*out),
	};
	int err = vu_client_call(c, &call);

	if (err)
		return err;
	if (call.reply_len < sizeof(*out))
		return -EPROTO;
	if (out->num_regions > VU_MAX_REGIONS)
		out->num_regions = VU_MAX_REGIONS;
	if (out->num_irqs > VU_MAX_IRQ_TYPES)
		out->num_irqs = VU_MAX_IRQ_TYPES;
	return 0;
}

static int region_info_once(struct vu_client *c, uint32_t index, uint32_t argsz,
			    uint8_t *buf, uint32_t *len, int *fd)
{
	struct vu_region_info req = { .argsz = argsz, .index = index };
	struct iovec iov = { &req, sizeof(req) };
	int fds[1] = { -1 };
	struct vu_call call = {
		.cmd = VU_CMD_DEVICE_GET_REGION_INFO, .iov = &iov, .iovcnt = 1,
		.reply = buf, .reply_max = argsz, .rfds = fds, .rfds_max = 1,
	};
	int err = vu_client_call(c, &call);

	if (err)
		return err;
	*fd = call.nrfds ? fds[0] : -1;
	if (call.reply_len < sizeof(req) || call.reply_len > argsz) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	*len = call.reply_len;
	return 0;
}

int vu_dev_get_region_info(struct vu_client *c, uint32_t index,
			   struct vu_region *out, int *fd)
{
	uint8_t *buf = malloc(VU_MAX_REGION_INFO);
	uint32_t argsz = sizeof(struct vu_region_info), len = 0;
	struct vu_region_info ri;
	int err = -ENOMEM;

	*fd = -1;
	if (!buf)
		return err;
	for (int round = 0; round < 2; round++) {
		err = region_info_once(c, index, argsz, buf, &len, fd);
		if (err)
			break;
		memcpy(&ri, buf, sizeof(ri));
		/* "argsz too small": the reply says how much the full answer needs. */
		if (ri.argsz <= argsz || round == 1)
			break;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		if (ri.argsz > VU_MAX_REGION_INFO) {
			err = -EMSGSIZE;
			break;
		}
		argsz = ri.argsz;
	}
	if (!err)
		err = vu_parse_region_info(buf, len, index, out);
	if (!err && !(out->flags & VFIO_REGION_INFO_FLAG_MMAP) && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	if (err && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(buf);
	return err;
}

int vu_dev_get_irq_info(struct vu_client *c, uint32_t index, struct vu_irq_info *out)
{
	struct vu_irq_info req = { .argsz = sizeof(req), .index = index };
	int err = call_simple(c, VU_CMD_DEVICE_GET_IRQ_INFO, &req, sizeof(req),
			      out, sizeof(*out));

	if (!err && out->index != index)
		err = -EPROTO;
	return err;
}

static int set_irqs_one(struct vu_client *c, uint32_t flags, uint32_t index,
			uint32_t start, uint32_t count, const int *fds, unsigned nfds)
{
	struct vu_irq_set req = {
		.argsz = sizeof(req), .flags = flags, .index = index,
		.start = start, .count = count,
	};
	struct iovec iov = { &req, sizeof(req) };
	struct vu_call call = {
		.cmd = VU_CMD_DEVICE_SET_IRQS, .iov = &iov, .iovcnt = 1,
		.fds = fds, .nfds = nfds,
	};

	return vu_client_call(c, &call);
}

int vu_dev_set_irqs(struct vu_client *c, uint32_t flags, uint32_t index,
		    uint32_t start, uint32_t count, const int *fds)
{
	uint32_t max = vu_client_caps(c)->max_msg_fds;
	int err = 0;

	if (!(flags & VFIO_IRQ_SET_DATA_EVENTFD) || !fds || !count)
		return set_irqs_one(c, flags, index, start, count, NULL, 0);
	if (max == 0)
		return -EOPNOTSUPP;
	for (uint32_t done = 0; done < count && !err; ) {
		uint32_t n = count - done < max ? count - done : max;

		err = set_irqs_one(c, flags, index, start + done, n, fds + done, n);
		done += n;
	}
	return err;
}

int vu_dev_region_read(struct vu_client *c, uint32_t region, uint64_t offset,
		       void *buf, uint32_t len)
{
	struct vu_region_access req = { .offset = offset, .region = region, .count = len };
	struct iovec iov = { &req, sizeof(req) };
	uint8_t reply[sizeof(req) + 64];
	struct vu_call call = {
		.cmd = VU_CMD_REGION_READ, .iov = &iov, .iovcnt = 1,
		.reply = reply, .reply_max = sizeof(reply),
	};
	struct vu_region_access got;
	int err;

	if (len > 64 || len > vu_client_caps(c)->max_data_xfer_size)
		return -EINVAL;
	err = vu_client_call(c, &call);
	if (err)
		return err;
	if (call.reply_len != sizeof(req) + len)
		return -EPROTO;
	memcpy(&got, reply, sizeof(got));
	if (got.count != len || got.region != region || got.offset != offset)
		return -EPROTO;
	memcpy(buf, reply + sizeof(got), len);
	return 0;
}

int vu_dev_region_write(struct vu_client *c, uint32_t region, uint64_t offset,
			const void *buf, uint32_t len)
{
	struct vu_region_access req = { .offset = offset, .region = region, .count = len };
	struct iovec iov[2] = { { &req, sizeof(req) }, { (void *)buf, len } };
	struct vu_region_access got;
	struct vu_call call = {
		.cmd = VU_CMD_REGION_WRITE, .iov = iov, .iovcnt = 2,
		.reply = &got, .reply_max = sizeof(got),
	};
	int err;

	if (len > vu_client_caps(c)->max_data_xfer_size)
		return -EINVAL;
	err = vu_client_call(c, &call);
	if (err)
		return err;
	if (call.reply_len != sizeof(got) || got.count != len || got.region != region ||
	    got.offset != offset)
		return -EPROTO;
	return 0;
}

int vu_dev_dma_map(struct vu_client *c, uint64_t addr, uint64_t size,
		   uint32_t flags, int fd, uint64_t fd_offset)
{
	struct vu_dma_map req = {
		.argsz = sizeof(req), .flags = flags, .offset = fd >= 0 ? fd_offset : 0,
		.addr = addr, .size = size,
	};
	struct iovec iov = { &req, sizeof(req) };
	struct vu_call call = {
		.cmd = VU_CMD_DMA_MAP, .iov = &iov, .iovcnt = 1,
		.fds = &fd, .nfds = fd >= 0 ? 1 : 0,
	};
	int err;

	if (!size || (addr | size) & 4095 || addr + size < addr)
		return -EINVAL;
	/* Record the window first: the server may use it before it replies. */
	err = vu_client_add_window(c, addr, size, flags);
	if (err)
		return err;
	err = vu_client_call(c, &call);
	if (err)
		vu_client_del_window(c, addr, size);
	return err;
}

int vu_dev_dma_unmap(struct vu_client *c, uint64_t addr, uint64_t size)
{
	struct vu_dma_unmap req = { .argsz = sizeof(req), .addr = addr, .size = size };
	struct vu_dma_unmap got;
	struct iovec iov = { &req, sizeof(req) };
	struct vu_call call = {
		.cmd = VU_CMD_DMA_UNMAP, .iov = &iov, .iovcnt = 1,
		.reply = &got, .reply_max = sizeof(got),
	};
	int err;

	/* Stop serving the window before the server is told it is gone. */
	vu_client_del_window(c, addr, size);
	err = vu_client_call(c, &call);
	/* The reply echoes the entry; older servers send none. Both are fine. */
	if (!err && call.reply_len != 0 && call.reply_len != sizeof(got))
		err = -EPROTO;
	return err;
}

int vu_dev_reset(struct vu_client *c)
{
	struct vu_call call = { .cmd = VU_CMD_DEVICE_RESET };

	return vu_client_call(c, &call);
}

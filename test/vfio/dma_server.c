/*
 * vu-dma: a vfio-user device server for the tests, written on the protocol.
 *
 * A PCI DMA engine. BAR0 (4 KiB, trapped) holds registers; writing the
 * doorbell copies LEN bytes from guest address SRC to DST, using the mapped
 * guest memory when the client passed a descriptor with DMA_MAP and
 * DMA_READ/DMA_WRITE messages otherwise, then sets STATUS and raises INTx
 * through the eventfd the client gave with SET_IRQS. BAR2 (8 KiB of shared
 * memory) is mmap-able except its first page (a sparse mmap capability).
 *
 * --irq=msi adds an MSI capability (64-bit, per-vector masking, 4 vectors),
 * --irq=msix an MSI-X capability (8 vectors, table and PBA in BAR4, a 16 KiB
 * region offered for mmap whole): the completion then signals the eventfd of
 * vector VECTOR. SET_IRQS is checked as libvfio-user does (one descriptor per
 * vector, count 0 only to disable) and, stricter, refuses to enable one IRQ
 * index while another still holds eventfds: the client must disable INTx
 * before it enables MSI or MSI-X. --irq=msix-bad-bir (table in an absent
 * BAR), msix-huge (2048 vectors in the 16 KiB BAR) and cap-loop (a
 * capability list that loops back) are bad input for the client.
 * --irq=msix-masked keeps a mask bit per vector in the server, as QEMU's
 * device models do: every vector starts masked when its eventfd is given and
 * is signalled only after SET_IRQS ACTION_UNMASK.
 *
 * --mode=NAME makes it misbehave on the doorbell (crash, hang, malformed,
 * oversized, error) or in the handshake (bad-major, bad-caps), for the
 * failure tests; short-bar2 offers BAR2's second page for mmap from a file
 * that ends before it. --caps=JSON replaces its capability reply.
 *
 * Usage: vu-dma --socket-path=PATH [--mode=NAME] [--caps=JSON] [--irq=KIND]
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_proto.h"
#include "dma_dev.h"

#define MAX_WIN 16
#define BAR2_SIZE 8192

struct win {
	uint64_t addr, size;
	uint8_t *map;       /* NULL: reach it with DMA_READ/DMA_WRITE */
};

struct srv {
	int fd;
	const char *mode;
	const char *caps;
	const char *irq;
	struct win win[MAX_WIN];
	unsigned nr_win;
	int irq_fds[DMA_DEV_NUM_IRQS][DMA_DEV_MSIX_VECTORS];
	uint8_t config[256];
	uint8_t *bar2, *bar4;
	int bar2_fd, bar4_fd;
	uint64_t src, dst, scratch;
	uint32_t len, status, irq_count, resets, vector, bar4_calls;
	uint32_t srv_masked[DMA_DEV_NUM_IRQS];   /* msix-masked: the server's own mask bits */
	uint16_t next_id;
};

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
			       : recv(fd, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Receive one message: header, body (malloc'ed), up to 8 fds. */
static int recv_msg(struct srv *s, struct vu_hdr *h, uint8_t **body, int *fds, int *nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { h, sizeof(*h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(s->fd, &mh, MSG_WAITALL);
	uint32_t len;

	*nfds = 0;
	if (n != sizeof(*h))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
		*nfds += k;
	}
	if (h->msg_size < sizeof(*h) || h->msg_size > (64u << 20))
		return -1;
	len = h->msg_size - (uint32_t)sizeof(*h);
	*body = malloc(len + 1);
	if (!*body || full_io(s->fd, *body, len, false))
		return -1;
	return 0;
}

static int send_msg(struct srv *s, uint16_t id, uint16_t cmd, uint32_t flags,
		    uint32_t err, const void *a, size_t alen, const void *b, size_t blen,
		    int fd)
{
	struct vu_hdr h = { id, cmd, (uint32_t)(sizeof(h) + alen + blen), flags, err };
	struct iovec iov[3] = { { &h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen } };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* Small messages: one sendmsg is enough on a local stream socket. */
	return sendmsg(s->fd, &mh, MSG_NOSIGNAL) == (ssize_t)h.msg_size ? 0 : -1;
}

static int reply(struct srv *s, const struct vu_hdr *req, const void *a, size_t alen,
		 const void *b, size_t blen, int fd)
{
	return send_msg(s, req->msg_id, req->cmd, VU_F_TYPE_REPLY, 0, a, alen, b, blen, fd);
}

static int reply_err(struct srv *s, const struct vu_hdr *req, int err)
{
	return send_msg(s, req->msg_id, req->cmd, VU_F_TYPE_REPLY | VU_F_ERROR,
			(uint32_t)err, NULL, 0, NULL, 0, -1);
}

static struct win *find_win(struct srv *s, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < s->nr_win; i++) {
		struct win *w = &s->win[i];

		if (addr >= w->addr && addr + len <= w->addr + w->size)
			return w;
	}
	return NULL;
}

/* Server -> client DMA over the socket; waits for the matching reply. */
static int dma_msg(struct srv *s, uint16_t cmd, uint64_t addr, void *buf, uint32_t len)
{
	struct vu_dma_access a = { addr, len };
	uint16_t id = s->next_id++;
	struct vu_hdr h;
	uint8_t *body = NULL;
	int fds[8], nfds, ok;

	if (send_msg(s, id, cmd, VU_F_TYPE_COMMAND, 0, &a, sizeof(a),
		     cmd == VU_CMD_DMA_WRITE ? buf : NULL,
		     cmd == VU_CMD_DMA_WRITE ? len : 0, -1))
		return -EIO;
	if (recv_msg(s, &h, &body, fds, &nfds)) {
		free(body);
		return -EIO;
	}
	ok = h.msg_id == id && h.cmd == cmd && (h.flags & VU_F_TYPE_MASK) == VU_F_TYPE_REPLY;
	if (ok && (h.flags & VU_F_ERROR)) {
		free(body);
		return -(int)h.error_no;
	}
	if (ok && cmd == VU_CMD_DMA_READ && h.msg_size == sizeof(h) + sizeof(a) + len)
		memcpy(buf, body + sizeof(a), len);
	else if (ok && cmd == VU_CMD_DMA_READ)
		ok = 0;
	free(body);
	return ok ? 0 : -EPROTO;
}

static int dma_rw(struct srv *s, uint16_t cmd, uint64_t addr, void *buf, uint32_t len)
{
	struct win *w = find_win(s, addr, len);

	if (!strcmp(s->mode, "dma-outside"))
		return dma_msg(s, cmd, 0xdead0000ULL, buf, len);
	if (!w)
		return -EFAULT;
	if (!w->map)
		return dma_msg(s, cmd, addr, buf, len);
	if (cmd == VU_CMD_DMA_READ)
		memcpy(buf, w->map + (addr - w->addr), len);
	else
		memcpy(w->map + (addr - w->addr), buf, len);
	return 0;
}

static bool irq_is(const struct srv *s, const char *kind)
{
	return !strncmp(s->irq, kind, strlen(kind));
}

/* Vectors of IRQ index @index this device has. */
static unsigned irq_count(const struct srv *s, unsigned index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX: return 1;
	case VFIO_PCI_MSI_IRQ_INDEX: return irq_is(s, "msi") && !irq_is(s, "msix") ?
					    DMA_DEV_MSI_VECTORS : 0;
	case VFIO_PCI_MSIX_IRQ_INDEX: return irq_is(s, "msix") || irq_is(s, "cap-loop") ?
					     DMA_DEV_MSIX_VECTORS : 0;
	default: return 0;
	}
}

static bool index_active(const struct srv *s, unsigned index)
{
	for (unsigned v = 0; v < DMA_DEV_MSIX_VECTORS; v++)
		if (s->irq_fds[index][v] >= 0)
			return true;
	return false;
}

/* The completion interrupt: MSI-X or MSI vector VECTOR if enabled, else INTx.
 * -1 only if the eventfd cannot be written (STATUS_IRQ_LOST). */
static int raise_irq(struct srv *s)
{
	unsigned index = VFIO_PCI_INTX_IRQ_INDEX, v = 0;
	uint64_t one = 1;

	if (index_active(s, VFIO_PCI_MSIX_IRQ_INDEX) || index_active(s, VFIO_PCI_MSI_IRQ_INDEX)) {
		index = index_active(s, VFIO_PCI_MSIX_IRQ_INDEX) ? VFIO_PCI_MSIX_IRQ_INDEX
								  : VFIO_PCI_MSI_IRQ_INDEX;
		v = s->vector;
	}
	if (v >= DMA_DEV_MSIX_VECTORS)
		return -1;
	if (s->irq_fds[index][v] < 0)
		return 0;   /* nobody asked for this interrupt */
	if (s->srv_masked[index] & (1u << v))
		return 0;   /* msix-masked: the server holds it back */
	return write(s->irq_fds[index][v], &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static void doorbell(struct srv *s)
{
	uint8_t *buf = malloc(s->len ? s->len : 1);
	int err = buf ? 0 : -ENOMEM;

	if (!err && s->len > DMA_DEV_MAX_LEN)
		err = -EINVAL;
	if (!err)
		err = dma_rw(s, VU_CMD_DMA_READ, s->src, buf, s->len);
	if (!err)
		err = dma_rw(s, VU_CMD_DMA_WRITE, s->dst, buf, s->len);
	free(buf);
	s->status = err ? DMA_DEV_STATUS_ERROR | (uint32_t)-err : DMA_DEV_STATUS_DONE;
	s->irq_count++;
	if (raise_irq(s))
		s->status |= DMA_DEV_STATUS_IRQ_LOST;
}

static uint32_t irq_mode(const struct srv *s)
{
	uint32_t m = 0;

	if (index_active(s, VFIO_PCI_INTX_IRQ_INDEX))
		m |= DMA_DEV_IRQ_INTX;
	if (index_active(s, VFIO_PCI_MSI_IRQ_INDEX))
		m |= DMA_DEV_IRQ_MSI;
	if (index_active(s, VFIO_PCI_MSIX_IRQ_INDEX))
		m |= DMA_DEV_IRQ_MSIX;
	if (s->config[DMA_DEV_CAP_MSI] == 0x05 && (s->config[DMA_DEV_CAP_MSI + 2] & 1))
		m |= DMA_DEV_IRQ_MSI_CFG;
	if (s->config[DMA_DEV_CAP_MSIX] == 0x11 && (s->config[DMA_DEV_CAP_MSIX + 3] & 0x80))
		m |= DMA_DEV_IRQ_MSIX_CFG;
	return m;
}

static uint64_t bar0_read(struct srv *s, uint64_t off)
{
	switch (off) {
	case DMA_DEV_REG_ID: return DMA_DEV_ID;
	case DMA_DEV_REG_SRC: return s->src;
	case DMA_DEV_REG_DST: return s->dst;
	case DMA_DEV_REG_LEN: return s->len;
	case DMA_DEV_REG_STATUS: return s->status;
	case DMA_DEV_REG_IRQS: return s->irq_count;
	case DMA_DEV_REG_RESETS: return s->resets;
	case DMA_DEV_REG_SCRATCH: return s->scratch;
	case DMA_DEV_REG_VECTOR: return s->vector;
	case DMA_DEV_REG_IRQ_MODE: return irq_mode(s);
	case DMA_DEV_REG_BAR4_CALLS: return s->bar4_calls;
	default: return 0;
	}
}

static void bar0_write(struct srv *s, uint64_t off, uint64_t v)
{
	switch (off) {
	case DMA_DEV_REG_SRC: s->src = v; break;
	case DMA_DEV_REG_DST: s->dst = v; break;
	case DMA_DEV_REG_LEN: s->len = (uint32_t)v; break;
	case DMA_DEV_REG_SCRATCH: s->scratch = v; break;
	case DMA_DEV_REG_VECTOR: s->vector = (uint32_t)v; break;
	case DMA_DEV_REG_DOORBELL: doorbell(s); break;
	default: break;
	}
}

/* Misbehaviour on the doorbell write. Returns true if it replaced the reply. */
static bool misbehave(struct srv *s, const struct vu_hdr *h)
{
	struct vu_hdr bad = *h;

	if (!strcmp(s->mode, "crash"))
		_exit(3);
	if (!strcmp(s->mode, "hang")) {
		for (;;)
			pause();
	}
	if (!strcmp(s->mode, "malformed")) {
		bad.flags = VU_F_TYPE_REPLY | 0x4000;
		bad.msg_size = sizeof(bad);
		return full_io(s->fd, &bad, sizeof(bad), true), true;
	}
	if (!strcmp(s->mode, "oversized")) {
		bad.flags = VU_F_TYPE_REPLY;
		bad.msg_size = 1u << 30;
		return full_io(s->fd, &bad, sizeof(bad), true), true;
	}
	if (!strcmp(s->mode, "error"))
		return reply_err(s, h, EIO), true;
	return false;
}

static int region_rw(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		     uint32_t len, bool wr)
{
	struct vu_region_access a;
	uint8_t data[64] = { 0 };
	uint64_t v = 0;

	if (len < sizeof(a))
		return reply_err(s, h, EINVAL);
	memcpy(&a, body, sizeof(a));
	if (a.count > 8 || (wr && len != sizeof(a) + a.count))
		return reply_err(s, h, EINVAL);
	if (a.region == VFIO_PCI_CONFIG_REGION_INDEX) {
		if (a.offset + a.count > sizeof(s->config))
			return reply_err(s, h, EINVAL);
		if (wr)
			memcpy(s->config + a.offset, body + sizeof(a), a.count);
		memcpy(data, s->config + a.offset, a.count);
	} else if (a.region == VFIO_PCI_BAR2_REGION_INDEX) {
		if (a.offset + a.count > BAR2_SIZE)
			return reply_err(s, h, EINVAL);
		if (wr)
			memcpy(s->bar2 + a.offset, body + sizeof(a), a.count);
		memcpy(data, s->bar2 + a.offset, a.count);
	} else if (a.region == VFIO_PCI_BAR4_REGION_INDEX && irq_count(s, VFIO_PCI_MSIX_IRQ_INDEX)) {
		/* The client must never send table or PBA accesses here. */
		s->bar4_calls++;
		if (a.offset + a.count > DMA_DEV_BAR4_SIZE)
			return reply_err(s, h, EINVAL);
		if (wr)
			memcpy(s->bar4 + a.offset, body + sizeof(a), a.count);
		memcpy(data, s->bar4 + a.offset, a.count);
	} else if (a.region == VFIO_PCI_BAR0_REGION_INDEX && a.offset < DMA_DEV_BAR0_SIZE) {
		if (wr && a.offset == DMA_DEV_REG_DOORBELL && misbehave(s, h))
			return 0;
		if (wr) {
			memcpy(&v, body + sizeof(a), a.count);
			bar0_write(s, a.offset, v);
		}
		v = bar0_read(s, a.offset);
		memcpy(data, &v, a.count);
	} else {
		return reply_err(s, h, EINVAL);
	}
	if (!strcmp(s->mode, "error") && !wr)
		return reply_err(s, h, EIO);
	return reply(s, h, &a, sizeof(a), wr ? NULL : data, wr ? 0 : a.count, -1);
}

static int region_info(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		       uint32_t len)
{
	struct vu_region_info req, ri = { 0 };
	struct {
		struct vu_cap_hdr hdr;
		struct vu_sparse_mmap sm;
		struct vu_sparse_area area;
	} cap = { { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0 }, { 1, 0 }, { 4096, 4096 } };
	bool with_cap = false;

	if (len < sizeof(req))
		return reply_err(s, h, EINVAL);
	memcpy(&req, body, sizeof(req));
	ri.index = req.index;
	ri.argsz = sizeof(ri);
	switch (req.index) {
	case VFIO_PCI_BAR0_REGION_INDEX:
		ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		ri.size = DMA_DEV_BAR0_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			   VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		ri.size = BAR2_SIZE;
		ri.cap_offset = sizeof(ri);
		ri.argsz = sizeof(ri) + sizeof(cap);
		with_cap = true;
		break;
	case VFIO_PCI_BAR4_REGION_INDEX:
		if (!irq_count(s, VFIO_PCI_MSIX_IRQ_INDEX))
			break;
		ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			   VFIO_REGION_INFO_FLAG_MMAP;
		ri.size = DMA_DEV_BAR4_SIZE;
		return reply(s, h, &ri, sizeof(ri), NULL, 0, s->bar4_fd);
	case VFIO_PCI_CONFIG_REGION_INDEX:
		ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		ri.size = sizeof(s->config);
		break;
	default:
		if (req.index >= VFIO_PCI_NUM_REGIONS)
			return reply_err(s, h, EINVAL);
		break;
	}
	/* The client's argsz too small for the capabilities: fixed part only,
	 * argsz telling it what to ask for. */
	if (with_cap && req.argsz < ri.argsz)
		return reply(s, h, &ri, sizeof(ri), NULL, 0, -1);
	return reply(s, h, &ri, sizeof(ri), with_cap ? &cap : NULL,
		     with_cap ? sizeof(cap) : 0, with_cap ? s->bar2_fd : -1);
}

static int irq_info(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		    uint32_t len)
{
	struct vu_irq_info ii;

	if (len < sizeof(ii))
		return reply_err(s, h, EINVAL);
	memcpy(&ii, body, sizeof(ii));
	if (ii.index >= DMA_DEV_NUM_IRQS)
		return reply_err(s, h, EINVAL);
	ii.argsz = sizeof(ii);
	ii.flags = VFIO_IRQ_INFO_EVENTFD;
	ii.count = irq_count(s, ii.index);
	return reply(s, h, &ii, sizeof(ii), NULL, 0, -1);
}

static void irq_disable(struct srv *s, unsigned index)
{
	for (unsigned v = 0; v < DMA_DEV_MSIX_VECTORS; v++) {
		if (s->irq_fds[index][v] >= 0)
			close(s->irq_fds[index][v]);
		s->irq_fds[index][v] = -1;
	}
	s->srv_masked[index] = 0;
}

/* ACTION_MASK/UNMASK (DATA_NONE): only msix-masked keeps mask bits; the
 * others accept and ignore them, as a device without its own table may. */
static int mask_irqs(struct srv *s, const struct vu_hdr *h, const struct vu_irq_set *is,
		     uint32_t max)
{
	uint32_t action = is->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK, bits;

	if ((action != VFIO_IRQ_SET_ACTION_MASK && action != VFIO_IRQ_SET_ACTION_UNMASK) ||
	    (is->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) != VFIO_IRQ_SET_DATA_NONE ||
	    !is->count || is->start >= max || is->count > max - is->start ||
	    is->start + is->count > DMA_DEV_MSIX_VECTORS)
		return reply_err(s, h, EINVAL);
	bits = (uint32_t)(((1ull << is->count) - 1) << is->start);
	if (action == VFIO_IRQ_SET_ACTION_MASK)
		s->srv_masked[is->index] |= bits;
	else
		s->srv_masked[is->index] &= ~bits;
	return reply(s, h, NULL, 0, NULL, 0, -1);
}

static int set_irqs(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		    uint32_t len, int *fds, int nfds)
{
	uint32_t data, max;
	struct vu_irq_set is;

	if (len < sizeof(is))
		return reply_err(s, h, EINVAL);
	memcpy(&is, body, sizeof(is));
	data = is.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	if (is.index >= DMA_DEV_NUM_IRQS || is.argsz != len)
		return reply_err(s, h, EINVAL);
	max = irq_count(s, is.index);
	if ((is.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER)
		return mask_irqs(s, h, &is, max);
	if (is.count == 0) {
		if (data != VFIO_IRQ_SET_DATA_NONE)
			return reply_err(s, h, EINVAL);
		irq_disable(s, is.index);
		return reply(s, h, NULL, 0, NULL, 0, -1);
	}
	if (is.start >= max || is.count > max - is.start || data != VFIO_IRQ_SET_DATA_EVENTFD ||
	    nfds < 0 || (uint32_t)nfds != is.count)
		return reply_err(s, h, EINVAL);
	for (unsigned other = 0; other < DMA_DEV_NUM_IRQS; other++)
		if (other != is.index && index_active(s, other))
			return reply_err(s, h, EBUSY);
	for (uint32_t i = 0; i < is.count; i++) {
		if (s->irq_fds[is.index][is.start + i] >= 0)
			close(s->irq_fds[is.index][is.start + i]);
		s->irq_fds[is.index][is.start + i] = fds[i];
		fds[i] = -1;
		if (irq_is(s, "msix-masked") && is.index != VFIO_PCI_INTX_IRQ_INDEX)
			s->srv_masked[is.index] |= 1u << (is.start + i);
	}
	return reply(s, h, NULL, 0, NULL, 0, -1);
}

static int dma_map(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		   uint32_t len, int *fds, int nfds)
{
	struct vu_dma_map m;
	struct win *w;

	if (len < sizeof(m) || s->nr_win == MAX_WIN)
		return reply_err(s, h, EINVAL);
	memcpy(&m, body, sizeof(m));
	if (find_win(s, m.addr, 1))
		return reply_err(s, h, EEXIST);
	w = &s->win[s->nr_win];
	*w = (struct win){ m.addr, m.size, NULL };
	if (nfds == 1) {
		void *p = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fds[0], (off_t)m.offset);

		if (p == MAP_FAILED)
			return reply_err(s, h, errno);
		w->map = p;
	}
	s->nr_win++;
	return reply(s, h, NULL, 0, NULL, 0, -1);
}

static int dma_unmap(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		     uint32_t len)
{
	struct vu_dma_unmap u;

	if (len < sizeof(u))
		return reply_err(s, h, EINVAL);
	memcpy(&u, body, sizeof(u));
	for (unsigned i = 0; i < s->nr_win; i++) {
		if (s->win[i].addr != u.addr || s->win[i].size != u.size)
			continue;
		if (s->win[i].map)
			munmap(s->win[i].map, s->win[i].size);
		s->win[i] = s->win[--s->nr_win];
		return reply(s, h, &u, sizeof(u), NULL, 0, -1);
	}
	return reply_err(s, h, ENOENT);
}

static int version(struct srv *s, const struct vu_hdr *h, uint32_t len)
{
	struct vu_version v = { VU_PROTO_MAJOR, VU_PROTO_MINOR };
	const char *caps = s->caps ? s->caps :
		"{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
		"\"pgsizes\":4096,\"max_dma_maps\":16}}";

	if (len < sizeof(v))
		return reply_err(s, h, EINVAL);
	if (!strcmp(s->mode, "bad-major"))
		v.major = 7;
	return reply(s, h, &v, sizeof(v), caps, strlen(caps) + 1, -1);
}

static int device_info(struct srv *s, const struct vu_hdr *h)
{
	struct vu_device_info di = {
		sizeof(di), VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
		VFIO_PCI_NUM_REGIONS, DMA_DEV_NUM_IRQS,
	};

	return reply(s, h, &di, sizeof(di), NULL, 0, -1);
}

static int dispatch(struct srv *s, const struct vu_hdr *h, const uint8_t *body,
		    uint32_t len, int *fds, int nfds)
{
	switch (h->cmd) {
	case VU_CMD_VERSION: return version(s, h, len);
	case VU_CMD_DEVICE_GET_INFO: return device_info(s, h);
	case VU_CMD_DEVICE_GET_REGION_INFO: return region_info(s, h, body, len);
	case VU_CMD_DEVICE_GET_IRQ_INFO: return irq_info(s, h, body, len);
	case VU_CMD_DEVICE_SET_IRQS: return set_irqs(s, h, body, len, fds, nfds);
	case VU_CMD_DMA_MAP: return dma_map(s, h, body, len, fds, nfds);
	case VU_CMD_DMA_UNMAP: return dma_unmap(s, h, body, len);
	case VU_CMD_REGION_READ: return region_rw(s, h, body, len, false);
	case VU_CMD_REGION_WRITE: return region_rw(s, h, body, len, true);
	case VU_CMD_DEVICE_RESET:
		s->status = s->irq_count = 0;
		s->resets++;
		return reply(s, h, NULL, 0, NULL, 0, -1);
	default:
		return reply_err(s, h, ENOSYS);
	}
}

/* PM capability, then MSI or MSI-X (see the top of the file). */
static void caps_init(struct srv *s)
{
	uint8_t *c = s->config;
	bool msi = irq_is(s, "msi") && !irq_is(s, "msix");
	unsigned x = DMA_DEV_CAP_MSIX;
	uint16_t ctrl;
	uint32_t table = DMA_DEV_MSIX_TABLE | 4, pba = DMA_DEV_MSIX_PBA | 4;

	c[0x06] |= 0x10;                                  /* capability list */
	c[0x34] = DMA_DEV_CAP_PM;
	c[DMA_DEV_CAP_PM] = 0x01;
	c[DMA_DEV_CAP_PM + 1] = msi ? DMA_DEV_CAP_MSI : DMA_DEV_CAP_MSIX;
	c[DMA_DEV_CAP_PM + 2] = 0x03;                     /* PM version 3 */
	if (msi) {
		ctrl = 0x0100 | 0x0080 | (2 << 1);        /* PVM, 64-bit, 4 vectors */
		c[DMA_DEV_CAP_MSI] = 0x05;
		memcpy(c + DMA_DEV_CAP_MSI + 2, &ctrl, 2);
		return;
	}
	ctrl = irq_is(s, "msix-huge") ? 0x7ff : DMA_DEV_MSIX_VECTORS - 1;
	if (irq_is(s, "msix-bad-bir"))
		table = DMA_DEV_MSIX_TABLE | 5;
	c[x] = 0x11;
	c[x + 1] = irq_is(s, "cap-loop") ? DMA_DEV_CAP_PM : 0;
	memcpy(c + x + 2, &ctrl, 2);
	memcpy(c + x + 4, &table, 4);
	memcpy(c + x + 8, &pba, 4);
}

static void config_init(struct srv *s)
{
	uint32_t bar0 = 0, bar2 = 0;   /* 32-bit, non-prefetchable memory */

	memset(s->config, 0, sizeof(s->config));
	s->config[0x00] = DMA_DEV_VENDOR & 0xff;
	s->config[0x01] = DMA_DEV_VENDOR >> 8;
	s->config[0x02] = DMA_DEV_DEVICE & 0xff;
	s->config[0x03] = DMA_DEV_DEVICE >> 8;
	s->config[0x0a] = 0x80;        /* class: other system peripheral */
	s->config[0x0b] = 0x08;
	memcpy(s->config + 0x10, &bar0, 4);
	memcpy(s->config + 0x18, &bar2, 4);
	s->config[0x3d] = 1;           /* INTA# */
	if (!irq_is(s, "intx"))
		caps_init(s);
}

static int serve(struct srv *s)
{
	for (;;) {
		struct vu_hdr h;
		uint8_t *body = NULL;
		int fds[8], nfds = 0, err;

		err = recv_msg(s, &h, &body, fds, &nfds);
		if (!err && (h.flags & VU_F_TYPE_MASK) != VU_F_TYPE_COMMAND)
			err = -1;
		if (!err)
			err = dispatch(s, &h, body, h.msg_size - (uint32_t)sizeof(h), fds, nfds);
		for (int i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(body);
		if (err)
			return 0;   /* client gone */
	}
}

static int listen_accept(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0), fd;

	/* Bind a temporary name and rename it once listening: the path
	 * appearing means connections will be accepted. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.tmp", path);
	unlink(sa.sun_path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
	    rename(sa.sun_path, path)) {
		perror("vu-dma: listen");
		return -1;
	}
	fd = accept(l, NULL, NULL);
	close(l);
	unlink(path);
	return fd;
}

static int shared_bar(const char *name, size_t size, int *fd, uint8_t **map)
{
	*fd = memfd_create(name, MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, (off_t)size))
		return -1;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return *map == MAP_FAILED ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct srv s = { .fd = -1, .mode = "normal", .irq = "intx" };
	const char *path = NULL;

	/* Discovery (contrib/README.md): answer and exit, whatever else is given. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--print-capabilities")) {
			printf("{ \"type\": \"vfio-user\", \"features\": [ \"dma-by-message\", "
			       "\"dma-by-mmap\", \"sparse-mmap\", \"intx\", \"msi\", \"msix\", "
			       "\"reset\" ] }\n");
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--socket-path=", 14))
			path = argv[i] + 14;
		else if (!strncmp(argv[i], "--fd=", 5))
			s.fd = atoi(argv[i] + 5);
		else if (!strncmp(argv[i], "--mode=", 7))
			s.mode = argv[i] + 7;
		else if (!strncmp(argv[i], "--caps=", 7))
			s.caps = argv[i] + 7;
		else if (!strncmp(argv[i], "--irq=", 6))
			s.irq = argv[i] + 6;
	}
	if (!path && s.fd < 0) {
		fprintf(stderr, "usage: vu-dma --socket-path=PATH|--fd=N [--mode=M] [--caps=JSON] "
			"[--irq=intx|msi|msix|msix-bad-bir|msix-huge|cap-loop]\n");
		return 2;
	}
	memset(s.irq_fds, 0xff, sizeof(s.irq_fds));
	config_init(&s);
	if (shared_bar("vu-dma-bar2", BAR2_SIZE, &s.bar2_fd, &s.bar2) ||
	    shared_bar("vu-dma-bar4", DMA_DEV_BAR4_SIZE, &s.bar4_fd, &s.bar4)) {
		perror("vu-dma: BAR memory");
		return 1;
	}
	/* short-bar2: the file behind BAR2's mmap-able page ends before it. */
	if (!strcmp(s.mode, "short-bar2") && ftruncate(s.bar2_fd, 4096)) {
		perror("vu-dma: short-bar2");
		return 1;
	}
	if (s.fd < 0)
		s.fd = listen_accept(path);
	if (s.fd < 0)
		return 1;
	return serve(&s);
}

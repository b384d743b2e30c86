/* The vfio-user client under fuzzing: call sequence, DMA model, replaying server. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "fuzz_check.h"
#include "fuzz_util.h"
#include "log.h"
#include "vfio_client_env.h"
#include "iobus.h"
#include "pci_host.h"
#include "vfio_dev.h"
#include "vm.h"
#include "vu_dev.h"
#include "../vfio/dma_dev.h"

/* Two DMA windows: one read-write, one read-only (unmapped near the end). */
#define RW_ADDR 0x100000ull
#define RW_SIZE 0x4000ull
#define RO_ADDR 0x200000ull
#define RO_SIZE 0x1000ull

struct vfio_env_dma {
	uint8_t rw[RW_SIZE], ro[RO_SIZE];
	/* Set before the client records a window, cleared after it forgot it:
	 * always a superset of what the client serves. */
	atomic_bool rw_live, ro_live;
	atomic_uint failures;
};

static int fd_baseline = -1;

void vfio_env_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	vg_log_set_level(getenv("FUZZ_VERBOSE") ? VG_LOG_DEBUG : VG_LOG_ERR);
}

static bool inside(uint64_t addr, uint64_t len, uint64_t base, uint64_t size)
{
	return addr >= base && addr - base <= size && len <= size - (addr - base);
}

static int env_dma_read(void *opaque, uint64_t addr, void *buf, uint32_t len)
{
	struct vfio_env_dma *m = opaque;

	if (atomic_load(&m->rw_live) && inside(addr, len, RW_ADDR, RW_SIZE)) {
		memcpy(buf, m->rw + (addr - RW_ADDR), len);
		return 0;
	}
	FUZZ_CHECK(atomic_load(&m->ro_live) && inside(addr, len, RO_ADDR, RO_SIZE),
		   "DMA read of %u bytes at %#llx served outside every window", len,
		   (unsigned long long)addr);
	memcpy(buf, m->ro + (addr - RO_ADDR), len);
	return 0;
}

static int env_dma_write(void *opaque, uint64_t addr, const void *buf, uint32_t len)
{
	struct vfio_env_dma *m = opaque;

	FUZZ_CHECK(atomic_load(&m->rw_live) && inside(addr, len, RW_ADDR, RW_SIZE),
		   "DMA write of %u bytes at %#llx served outside every writable window", len,
		   (unsigned long long)addr);
	memcpy(m->rw + (addr - RW_ADDR), buf, len);
	return 0;
}

static void env_failed(void *opaque, int err, const char *why)
{
	struct vfio_env_dma *m = opaque;

	FUZZ_CHECK(err < 0 && why && *why, "failed with %d", err);
	atomic_fetch_add(&m->failures, 1);
}

static const struct vu_client_ops env_ops = {
	.dma_read = env_dma_read, .dma_write = env_dma_write, .failed = env_failed,
};

struct vfio_env_dma *vfio_env_dma_new(void)
{
	struct vfio_env_dma *m = calloc(1, sizeof(*m));

	FUZZ_CHECK(m, "out of memory");
	for (size_t i = 0; i < RW_SIZE; i++)
		m->rw[i] = (uint8_t)i;
	memset(m->ro, 0xa5, sizeof(m->ro));
	return m;
}

void vfio_env_dma_free(struct vfio_env_dma *m)
{
	free(m);
}

void vfio_env_client_config(struct vu_client_config *cfg, struct vfio_env_dma *m,
			    int timeout_ms)
{
	*cfg = (struct vu_client_config){
		.name = "fuzz", .call_timeout_ms = timeout_ms, .ops = &env_ops, .opaque = m,
	};
}

/* ---- the call sequence ---- */

static void check_rc(int rc, unsigned step)
{
	FUZZ_CHECK(rc <= 0 && rc > -4096, "step %u returned %d", step, rc);
}

static void check_caps(const struct vu_caps *c)
{
	FUZZ_CHECK(c->max_msg_fds <= VU_CLIENT_MAX_MSG_FDS && c->max_data_xfer_size >= 1 &&
		   c->max_data_xfer_size <= 64u << 20 && (c->pgsizes & 4096) &&
		   c->max_dma_maps >= 1 && !c->twin_socket,
		   "negotiated fds %u xfer %u pgsizes %#llx maps %u", c->max_msg_fds,
		   c->max_data_xfer_size, (unsigned long long)c->pgsizes, c->max_dma_maps);
}

static int region_info(struct vu_client *c, uint32_t index)
{
	struct vu_region r;
	int fd = -2, rc = vu_dev_get_region_info(c, index, &r, &fd);

	if (rc) {
		FUZZ_CHECK(fd == -1, "fd %d left after an error", fd);
		return rc;
	}
	FUZZ_CHECK(r.index == index && r.size <= (1ULL << 40) &&
		   r.nr_sparse <= VU_MAX_SPARSE_AREAS, "region %u: index %u size %#llx, %u areas",
		   index, r.index, (unsigned long long)r.size, r.nr_sparse);
	for (unsigned i = 0; i < r.nr_sparse; i++)
		FUZZ_CHECK(r.sparse[i].size && r.sparse[i].offset <= r.size &&
			   r.sparse[i].size <= r.size - r.sparse[i].offset, "sparse area %u", i);
	if (fd >= 0) {
		FUZZ_CHECK(r.flags & VFIO_REGION_INFO_FLAG_MMAP, "fd for an unmappable region");
		FUZZ_CHECK(fcntl(fd, F_GETFD) >= 0, "fd %d is not open", fd);
		close(fd);
	}
	return 0;
}

static int dma_map(struct vu_client *c, atomic_bool *live, uint64_t addr, uint64_t size,
		   uint32_t flags)
{
	int rc;

	atomic_store(live, true);
	rc = vu_dev_dma_map(c, addr, size, flags, -1, 0);
	if (rc)
		atomic_store(live, false);
	return rc;
}

static int set_intx(struct vu_client *c)
{
	int efd = eventfd(0, EFD_CLOEXEC), rc;

	FUZZ_CHECK(efd >= 0, "eventfd");
	rc = vu_dev_set_irqs(c, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd);
	close(efd);
	return rc;
}

static int reg_write(struct vu_client *c, uint64_t reg, uint64_t v, uint32_t len)
{
	return vu_dev_region_write(c, VFIO_PCI_BAR0_REGION_INDEX, reg, &v, len);
}

static int step_info(struct vu_client *c)
{
	struct vu_device_info di;
	int rc = vu_dev_get_info(c, &di);

	if (!rc)
		FUZZ_CHECK(di.num_regions <= VU_MAX_REGIONS && di.num_irqs <= VU_MAX_IRQ_TYPES,
			   "%u regions, %u irq types", di.num_regions, di.num_irqs);
	return rc;
}

static int step_irq_info(struct vu_client *c)
{
	struct vu_irq_info ii;
	int rc = vu_dev_get_irq_info(c, VFIO_PCI_INTX_IRQ_INDEX, &ii);

	if (!rc)
		FUZZ_CHECK(ii.index == VFIO_PCI_INTX_IRQ_INDEX, "irq info for %u", ii.index);
	return rc;
}

static int step_read(struct vu_client *c, uint32_t region, uint64_t off)
{
	uint32_t v;

	return vu_dev_region_read(c, region, off, &v, sizeof(v));
}

static int step_unmap_ro(struct vu_client *c, struct vfio_env_dma *m)
{
	int rc = vu_dev_dma_unmap(c, RO_ADDR, RO_SIZE);

	atomic_store(&m->ro_live, false);   /* forgotten by the client either way */
	return rc;
}

static int run_step(struct vu_client *c, struct vfio_env_dma *m, unsigned i)
{
	switch (i) {
	case 0: return vu_client_negotiate(c);
	case 1: return step_info(c);
	case 2: return dma_map(c, &m->rw_live, RW_ADDR, RW_SIZE, VU_DMA_READ | VU_DMA_WRITE);
	case 3: return dma_map(c, &m->ro_live, RO_ADDR, RO_SIZE, VU_DMA_READ);
	case 4: return region_info(c, VFIO_PCI_BAR0_REGION_INDEX);
	case 5: return region_info(c, VFIO_PCI_BAR2_REGION_INDEX);
	case 6: return step_irq_info(c);
	case 7: return set_intx(c);
	case 8: return step_read(c, VFIO_PCI_CONFIG_REGION_INDEX, 0);
	case 9: return reg_write(c, DMA_DEV_REG_SRC, RW_ADDR, 8);
	case 10: return reg_write(c, DMA_DEV_REG_DST, RW_ADDR + 0x1000, 8);
	case 11: return reg_write(c, DMA_DEV_REG_LEN, 64, 4);
	case 12: return reg_write(c, DMA_DEV_REG_DOORBELL, 1, 4);
	case 13: return step_read(c, VFIO_PCI_BAR0_REGION_INDEX, DMA_DEV_REG_STATUS);
	case 14: return step_unmap_ro(c, m);
	case 15: return vu_dev_reset(c);
	default:
		return vu_dev_set_irqs(c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
				       VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
	}
}

uint32_t vfio_env_session(struct vu_client *c, struct vfio_env_dma *m)
{
	uint32_t ok = 0;
	unsigned failures;

	for (unsigned i = 0; i < VFIO_ENV_STEPS; i++) {
		int rc = run_step(c, m, i);

		check_rc(rc, i);
		if (i == 0 && !rc)
			check_caps(vu_client_caps(c));
		ok |= rc ? 0 : 1u << i;
	}
	/* Failure is sticky and reported exactly once. */
	failures = atomic_load(&m->failures);
	FUZZ_CHECK(failures <= 1, "failed callback ran %u times", failures);
	if (vu_client_failed(c)) {
		FUZZ_CHECK(failures == 1, "failed without the callback");
		FUZZ_CHECK(vu_dev_reset(c) == -ENOTCONN, "a failed client still calls");
	}
	return ok;
}

/* ---- a guest's first look at the device, through the PCI host ports and
 * the BARs (vCPU-thread paths: config forwarding and patching, the emulated
 * capabilities, MSI/MSI-X switching on the VM's real routing, BAR traps) ---- */

static uint32_t cfg_rw(struct vm *vm, unsigned slot, unsigned off, bool is_write, uint32_t v, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	iobus_dispatch(&vm->pio, NULL, PCI_HOST_PORT_ADDR, true, &a, 4);
	iobus_dispatch(&vm->pio, NULL, PCI_HOST_PORT_DATA + (off & 3), is_write, &v, len);
	return v;
}

static void bar_rw(struct vm *vm, uint64_t gpa, bool is_write, uint32_t v)
{
	iobus_dispatch(&vm->mmio, NULL, gpa, is_write, &v, 4);
}

static void probe_msix(struct vm *vm, struct vfio_dev *d, unsigned slot, unsigned at)
{
	uint32_t table = cfg_rw(vm, slot, at + 4, false, 0, 4);
	uint64_t base = (table & 7) < 6 ? vfio_dev_bar(d, table & 7) : 0;
	uint64_t entry = base + (table & ~7u);

	cfg_rw(vm, slot, at + 2, true, 0x8000, 2);               /* enable */
	if (base) {
		bar_rw(vm, entry, true, 0xfee00000u);            /* address */
		bar_rw(vm, entry + 8, true, 0x31);               /* data */
		bar_rw(vm, entry + 12, true, 0);                 /* unmask */
		bar_rw(vm, entry + 12, false, 0);
	}
	cfg_rw(vm, slot, at + 2, true, 0xc000, 2);               /* function mask */
	cfg_rw(vm, slot, at + 2, true, 0, 2);                    /* off */
}

static void probe_msi(struct vm *vm, unsigned slot, unsigned at)
{
	cfg_rw(vm, slot, at + 4, true, 0xfee00000u, 4);
	cfg_rw(vm, slot, at + 2, true, 0x0011, 2);               /* on, 2 vectors */
	cfg_rw(vm, slot, at + 2, false, 0, 2);
	cfg_rw(vm, slot, at + 2, true, 0, 2);                    /* off */
}

void vfio_env_guest_probe(struct vm *vm, struct vfio_dev *d)
{
	unsigned slot = vfio_dev_slot(d), at, n = 0;

	for (unsigned off = 0; off < 0x40; off += 4)
		cfg_rw(vm, slot, off, false, 0, 4);
	cfg_rw(vm, slot, 0x04, true, 0x0007, 2);             /* I/O, memory, bus master */
	if (!(cfg_rw(vm, slot, 0x06, false, 0, 2) & 0x10))
		return;
	for (at = cfg_rw(vm, slot, 0x34, false, 0, 1) & 0xfc; at >= 0x40 && n < 48; n++) {
		uint32_t hdr = cfg_rw(vm, slot, at, false, 0, 4);

		if ((hdr & 0xff) == 0x11)
			probe_msix(vm, d, slot, at);
		else if ((hdr & 0xff) == 0x05)
			probe_msi(vm, slot, at);
		at = (hdr >> 8) & 0xfc;
	}
	for (unsigned i = 0; i < 6; i++)
		if (vfio_dev_bar(d, i) >= VM_MMIO_HOLE_START)
			bar_rw(vm, vfio_dev_bar(d, i), false, 0);
}

/* ---- the replaying server ---- */

struct vfio_env_server {
	int fd, listen_fd;
	bool memfds;
	const uint8_t *buf;
	size_t len;
	pthread_t feeder, drainer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned commands, replies;
	bool client_done;
};

/* Every message waits for a call in progress: replies are never early and
 * server commands arrive while the client waits, as a server doing DMA
 * for a command would send them. */
static bool wait_call(struct vfio_env_server *r, int secs)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&r->lock);
	while (r->commands <= r->replies && !r->client_done &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
		;
	done = r->client_done;
	pthread_mutex_unlock(&r->lock);
	return !done;
}

/* A descriptor to attach: an eventfd, or a 64 KiB memfd (mappable). */
static int make_fd(bool memfd)
{
	int fd = memfd ? memfd_create("fuzz-vfio", MFD_CLOEXEC) : eventfd(0, EFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0, "cannot create a descriptor");
	if (memfd)
		FUZZ_CHECK(ftruncate(fd, 65536) == 0, "ftruncate");
	return fd;
}

static int send_chunk(struct vfio_env_server *r, const uint8_t *p, size_t n, unsigned nfds)
{
	FDPASS_CTL(ctl, 20);
	struct vu_hdr h;
	struct iovec iov[2] = { { (void *)p, n }, { NULL, 0 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 1 };
	int fds[20], rc;

	if (n >= sizeof(h)) {
		memcpy(&h, p, sizeof(h));
		h.flags &= ~VFIO_ENV_FD_MASK;
		iov[0] = (struct iovec){ &h, sizeof(h) };
		iov[1] = (struct iovec){ (void *)(p + sizeof(h)), n - sizeof(h) };
		mh.msg_iovlen = 2;
	}
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = make_fd(r->memfds);
	fdpass_attach(&mh, ctl.buf, fds, nfds);
	rc = sendmsg(r->fd, &mh, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

static void feed(struct vfio_env_server *r)
{
	bool whole = true;   /* the last chunk was a whole message */
	size_t off = 0;

	while (off < r->len && wait_call(r, 1)) {
		size_t n = r->len - off;
		unsigned nfds = 0;
		struct vu_hdr h;

		whole = false;
		if (n >= sizeof(h)) {
			memcpy(&h, r->buf + off, sizeof(h));
			whole = h.msg_size == n;
			if (h.msg_size >= sizeof(h) && h.msg_size < n)
				n = h.msg_size, whole = true;
			nfds = (h.flags & VFIO_ENV_FD_MASK) >> VFIO_ENV_FD_SHIFT;
			nfds = nfds == 15 ? 20 : nfds;
			if (vu_hdr_is_reply(&h)) {
				pthread_mutex_lock(&r->lock);
				r->replies++;
				pthread_mutex_unlock(&r->lock);
			}
		}
		if (send_chunk(r, r->buf + off, n, nfds))
			break;
		off += n;
	}
	/* Out of input: close when the client calls (it would wait in vain)
	 * or leaves, not while it is idle (a live server stays connected);
	 * at once if it is waiting for the rest of a message. */
	if (whole)
		wait_call(r, 5);
	shutdown(r->fd, SHUT_WR);
}

/* Read exactly @len bytes (into @buf, or discarded), closing descriptors. */
static int drain_read(int fd, void *buf, size_t len)
{
	static _Thread_local uint8_t scratch[65536];
	FDPASS_CTL(ctl, 16);

	while (len) {
		size_t want = buf || len < sizeof(scratch) ? len : sizeof(scratch);
		struct iovec v = { buf ? buf : scratch, want };
		struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(c))[i]);
		len -= (size_t)n;
		if (buf)
			buf = (uint8_t *)buf + n;
	}
	return 0;
}

static void client_gone(struct vfio_env_server *r)
{
	pthread_mutex_lock(&r->lock);
	r->client_done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Read what the client sends; count its commands. */
static void *drainer(void *arg)
{
	struct vfio_env_server *r = arg;
	struct vu_hdr h;

	while (drain_read(r->fd, &h, sizeof(h)) == 0 && h.msg_size >= sizeof(h) &&
	       drain_read(r->fd, NULL, h.msg_size - sizeof(h)) == 0) {
		if ((h.flags & VU_F_TYPE_MASK) != VU_F_TYPE_COMMAND)
			continue;
		pthread_mutex_lock(&r->lock);
		r->commands++;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
	client_gone(r);
	return NULL;
}

/* Accept the client if need be, then read (drainer) and write (here). */
static void *feeder(void *arg)
{
	struct vfio_env_server *r = arg;
	bool drainer_up = false;

	if (r->listen_fd >= 0)
		r->fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (r->fd >= 0)
		drainer_up = pthread_create(&r->drainer, NULL, drainer, r) == 0;
	if (drainer_up)
		feed(r);
	else
		client_gone(r);
	if (drainer_up)
		pthread_join(r->drainer, NULL);
	return NULL;
}

struct vfio_env_server *vfio_env_server_start(int fd, int listen_fd, const uint8_t *buf,
					      size_t len, bool memfds)
{
	struct vfio_env_server *r = calloc(1, sizeof(*r));

	FUZZ_CHECK(r, "out of memory");
	*r = (struct vfio_env_server){
		.fd = fd, .listen_fd = listen_fd, .memfds = memfds, .buf = buf, .len = len,
	};
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	FUZZ_CHECK(pthread_create(&r->feeder, NULL, feeder, r) == 0, "thread");
	return r;
}

void vfio_env_server_finish(struct vfio_env_server *r)
{
	/* A client that never connected: wake accept. */
	if (r->listen_fd >= 0)
		shutdown(r->listen_fd, SHUT_RDWR);
	pthread_join(r->feeder, NULL);
	if (r->fd >= 0)
		close(r->fd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void vfio_env_check_fds(const char *when)
{
	int fds;

	if (fd_baseline < 0) {
		fd_baseline = fuzz_count_fds(-1);
		return;
	}
	fds = fuzz_count_fds(fd_baseline);
	if (fds != fd_baseline)
		fuzz_dump_fds();
	FUZZ_CHECK(fds == fd_baseline, "%d fds open %s, %d before", fds, when, fd_baseline);
}

uint32_t vfio_env_replay(const uint8_t *buf, size_t len, int timeout_ms)
{
	struct vu_client_config cfg;
	struct vfio_env_server *r;
	struct vfio_env_dma *m;
	struct vu_client *c;
	struct vu_tran *t;
	uint32_t ok;
	int sv[2];

	if (fd_baseline < 0)
		vfio_env_check_fds("");
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	m = vfio_env_dma_new();
	vfio_env_client_config(&cfg, m, timeout_ms);
	FUZZ_CHECK(vu_tran_fd_new(&t, sv[0], sv[0]) == 0, "transport");
	FUZZ_CHECK(vu_client_new(&c, t, &cfg) == 0, "client");
	r = vfio_env_server_start(sv[1], -1, buf, len, false);
	ok = vfio_env_session(c, m);
	vu_client_free(&c);   /* shuts the socket down: the server's threads end */
	vfio_env_server_finish(r);
	vfio_env_dma_free(m);
	vfio_env_check_fds("after the session");
	return ok;
}

/*
 * Records the seed corpora of the vfio-user fuzz targets from vu-dma, the
 * device server of the vfio suites, and checks that each recording replays:
 *
 *   fuzz_vfio_client   what vu-dma sends while the client runs the fuzz
 *                      session (vfio_client_env.c), one file per server
 *                      mode; each is replayed at once through the fuzz
 *                      target's server and must give the same call results
 *   fuzz_vfio_caps     vu-dma's configuration space, BAR sizes and vector
 *                      counts, plus guest operations that enable MSI/MSI-X
 *   fuzz_vfio_msg      the VERSION and region info replies and headers cut
 *                      out of the recordings
 *   fuzz_vfio_attach   what vu-dma sends while vigild attaches it to a VM
 *                      (vfio_set_new through a recording proxy), replayed
 *                      into a second attach that must end the same way
 *
 * Usage: fuzz_vfio_gen_seeds DIR   (writes DIR/fuzz_vfio_*; the corpus is
 * test/fuzz/corpus). Without DIR it only records and replays (a test).
 * Regression inputs are committed next to the seeds, not written here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "fuzz_check.h"
#include "kvm_host.h"
#include "vfio_client_env.h"
#include "vfio_dev.h"
#include "vm.h"
#include "vu_dev.h"
#include "../vfio/dma_dev.h"

/* ---- a transport that records what the client receives ---- */

struct record {
	uint8_t *buf;
	size_t len, cap;
	size_t hdr_at;
	uint32_t body_left;
};

struct rec_tran {
	struct vu_tran base;
	struct vu_tran_ops ops;
	struct vu_tran *inner;
	struct record *rec;
};

static void rec_append(struct record *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->buf = realloc(r->buf, r->cap);
		FUZZ_CHECK(r->buf, "out of memory");
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static int rec_send(struct vu_tran *t, const struct iovec *iov, int iovcnt, const int *fds,
		    unsigned nfds, int timeout_ms)
{
	struct rec_tran *rt = (struct rec_tran *)t;

	return rt->inner->ops->send(rt->inner, iov, iovcnt, fds, nfds, timeout_ms);
}

/* The client reads a header, then its body: descriptors that came with
 * either are counted into the header's flag bits 24..27. */
static int rec_recv(struct vu_tran *t, void *buf, size_t len, int *fds, unsigned *nfds,
		    unsigned max_fds, int timeout_ms)
{
	struct rec_tran *rt = (struct rec_tran *)t;
	struct record *r = rt->rec;
	unsigned before = *nfds;
	struct vu_hdr h;
	int err = rt->inner->ops->recv(rt->inner, buf, len, fds, nfds, max_fds, timeout_ms);

	if (err)
		return err;
	if (!r->body_left && len == sizeof(h)) {
		r->hdr_at = r->len;
		memcpy(&h, buf, sizeof(h));
		r->body_left = h.msg_size > sizeof(h) ? h.msg_size - (uint32_t)sizeof(h) : 0;
	} else {
		r->body_left -= len < r->body_left ? (uint32_t)len : r->body_left;
	}
	rec_append(r, buf, len);
	if (*nfds > before) {
		memcpy(&h, r->buf + r->hdr_at, sizeof(h));
		h.flags += (*nfds - before) << VFIO_ENV_FD_SHIFT;
		memcpy(r->buf + r->hdr_at, &h, sizeof(h));
	}
	return 0;
}

static void rec_wake(struct vu_tran *t)
{
	struct rec_tran *rt = (struct rec_tran *)t;

	rt->inner->ops->wake(rt->inner);
}

static void rec_free(struct vu_tran *t)
{
	struct rec_tran *rt = (struct rec_tran *)t;

	vu_tran_free(rt->inner);
	free(rt);
}

static struct vu_tran *rec_tran_new(struct vu_tran *inner, struct record *rec)
{
	struct rec_tran *rt = calloc(1, sizeof(*rt));

	FUZZ_CHECK(rt, "out of memory");
	rt->inner = inner;
	rt->rec = rec;
	rt->ops = *inner->ops;
	rt->ops.send = rec_send;
	rt->ops.recv = rec_recv;
	rt->ops.wake = rec_wake;
	rt->ops.free = rec_free;
	rt->base.ops = &rt->ops;
	return &rt->base;
}

/* ---- vu-dma ---- */

static pid_t spawn_vu_dma(int *fd, const char *const *args)
{
	char fdarg[32], *argv[8];
	int sv[2], n = 0;
	pid_t pid;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", sv[1]);
	argv[n++] = (char *)VU_DMA_SERVER;
	argv[n++] = fdarg;
	for (; *args && n < 7; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	FUZZ_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		fcntl(sv[1], F_SETFD, 0);
		execv(VU_DMA_SERVER, argv);
		_exit(127);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

static struct vu_client *connect_vu_dma(const char *const *args, struct record *rec,
					struct vfio_env_dma *m, pid_t *pid)
{
	struct vu_client_config cfg;
	struct vu_client *c;
	struct vu_tran *t;
	int fd;

	*pid = spawn_vu_dma(&fd, args);
	FUZZ_CHECK(vu_tran_fd_new(&t, fd, fd) == 0, "transport");
	vfio_env_client_config(&cfg, m, 2000);
	FUZZ_CHECK(vu_client_new(&c, rec ? rec_tran_new(t, rec) : t, &cfg) == 0, "client");
	return c;
}

/* ---- output ---- */

static const char *out_dir;

static void save(const char *target, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	if (!out_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	FUZZ_CHECK(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

/* fuzz_vfio_msg inputs: [selector][extra][body]; each distinct one once. */
static void save_msg(const char *name, uint8_t sel, int extra, const void *p, size_t n)
{
	static uint8_t seen[64][512];
	static size_t seen_len[64];
	static unsigned nr_seen;
	uint8_t buf[512];
	size_t k = 0;

	buf[k++] = sel;
	if (extra >= 0)
		buf[k++] = (uint8_t)extra;
	n = n < sizeof(buf) - k ? n : sizeof(buf) - k;
	memcpy(buf + k, p, n);
	for (unsigned i = 0; i < nr_seen; i++)
		if (seen_len[i] == k + n && !memcmp(seen[i], buf, k + n))
			return;
	if (nr_seen < 64) {
		memcpy(seen[nr_seen], buf, k + n);
		seen_len[nr_seen++] = k + n;
	}
	save("fuzz_vfio_msg", name, buf, k + n);
}

/* Cut the VERSION and region info replies out of a recording. */
static void msg_seeds(const char *mode, const struct record *r)
{
	char name[96];
	unsigned nr = 0;

	for (size_t off = 0; off + sizeof(struct vu_hdr) <= r->len; nr++) {
		struct vu_hdr h;
		const uint8_t *body = r->buf + off + sizeof(h);
		size_t blen;

		memcpy(&h, r->buf + off, sizeof(h));
		if (h.msg_size < sizeof(h) || h.msg_size > r->len - off)
			break;
		blen = h.msg_size - sizeof(h);
		snprintf(name, sizeof(name), "%s-%02u-%s", mode, nr, vu_cmd_name(h.cmd));
		if (vu_hdr_is_reply(&h) && !(h.flags & VU_F_ERROR) && h.cmd == VU_CMD_VERSION) {
			save_msg(name, 1, 3, body, blen);
			if (blen > sizeof(struct vu_version)) {
				strcat(name, "-json");
				save_msg(name, 2, -1, body + 4, blen - 5);
			}
		} else if (vu_hdr_is_reply(&h) && !(h.flags & VU_F_ERROR) &&
			   h.cmd == VU_CMD_DEVICE_GET_REGION_INFO && blen >= 12) {
			save_msg(name, 0, body[8], body, blen);
		} else if (nr < 4) {
			strcat(name, "-hdr");
			save_msg(name, 4, 1, &h, sizeof(h));
		}
		off += h.msg_size;
	}
}

/* ---- fuzz_vfio_client: one recording per server mode ---- */

static const struct {
	const char *name;
	const char *args[4];
} modes[] = {
	{ "intx", { NULL } },
	{ "msi", { "--irq=msi", NULL } },
	{ "msix", { "--irq=msix", NULL } },
	{ "error-replies", { "--mode=error", NULL } },
	{ "malformed-reply", { "--mode=malformed", NULL } },
	{ "oversized-reply", { "--mode=oversized", NULL } },
	{ "dma-outside-window", { "--mode=dma-outside", NULL } },
	{ "crash-on-doorbell", { "--mode=crash", NULL } },
	{ "other-major", { "--mode=bad-major", NULL } },
	{ "caps-no-fds-tiny-xfer", { "--caps={\"capabilities\":{\"max_msg_fds\":0,"
				     "\"max_data_xfer_size\":4,\"pgsizes\":12288,"
				     "\"max_dma_maps\":1,\"write_multiple\":true}}", NULL } },
	{ "caps-none", { "--caps={}", NULL } },
};

static int client_seeds(void)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct record rec = { 0 };
		struct vfio_env_dma *m = vfio_env_dma_new();
		pid_t pid;
		struct vu_client *c = connect_vu_dma(modes[i].args, &rec, m, &pid);
		uint32_t live = vfio_env_session(c, m), replay;

		vu_client_free(&c);
		reap(pid);
		vfio_env_dma_free(m);
		replay = vfio_env_replay(rec.buf, rec.len, 2000);
		printf("%-24s %5zu bytes  steps live %05x replayed %05x%s\n", modes[i].name,
		       rec.len, live, replay, live == replay ? "" : "  MISMATCH");
		bad |= live != replay;
		save("fuzz_vfio_client", modes[i].name, rec.buf, rec.len);
		msg_seeds(modes[i].name, &rec);
		free(rec.buf);
	}
	return bad;
}

/* ---- fuzz_vfio_caps: configuration space, BARs, vector counts ---- */

struct caps_seed {
	uint8_t cfg[256];
	uint64_t bar[6];
	uint32_t msi_count, msix_count;
	uint8_t ops[64][8];
};

static void put_op(struct caps_seed *s, unsigned *n, uint8_t op, uint8_t a, uint8_t b,
		   uint8_t c, uint32_t v)
{
	uint8_t *o = s->ops[(*n)++];

	o[0] = op, o[1] = a, o[2] = b, o[3] = c;
	memcpy(o + 4, &v, 4);
}

static uint32_t irq_count(struct vu_client *c, uint32_t index)
{
	struct vu_irq_info ii;

	return vu_dev_get_irq_info(c, index, &ii) ? 0 : ii.count;
}

/* Guest operations: MSI on and off, MSI-X on with table writes, PBA and
 * pending reads, mappable queries of BAR2 and BAR4. */
static unsigned guest_ops(struct caps_seed *s)
{
	unsigned n = 0, msi = DMA_DEV_CAP_MSI, msix = DMA_DEV_CAP_MSIX;

	for (unsigned off = 0; off < 0x70; off += 4)
		put_op(s, &n, 0, (uint8_t)off, 2, 0, 0);                 /* read dwords */
	put_op(s, &n, 1, (uint8_t)(msi + 4), 2, 0, 0xfee00000u);       /* MSI address */
	put_op(s, &n, 1, (uint8_t)(msi + 12), 1, 0, 0x41);            /* data */
	put_op(s, &n, 1, (uint8_t)(msi + 2), 1, 0, 0x21);             /* on, 4 vectors */
	put_op(s, &n, 0, (uint8_t)(msi + 20), 2, 0, 0);               /* pending */
	put_op(s, &n, 1, (uint8_t)(msi + 2), 1, 0, 0);                /* off */
	put_op(s, &n, 1, (uint8_t)(msix + 2), 1, 0, 0x8000);          /* MSI-X on */
	put_op(s, &n, 3, 4, 2, 0x80, 0x00);                           /* table writes */
	put_op(s, &n, 3, 4, 2, 0x80, 0x0c);
	put_op(s, &n, 2, 4, 3, 0xc0, 0);                              /* PBA read */
	put_op(s, &n, 1, (uint8_t)(msix + 2), 1, 0, 0xc000);          /* function mask */
	put_op(s, &n, 4, 4, 3, 0, 0);                                 /* BAR4 pages */
	put_op(s, &n, 4, 2, 1, 0, 0);                                 /* BAR2 pages */
	put_op(s, &n, 1, (uint8_t)(msix + 2), 1, 0, 0);               /* MSI-X off */
	return n;
}

static int caps_seed(const char *irq)
{
	char arg[64], name[64];
	const char *args[] = { arg, NULL };
	struct caps_seed s = { 0 };
	struct vfio_env_dma *m = vfio_env_dma_new();
	struct vu_client *c;
	unsigned nops;
	pid_t pid;
	int err = 0;

	snprintf(arg, sizeof(arg), "--irq=%s", irq);
	c = connect_vu_dma(args, NULL, m, &pid);
	FUZZ_CHECK(vu_client_negotiate(c) == 0, "vu-dma %s: negotiate", irq);
	for (unsigned off = 0; off < sizeof(s.cfg) && !err; off += 4)
		err = vu_dev_region_read(c, VFIO_PCI_CONFIG_REGION_INDEX, off, s.cfg + off, 4);
	FUZZ_CHECK(!err, "vu-dma %s: config space: %d", irq, err);
	for (unsigned i = 0; i < 6; i++) {
		struct vu_region r;
		uint32_t reg;
		int fd;

		if (vu_dev_get_region_info(c, i, &r, &fd))
			continue;
		if (fd >= 0)
			close(fd);
		memcpy(&reg, s.cfg + 0x10 + 4 * i, 4);
		s.bar[i] = r.size << 2 | (reg & 1) | (((reg >> 1) & 3) == 2 ? 2 : 0);
	}
	s.msi_count = irq_count(c, VFIO_PCI_MSI_IRQ_INDEX);
	s.msix_count = irq_count(c, VFIO_PCI_MSIX_IRQ_INDEX);
	vu_client_free(&c);
	reap(pid);
	vfio_env_dma_free(m);
	nops = guest_ops(&s);
	snprintf(name, sizeof(name), "vu-dma-%s", irq);
	save("fuzz_vfio_caps", name, &s, offsetof(struct caps_seed, ops) + 8 * nops);
	printf("caps %-14s msi %u msix %u, %u guest operations\n", irq, s.msi_count,
	       s.msix_count, nops);
	return 0;
}

/* ---- fuzz_vfio_attach: vigild attaching to vu-dma through a proxy ---- */

struct proxy {
	int listen_fd, server_fd;
	struct record rec;
	pthread_t thread;
};

/* One message from @fd with its descriptors; 0 or -1 at end of stream. */
static int msg_in(int fd, uint8_t **body, struct vu_hdr *h, int *fds, unsigned *nfds)
{
	FDPASS_CTL(ctl, 16);
	size_t got = 0, len = sizeof(*h);
	uint8_t *p = (uint8_t *)h;

	*nfds = 0;
	for (int part = 0; part < 2; part++) {
		while (got < len) {
			struct iovec v = { p + got, len - got };
			struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1,
					     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
			ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

			if (n <= 0)
				return -1;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
				     *nfds < 16; i++)
					fds[(*nfds)++] = ((int *)CMSG_DATA(c))[i];
			got += (size_t)n;
		}
		if (part == 0) {
			if (h->msg_size < sizeof(*h))
				return -1;
			len = h->msg_size - sizeof(*h);
			*body = malloc(len ? len : 1);
			FUZZ_CHECK(*body, "out of memory");
			p = *body;
			got = 0;
		}
	}
	return 0;
}

static int msg_out(int fd, const struct vu_hdr *h, const uint8_t *body, const int *fds,
		   unsigned nfds)
{
	FDPASS_CTL(ctl, 16);
	struct iovec v[2] = { { (void *)h, sizeof(*h) }, { (void *)body, h->msg_size - sizeof(*h) } };
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = 2 };

	fdpass_attach(&mh, ctl.buf, fds, nfds);
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)h->msg_size ? 0 : -1;
}

/* Forward one message from @from to @to; record it if it came from the
 * server (with its descriptor count in the flag bits). */
static int forward(struct proxy *px, int from, int to, bool record)
{
	struct vu_hdr h, rh;
	uint8_t *body = NULL;
	int fds[16], err;
	unsigned nfds;

	err = msg_in(from, &body, &h, fds, &nfds);
	if (!err && record) {
		rh = h;
		rh.flags |= (nfds < 15 ? nfds : 15) << VFIO_ENV_FD_SHIFT;
		rec_append(&px->rec, &rh, sizeof(rh));
		rec_append(&px->rec, body, h.msg_size - sizeof(h));
	}
	if (!err)
		err = msg_out(to, &h, body, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(body);
	return err;
}

static void *proxy_main(void *arg)
{
	struct proxy *px = arg;
	int c = accept4(px->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct pollfd p[2] = { { .fd = c, .events = POLLIN }, { .fd = px->server_fd, .events = POLLIN } };

	while (c >= 0 && poll(p, 2, -1) > 0) {
		if ((p[0].revents && forward(px, c, px->server_fd, false)) ||
		    (p[1].revents && forward(px, px->server_fd, c, true)))
			break;
	}
	if (c >= 0)
		close(c);
	return NULL;
}

static struct vm *attach_vm(struct kvm_host *kvm)
{
	struct vm_config cfg = { .mem_size = 4 << 20, .nr_vcpus = 1, .irqchip = true };
	char why[256];
	struct vm *vm;

	FUZZ_CHECK(vm_create(&vm, kvm, &cfg, why, sizeof(why)) == 0, "%s", why);
	return vm;
}

/* Attach to whatever listens on @path; the device's state as a string. */
static void attach_once(struct vm *vm, const char *path, char *out, size_t len)
{
	char spec[160], why[256] = "";
	const char *args[1] = { spec };
	struct vfio_set *set;
	struct vfio_dev *d;
	size_t n;

	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,timeout=2000", path);
	FUZZ_CHECK(vfio_set_new(&set, vm, args, 1, why, sizeof(why)) == 0, "%s", why);
	d = vfio_set_dev(set, 0);
	n = (size_t)snprintf(out, len, "%s BARs", vfio_dev_failed(d) ? "failed" : "working");
	for (unsigned i = 0; i < 6 && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, " %llx", (unsigned long long)vfio_dev_bar(d, i));
	vfio_env_guest_probe(vm, d);
	if (n < len)
		snprintf(out + n, len - n, ", after the probe %s",
			 vfio_dev_failed(d) ? "failed" : "working");
	vfio_set_free(&set);
}

static int listen_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	FUZZ_CHECK(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 1) == 0,
		   "listen on %s", path);
	return l;
}

static void put_dma(struct record *r, uint16_t id, uint16_t cmd, uint64_t gpa, uint32_t len)
{
	struct vu_dma_access a = { gpa, len };
	struct vu_hdr h = { id, cmd, (uint32_t)(sizeof(h) + sizeof(a)), VU_F_TYPE_COMMAND, 0 };
	uint8_t data[16];

	memset(data, 0x5a, sizeof(data));
	if (cmd == VU_CMD_DMA_WRITE)
		h.msg_size += len;
	rec_append(r, &h, sizeof(h));
	rec_append(r, &a, sizeof(a));
	if (cmd == VU_CMD_DMA_WRITE)
		rec_append(r, data, len);
}

/* The attach recording with server DMA requests spliced in after the DMA_MAP
 * reply (vu-dma only does DMA on a doorbell): into guest RAM both ways, and
 * outside it. Odd and even lengths: with and without trace-dma. */
static void dma_seeds(const char *name, const struct record *rec)
{
	size_t off = 0, at = 0;
	char fname[96];

	while (!at && off + sizeof(struct vu_hdr) <= rec->len) {
		struct vu_hdr h;

		memcpy(&h, rec->buf + off, sizeof(h));
		if (h.msg_size < sizeof(h))
			return;
		off += h.msg_size;
		if (h.cmd == VU_CMD_DMA_MAP && vu_hdr_is_reply(&h))
			at = off;
	}
	for (int odd = 0; at && odd < 2; odd++) {
		struct record r = { 0 };

		rec_append(&r, rec->buf, at);
		put_dma(&r, 0x100, VU_CMD_DMA_READ, 0x1000, 16);
		put_dma(&r, 0x101, VU_CMD_DMA_WRITE, 0x2000, 8);
		put_dma(&r, 0x102, VU_CMD_DMA_READ, 0x3ffff8, 16);    /* past the end of RAM */
		put_dma(&r, 0x103, VU_CMD_DMA_WRITE, 0xdead0000, 4);  /* no window */
		rec_append(&r, rec->buf + at, rec->len - at);
		if ((r.len & 1) != (size_t)odd)
			rec_append(&r, "", 1);                       /* a stray byte, never sent */
		snprintf(fname, sizeof(fname), "%s-dma%s", name, odd ? "-traced" : "");
		save("fuzz_vfio_attach", fname, r.buf, r.len);
		free(r.buf);
	}
}

static int attach_seed(struct kvm_host *kvm, const char *name, const char *const *args)
{
	char path[108], live[200], replayed[200];
	struct proxy px = { .listen_fd = -1 };
	struct vfio_env_server *srv;
	struct vm *vm = attach_vm(kvm);
	pid_t pid;

	snprintf(path, sizeof(path), "/tmp/vigil-fuzz-vfio-gen.%d", (int)getpid());
	px.listen_fd = listen_path(path);
	pid = spawn_vu_dma(&px.server_fd, args);
	FUZZ_CHECK(pthread_create(&px.thread, NULL, proxy_main, &px) == 0, "thread");
	attach_once(vm, path, live, sizeof(live));
	shutdown(px.server_fd, SHUT_RDWR);
	pthread_join(px.thread, NULL);
	close(px.server_fd);
	close(px.listen_fd);
	reap(pid);

	px.listen_fd = listen_path(path);
	srv = vfio_env_server_start(-1, px.listen_fd, px.rec.buf, px.rec.len, true);
	attach_once(vm, path, replayed, sizeof(replayed));
	vfio_env_server_finish(srv);
	close(px.listen_fd);
	unlink(path);
	vm_free(vm);
	printf("attach %-16s %5zu bytes  live: %s; replayed: %s%s\n", name, px.rec.len, live,
	       replayed, strcmp(live, replayed) ? "  MISMATCH" : "");
	save("fuzz_vfio_attach", name, px.rec.buf, px.rec.len);
	if (!strcmp(name, "vu-dma-intx"))
		dma_seeds(name, &px.rec);
	free(px.rec.buf);
	return strcmp(live, replayed) != 0;
}

static int attach_seeds(void)
{
	static const struct {
		const char *name;
		const char *args[3];
	} a[] = {
		{ "vu-dma-intx", { NULL } },
		{ "vu-dma-msi", { "--irq=msi", NULL } },
		{ "vu-dma-msix", { "--irq=msix", NULL } },
		{ "vu-dma-msix-bad-bir", { "--irq=msix-bad-bir", NULL } },
		{ "vu-dma-cap-loop", { "--irq=cap-loop", NULL } },
		{ "vu-dma-one-fd", { "--irq=msix", "--caps={\"capabilities\":{\"max_msg_fds\":1}}",
				     NULL } },
		{ "vu-dma-no-fds", { "--caps={\"capabilities\":{\"max_msg_fds\":0}}", NULL } },
	};
	struct kvm_host kvm;
	char why[256];
	int bad = 0;

	if (kvm_host_open(&kvm, NULL, why, sizeof(why))) {
		printf("attach seeds skipped: %s\n", why);
		return 0;
	}
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		bad |= attach_seed(&kvm, a[i].name, a[i].args);
	kvm_host_close(&kvm);
	return bad;
}

int main(int argc, char **argv)
{
	static const char *const irqs[] = { "intx", "msi", "msix", "msix-bad-bir",
					    "msix-huge", "cap-loop" };
	int bad;

	vfio_env_init();
	if (argc > 2) {
		fprintf(stderr, "usage: %s [CORPUS_DIR]\n", argv[0]);
		return 2;
	}
	out_dir = argc == 2 ? argv[1] : NULL;
	bad = client_seeds();
	for (size_t i = 0; i < sizeof(irqs) / sizeof(irqs[0]); i++)
		bad |= caps_seed(irqs[i]);
	bad |= attach_seeds();
	return bad ? 1 : 0;
}

/* vfio-user client connection: calls, the reader thread, served DMA. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotonic.h"
#include "vu_client.h"

#define VU_MAX_WINDOWS   64
#define VU_MAX_RECV_BODY (VU_CLIENT_MAX_XFER + 4096u)

struct vu_window {
	uint64_t addr, size;
	uint32_t flags;
};

struct vu_client {
	struct vu_tran *tran;
	char name[64];
	int timeout_ms;
	const struct vu_client_ops *ops;
	void *opaque;
	struct vu_caps proposed, caps;
	uint16_t minor;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t call_lock;     /* one call at a time */
	pthread_mutex_t send_lock;     /* whole messages on the wire */
	pthread_mutex_t lock;          /* pending call, windows, failure */
	pthread_cond_t cond;
	struct vu_call *pending;
	uint16_t pending_id, next_id;
	bool pending_done;
	int pending_err;
	atomic_bool fail_claimed;   /* the first failure wins */
	atomic_bool failed;         /* set once the owner has been told */
	struct vu_window win[VU_MAX_WINDOWS];
	unsigned nr_win;
	_Atomic uint64_t dma_served;
};

void vu_client_default_caps(struct vu_caps *caps)
{
	*caps = (struct vu_caps){
		.max_msg_fds = VU_CLIENT_MAX_MSG_FDS,
		.max_data_xfer_size = VU_CLIENT_MAX_XFER,
		.pgsizes = 4096,
		.max_dma_maps = VU_MAX_WINDOWS,
		.write_multiple = true,
	};
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

void vu_client_fail(struct vu_client *c, int err, const char *why)
{
	if (atomic_exchange(&c->fail_claimed, true))
		return;
	log_err("vfio-user %s: device failed: %s (%s); its accesses now read all-ones",
		c->name, why, strerror(-err));
	/* The owner hears of it before any waiting call returns, so that a
	 * caller that sees its call fail also sees the device failed. */
	if (c->ops && c->ops->failed)
		c->ops->failed(c->opaque, err, why);
	atomic_store(&c->failed, true);
	vu_tran_wake(c->tran);
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void failf(struct vu_client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void failf(struct vu_client *c, int err, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vu_client_fail(c, err, why);
}

bool vu_client_failed(const struct vu_client *c)
{
	return atomic_load(&((struct vu_client *)c)->failed);
}

uint64_t vu_client_dma_served(const struct vu_client *c)
{
	return atomic_load(&((struct vu_client *)c)->dma_served);
}

static int send_msg(struct vu_client *c, struct vu_hdr *h, const struct iovec *iov,
		    int iovcnt, const int *fds, unsigned nfds)
{
	struct iovec v[8] = { { h, sizeof(*h) } };
	size_t size = sizeof(*h);
	int err;

	if (iovcnt > 7)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		v[i + 1] = iov[i];
		size += iov[i].iov_len;
	}
	if (size > UINT32_MAX)
		return -EMSGSIZE;
	h->msg_size = (uint32_t)size;
	pthread_mutex_lock(&c->send_lock);
	err = c->tran->ops->send(c->tran, v, iovcnt + 1, fds, nfds, c->timeout_ms);
	pthread_mutex_unlock(&c->send_lock);
	return err;
}

static int send_reply(struct vu_client *c, const struct vu_hdr *req, int err,
		      const struct iovec *iov, int iovcnt)
{
	struct vu_hdr h = {
		.msg_id = req->msg_id, .cmd = req->cmd, .flags = VU_F_TYPE_REPLY,
	};

	if (req->flags & VU_F_NO_REPLY)
		return 0;
	if (err) {
		h.flags |= VU_F_ERROR;
		h.error_no = (uint32_t)-err;
		iovcnt = 0;
	}
	return send_msg(c, &h, iov, iovcnt, NULL, 0);
}

/* A window with @need flags holding all of [addr, addr+len). Lock held. */
static bool window_allows(struct vu_client *c, uint64_t addr, uint64_t len, uint32_t need)
{
	for (unsigned i = 0; i < c->nr_win; i++) {
		const struct vu_window *w = &c->win[i];

		if (addr >= w->addr && addr - w->addr <= w->size &&
		    len <= w->size - (addr - w->addr))
			return (w->flags & need) == need;
	}
	return false;
}

static int check_dma(struct vu_client *c, const struct vu_dma_access *a, uint32_t need)
{
	bool ok;

	if (a->count > c->proposed.max_data_xfer_size)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	ok = window_allows(c, a->addr, a->count, need);
	pthread_mutex_unlock(&c->lock);
	return ok ? 0 : -EFAULT;
}

static int serve_dma_read(struct vu_client *c, const struct vu_hdr *h,
			  const void *body, uint32_t len)
{
	struct vu_dma_access a;
	struct iovec iov[2];
	uint8_t *data = NULL;
	int err;

	if (len != sizeof(a))
		return send_reply(c, h, -EINVAL, NULL, 0);
	memcpy(&a, body, sizeof(a));
	err = check_dma(c, &a, VU_DMA_READ);
	if (!err && !(data = malloc(a.count ? a.count : 1)))
		err = -ENOMEM;
	if (!err && c->ops && c->ops->dma_read)
		err = c->ops->dma_read(c->opaque, a.addr, data, (uint32_t)a.count);
	else if (!err)
		err = -ENODEV;
	atomic_fetch_add(&c->dma_served, 1);
	iov[0] = (struct iovec){ &a, sizeof(a) };
	iov[1] = (struct iovec){ data, a.count };
	err = send_reply(c, h, err, iov, 2);
	free(data);
	return err;
}

static int serve_dma_write(struct vu_client *c, const struct vu_hdr *h,
			   const void *body, uint32_t len)
{
	struct vu_dma_access a;
	struct iovec iov;
	int err;

	if (len < sizeof(a))
		return send_reply(c, h, -EINVAL, NULL, 0);
	memcpy(&a, body, sizeof(a));
	if (a.count != len - sizeof(a))
		return send_reply(c, h, -EINVAL, NULL, 0);
	err = check_dma(c, &a, VU_DMA_WRITE);
	if (!err && c->ops && c->ops->dma_write)
		err = c->ops->dma_write(c->opaque, a.addr,
					(const uint8_t *)body + sizeof(a), (uint32_t)a.count);
	else if (!err)
		err = -ENODEV;
	atomic_fetch_add(&c->dma_served, 1);
	iov = (struct iovec){ &a, sizeof(a) };
	return send_reply(c, h, err, &iov, 1);
}

static int serve_request(struct vu_client *c, const struct vu_hdr *h,
			 const void *body, uint32_t len)
{
	switch (h->cmd) {
	case VU_CMD_DMA_READ:
		return serve_dma_read(c, h, body, len);
	case VU_CMD_DMA_WRITE:
		return serve_dma_write(c, h, body, len);
	default:
		return send_reply(c, h, -ENOSYS, NULL, 0);
	}
}

static int clamp_errno(uint32_t e)
{
	return e > 0 && e < 4096 ? -(int)e : -EIO;
}

/* Hand a reply to the waiting call. Takes ownership of @fds. */
static int deliver_reply(struct vu_client *c, const struct vu_hdr *h,
			 const void *body, uint32_t len, int *fds, unsigned nfds)
{
	struct vu_call *call;
	unsigned keep = 0;

	pthread_mutex_lock(&c->lock);
	call = c->pending;
	if (!call || c->pending_done || h->msg_id != c->pending_id || h->cmd != call->cmd) {
		pthread_mutex_unlock(&c->lock);
		close_fds(fds, nfds);
		return -EPROTO;
	}
	if (h->flags & VU_F_ERROR) {
		c->pending_err = clamp_errno(h->error_no);
	} else {
		c->pending_err = 0;
		call->reply_len = len;
		if (call->reply && len)   /* an empty reply has no body (NULL) */
			memcpy(call->reply, body, len < call->reply_max ? len : call->reply_max);
		keep = nfds < call->rfds_max ? nfds : call->rfds_max;
		if (keep)
			memcpy(call->rfds, fds, keep * sizeof(int));
		call->nrfds = keep;
	}
	c->pending_done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	close_fds(fds + keep, nfds - keep);
	return 0;
}

/* Read and dispatch one message. 0 or -errno (fatal for the connection). */
static int reader_one(struct vu_client *c)
{
	int fds[VU_CLIENT_MAX_MSG_FDS];
	unsigned nfds = 0;
	struct vu_hdr h;
	uint8_t *body = NULL;
	uint32_t len;
	int err;

	err = c->tran->ops->recv(c->tran, &h, sizeof(h), fds, &nfds,
				 VU_CLIENT_MAX_MSG_FDS, -1);
	if (err) {
		close_fds(fds, nfds);
		if (err == -ECANCELED)
			return err;
		failf(c, err, err == -ECONNRESET ? "server closed the connection" :
		      "receive failed");
		return err;
	}
	err = vu_hdr_check(&h, VU_MAX_RECV_BODY);
	if (err) {
		close_fds(fds, nfds);
		failf(c, err, "%s message header (cmd %u, size %u, flags %#x)",
		      err == -EMSGSIZE ? "oversized" : "malformed",
		      h.cmd, h.msg_size, h.flags);
		return err;
	}
	len = h.msg_size - (uint32_t)sizeof(h);
	if (len && !(body = malloc(len)))
		err = -ENOMEM;
	if (!err && len)
		err = c->tran->ops->recv(c->tran, body, len, fds, &nfds,
					 VU_CLIENT_MAX_MSG_FDS, c->timeout_ms);
	if (err) {
		close_fds(fds, nfds);
		free(body);
		if (err != -ECANCELED)
			failf(c, err, "truncated %s message", vu_cmd_name(h.cmd));
		return err;
	}
	if (vu_hdr_is_reply(&h)) {
		err = deliver_reply(c, &h, body, len, fds, nfds);
		if (err)
			failf(c, err, "unexpected %s reply (id %u)", vu_cmd_name(h.cmd), h.msg_id);
	} else {
		close_fds(fds, nfds);
		err = serve_request(c, &h, body, len);
		if (err)
			failf(c, err, "cannot answer %s", vu_cmd_name(h.cmd));
	}
	free(body);
	return err;
}

static void *reader_main(void *arg)
{
	struct vu_client *c = arg;

	while (!vu_client_failed(c) && reader_one(c) == 0)
		;
	return NULL;
}

int vu_client_new(struct vu_client **out, struct vu_tran *tran,
		  const struct vu_client_config *cfg)
{
	struct vu_client *c = calloc(1, sizeof(*c));
	int err;

	if (!c) {
		vu_tran_free(tran);
		return -ENOMEM;
	}
	c->tran = tran;
	snprintf(c->name, sizeof(c->name), "%s", cfg->name ? cfg->name : "device");
	c->timeout_ms = cfg->call_timeout_ms > 0 ? cfg->call_timeout_ms : 5000;
	c->ops = cfg->ops;
	c->opaque = cfg->opaque;
	c->proposed = cfg->caps;
	if (!c->proposed.max_data_xfer_size)
		vu_client_default_caps(&c->proposed);
	vu_caps_defaults(&c->caps);
	pthread_mutex_init(&c->call_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	err = cond_init_monotonic(&c->cond);
	if (err) {
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->call_lock);
		free(c);
		vu_tran_free(tran);
		return err;
	}
	err = -pthread_create(&c->reader, NULL, reader_main, c);
	if (err) {
		vu_client_free(&c);
		return err;
	}
	c->reader_started = true;
	*out = c;
	return 0;
}

void vu_client_free(struct vu_client **cp)
{
	struct vu_client *c = *cp;

	if (!c)
		return;
	atomic_store(&c->fail_claimed, true);   /* closing is not a failure */
	atomic_store(&c->failed, true);
	vu_tran_wake(c->tran);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	vu_tran_free(c->tran);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->call_lock);
	free(c);
	*cp = NULL;
}

static int lock_call(struct vu_client *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += c->timeout_ms / 1000 + 1;
	return -pthread_mutex_timedlock(&c->call_lock, &ts);
}

/* Wait for the pending call's reply. Lock held. */
static int wait_reply(struct vu_client *c)
{
	struct timespec dl;
	int rc = 0;

	deadline_after_ms(&dl, c->timeout_ms);
	while (!c->pending_done && !vu_client_failed(c) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &dl);
	if (c->pending_done)
		return c->pending_err;
	return vu_client_failed(c) ? -ENOTCONN : -ETIMEDOUT;
}

int vu_client_call(struct vu_client *c, struct vu_call *call)
{
	struct vu_hdr h = { .cmd = call->cmd, .flags = VU_F_TYPE_COMMAND };
	int err;

	if (vu_client_failed(c))
		return -ENOTCONN;
	err = lock_call(c);
	if (err)
		return err;
	call->reply_len = 0;
	call->nrfds = 0;
	pthread_mutex_lock(&c->lock);
	h.msg_id = c->pending_id = c->next_id++;
	c->pending = call;
	c->pending_done = false;
	pthread_mutex_unlock(&c->lock);

	err = send_msg(c, &h, call->iov, call->iovcnt, call->fds, call->nfds);
	if (err) {
		failf(c, err, "cannot send %s", vu_cmd_name(call->cmd));
		err = -ENOTCONN;
	}
	pthread_mutex_lock(&c->lock);
	if (!err)
		err = wait_reply(c);
	c->pending = NULL;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->call_lock);
	if (err == -ETIMEDOUT)
		failf(c, err, "no reply to %s within %d ms", vu_cmd_name(call->cmd),
		      c->timeout_ms);
	return err;
}

int vu_client_negotiate(struct vu_client *c)
{
	struct vu_version v = { VU_PROTO_MAJOR, VU_PROTO_MINOR };
	char *json = vu_caps_to_json(&c->proposed);
	uint8_t *reply = malloc(VU_MAX_CTRL_BODY);
	struct iovec iov[2];
	struct vu_call call = {
		.cmd = VU_CMD_VERSION, .iov = iov, .iovcnt = 2,
		.reply = reply, .reply_max = VU_MAX_CTRL_BODY,
	};
	int err = -ENOMEM;

	if (!json || !reply)
		goto out;
	iov[0] = (struct iovec){ &v, sizeof(v) };
	iov[1] = (struct iovec){ json, strlen(json) + 1 };
	err = vu_client_call(c, &call);
	if (err)
		goto out;
	if (call.reply_len > call.reply_max) {
		err = -EMSGSIZE;
		goto out;
	}
	err = vu_parse_version(reply, call.reply_len, &c->proposed, &c->minor, &c->caps);
	if (err)
		failf(c, err, "unacceptable VERSION reply");
out:
	free(json);
	free(reply);
	return err;
}

const struct vu_caps *vu_client_caps(const struct vu_client *c)
{
	return &c->caps;
}

uint16_t vu_client_minor(const struct vu_client *c)
{
	return c->minor;
}

int vu_client_add_window(struct vu_client *c, uint64_t addr, uint64_t size, uint32_t flags)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->nr_win == VU_MAX_WINDOWS)
		err = -ENOSPC;
	else
		c->win[c->nr_win++] = (struct vu_window){ addr, size, flags };
	pthread_mutex_unlock(&c->lock);
	return err;
}

void vu_client_del_window(struct vu_client *c, uint64_t addr, uint64_t size)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_win; i++) {
		if (c->win[i].addr == addr && c->win[i].size == size) {
			c->win[i] = c->win[--c->nr_win];
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

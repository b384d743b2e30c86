/* libvigil_kvmi: connection, message receive loop, event queue. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kvmi_client_int.h"

static int err_to_errno(int32_t e)
{
	static const int map[] = {
		[VIGIL_KVMI_OK] = 0, [VIGIL_KVMI_EINVAL] = EINVAL, [VIGIL_KVMI_ENOSYS] = ENOSYS,
		[VIGIL_KVMI_EBUSY] = EBUSY, [VIGIL_KVMI_EFAULT] = EFAULT,
		[VIGIL_KVMI_ENOMEM] = ENOMEM, [VIGIL_KVMI_E2BIG] = E2BIG,
		[VIGIL_KVMI_ESTALE] = ESTALE, [VIGIL_KVMI_EAGAIN] = EAGAIN,
		[VIGIL_KVMI_ENOENT] = ENOENT, [VIGIL_KVMI_ENOSPC] = ENOSPC,
		[VIGIL_KVMI_EPERM] = EPERM, [VIGIL_KVMI_EIO] = EIO,
		[VIGIL_KVMI_EMSGSIZE] = EMSGSIZE, [VIGIL_KVMI_ESHUTDOWN] = ESHUTDOWN,
	};

	if (e < 0 || (size_t)e >= sizeof(map) / sizeof(map[0]))
		return -EPROTO;
	return -map[e];
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int queue_event(struct vigil_kvmi *c, const struct vigil_kvmi_hdr *h, const uint8_t *body)
{
	struct vigil_kvmi_ev *ev;
	size_t spec;

	if (h->size < sizeof(ev->common))
		return -EPROTO;
	if (c->q_count == c->q_cap) {
		size_t ncap = c->q_cap ? c->q_cap * 2 : 16, i;
		struct vigil_kvmi_ev *n = calloc(ncap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (i = 0; i < c->q_count; i++)
			n[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = n;
		c->q_cap = ncap;
		c->q_head = 0;
	}
	ev = &c->q[(c->q_head + c->q_count) % c->q_cap];
	memset(ev, 0, sizeof(*ev));
	ev->seq = h->seq;
	memcpy(&ev->common, body, sizeof(ev->common));
	spec = h->size - sizeof(ev->common);
	memcpy(&ev->u, body + sizeof(ev->common), spec < sizeof(ev->u) ? spec : sizeof(ev->u));
	c->q_count++;
	return 0;
}

static int recv_msg(struct vigil_kvmi *c, ssize_t *len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = c->buf, .iov_len = KVMI_CLIENT_BUF };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
	if (n == 0)
		return -ECONNRESET;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	*len = n;
	return 0;
}

/* Handle one message that is not a reply we wait for. */
static void handle_async(struct vigil_kvmi *c, const struct vigil_kvmi_hdr *h,
			 const uint8_t *body)
{
	const struct vigil_kvmi_error *e = (const void *)body;

	switch (h->msg_id) {
	case VIGIL_KVMI_EVENT:
		(void)queue_event(c, h, body);
		break;
	case VIGIL_KVMI_NOTIFY_UNHOOK:
		c->unhooked = true;
		break;
	case VIGIL_KVMI_EVENT_REPLY:
		c->reply_errors++;
		c->last_reply_error = h->size >= sizeof(*e) ? err_to_errno(e->err) : -EPROTO;
		break;
	default:
		break;  /* a reply nobody waits for any more */
	}
}

/* Receive and dispatch one message, waiting up to timeout_ms. */
int kvmi_client_pump(struct vigil_kvmi *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct vigil_kvmi_hdr h;
	ssize_t n;
	int r, fd;

	r = recv_msg(c, &n, &fd);
	if (r == -EAGAIN) {
		r = poll(&p, 1, timeout_ms);
		if (r < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		if (r == 0)
			return -ETIMEDOUT;
		r = recv_msg(c, &n, &fd);
	}
	if (r < 0)
		return r;
	if ((size_t)n < sizeof(h)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	memcpy(&h, c->buf, sizeof(h));
	if (h.size != (size_t)n - sizeof(h)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if (c->want && h.seq == c->want_seq && h.msg_id == c->want_id) {
		size_t copy = h.size < c->want_cap ? h.size : c->want_cap;

		memcpy(c->want_buf, c->buf + sizeof(h), copy);
		c->want_len = h.size;
		c->want_fd = fd;
		c->want = false;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	handle_async(c, &h, c->buf + sizeof(h));
	return 0;
}

/* Pump until the awaited reply arrived. */
static int await_reply(struct vigil_kvmi *c)
{
	long deadline = c->timeout_ms < 0 ? 0 : now_ms() + c->timeout_ms;
	int r;

	while (c->want) {
		long left = c->timeout_ms < 0 ? -1 : deadline - now_ms();

		if (c->timeout_ms >= 0 && left <= 0) {
			c->want = false;
			return -ETIMEDOUT;
		}
		r = kvmi_client_pump(c, (int)left);
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN) {
			c->want = false;
			return r;
		}
	}
	return 0;
}

int kvmi_client_call(struct vigil_kvmi *c, unsigned msg_id, const void *req, size_t req_len,
		     void *reply, size_t reply_cap, int *fd_out)
{
	uint8_t *m;
	struct vigil_kvmi_hdr *h;
	int r;

	if (req_len > VIGIL_KVMI_MAX_MSG)
		return -E2BIG;
	m = malloc(sizeof(*h) + req_len);
	if (!m)
		return -ENOMEM;
	h = (void *)m;
	h->msg_id = (uint16_t)msg_id;
	h->size = (uint16_t)req_len;
	h->seq = c->next_seq++;
	if (req_len)
		memcpy(m + sizeof(*h), req, req_len);
	r = kvmi_client_send(c, m, sizeof(*h) + req_len, h->seq, (uint16_t)msg_id,
			     reply, reply_cap, fd_out, c->send_fd);
	c->send_fd = -1;
	free(m);
	return r;
}

static int send_msg(int fd, const void *buf, size_t len, int send_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (send_fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &send_fd, sizeof(int));
	}
	return sendmsg(fd, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int kvmi_client_send(struct vigil_kvmi *c, const void *buf, size_t len, uint32_t seq,
		     uint16_t msg_id, void *reply, size_t reply_cap, int *fd_out, int send_fd)
{
	struct vigil_kvmi_error e;
	int r;

	c->want = true;
	c->want_seq = seq;
	c->want_id = msg_id;
	c->want_buf = reply;
	c->want_cap = reply_cap;
	c->want_fd = -1;
	if (send_msg(c->fd, buf, len, send_fd) < 0) {
		c->want = false;
		return errno == EMSGSIZE ? -EMSGSIZE : -ECONNRESET;
	}
	r = await_reply(c);
	if (r < 0)
		return r;
	if (c->want_len < sizeof(e) || reply_cap < sizeof(e)) {
		if (c->want_fd >= 0)
			close(c->want_fd);
		return c->want_len < sizeof(e) ? -EPROTO : 0;
	}
	memcpy(&e, reply, sizeof(e));
	r = err_to_errno(e.err);
	if (fd_out)
		*fd_out = c->want_fd;
	else if (c->want_fd >= 0)
		close(c->want_fd);
	return r < 0 ? r : (int)c->want_len;
}

static int wait_attach(struct vigil_kvmi *c, int timeout_ms)
{
	struct vigil_kvmi_attach a;

	c->want = true;
	c->want_seq = 0;
	c->want_id = VIGIL_KVMI_ATTACH;
	c->want_buf = &a;
	c->want_cap = sizeof(a);
	c->timeout_ms = timeout_ms;
	if (await_reply(c) < 0)
		return -ECONNRESET;
	c->timeout_ms = 10000;
	if (c->want_len != sizeof(a))
		return -EPROTO;
	if (a.e.err)
		return err_to_errno(a.e.err);
	if (a.version != VIGIL_KVMI_VERSION)
		return -EPROTONOSUPPORT;
	c->nr_vcpus = a.nr_vcpus;
	return 0;
}

int vigil_kvmi_connect(const char *path, int timeout_ms, struct vigil_kvmi **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vigil_kvmi *c;
	int r;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buf = malloc(KVMI_CLIENT_BUF);
	c->next_seq = 1;
	c->send_fd = -1;
	c->xfer_fd = -1;
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!c->buf || c->fd < 0) {
		r = c->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = wait_attach(c, timeout_ms);
	if (r < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	vigil_kvmi_close(&c);
	return r;
}

void vigil_kvmi_close(struct vigil_kvmi **cp)
{
	struct vigil_kvmi *c = *cp;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->xfer)
		munmap(c->xfer, c->xfer_size);
	if (c->xfer_fd >= 0)
		close(c->xfer_fd);
	free(c->q);
	free(c->buf);
	free(c);
	*cp = NULL;
}

int vigil_kvmi_fd(const struct vigil_kvmi *c)
{
	return c->fd;
}

unsigned vigil_kvmi_nr_vcpus(const struct vigil_kvmi *c)
{
	return c->nr_vcpus;
}

void vigil_kvmi_set_timeout(struct vigil_kvmi *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int vigil_kvmi_wait_event(struct vigil_kvmi *c, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int r;

	while (!c->q_count) {
		long left = timeout_ms < 0 ? -1 : deadline - now_ms();

		if (c->unhooked)
			return -ESHUTDOWN;
		if (timeout_ms >= 0 && left < 0)
			return -ETIMEDOUT;
		r = kvmi_client_pump(c, (int)left);
		if (r == -ECONNRESET)
			return c->unhooked ? -ESHUTDOWN : r;
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN && r != -EPROTO)
			return r;
	}
	return 0;
}

int vigil_kvmi_pop_event(struct vigil_kvmi *c, struct vigil_kvmi_ev *ev)
{
	if (!c->q_count)
		return -EAGAIN;
	*ev = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_count--;
	return 0;
}

unsigned vigil_kvmi_reply_errors(const struct vigil_kvmi *c, int *last)
{
	if (last)
		*last = c->last_reply_error;
	return c->reply_errors;
}

int vigil_kvmi_event_needs_reply(const struct vigil_kvmi_ev *ev)
{
	return ev->common.event != VIGIL_KVMI_EVENT_DMA ||
	       (ev->u.dma.flags & VIGIL_KVMI_DMA_DENIED) != 0;
}

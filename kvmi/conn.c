/*
 * The tool's connection: accept (one tool at a time), receive one datagram
 * per message, queue replies and events, detach.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "kvmi_int.h"
#include "log.h"

static void conn_free(struct kvmi_conn *c)
{
	struct kvmi_out *o;

	if (!c)
		return;
	while ((o = TAILQ_FIRST(&c->outq))) {
		TAILQ_REMOVE(&c->outq, o, link);
		free(o);
	}
	if (c->xfer)
		munmap(c->xfer, c->xfer_size);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int out_sendmsg(int fd, const struct kvmi_out *o)
{
	FDPASS_CTL(ctl, 1);
	struct iovec iov = { .iov_base = (void *)o->buf, .iov_len = o->len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	fdpass_attach(&m, ctl.buf, &o->fd, o->fd >= 0);
	if (sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* Send what is queued; -errno if the peer is gone. */
static int conn_flush(struct kvmi_conn *c)
{
	struct kvmi_out *o;
	int r;

	while ((o = TAILQ_FIRST(&c->outq))) {
		r = out_sendmsg(c->fd, o);
		if (r == -EAGAIN || r == -ENOBUFS) {
			event_add(c->ev_write, NULL);
			return 0;
		}
		if (r < 0)
			return r;
		TAILQ_REMOVE(&c->outq, o, link);
		c->outq_bytes -= o->len;
		free(o);
	}
	return 0;
}

int kvmi_conn_send(struct kvmi_conn *c, const void *buf, size_t len, int fd)
{
	struct kvmi_out *o;
	int r;

	if (c->outq_bytes + len > KVMI_OUTQ_MAX)
		return -ENOBUFS;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	memcpy(o->buf, buf, len);
	o->len = len;
	o->fd = fd;
	TAILQ_INSERT_TAIL(&c->outq, o, link);
	c->outq_bytes += len;
	if (TAILQ_FIRST(&c->outq) != o)
		return 0;  /* already waiting for the socket to drain */
	r = conn_flush(c);
	return r;
}

static int reply_build(struct kvmi_conn *c, const struct vigil_kvmi_hdr *req, int err,
		       const void *body, size_t len, int fd)
{
	uint8_t *buf;
	struct vigil_kvmi_hdr *h;
	struct vigil_kvmi_error *e;
	size_t total;
	int r;

	/* body, when given, already starts with a struct vigil_kvmi_error. */
	if (!body || err)
		len = sizeof(*e);
	total = sizeof(*h) + len;
	if (len > VIGIL_KVMI_MAX_MSG)
		return -E2BIG;
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	h = (struct vigil_kvmi_hdr *)buf;
	h->msg_id = req->msg_id;
	h->seq = req->seq;
	h->size = (uint16_t)len;
	if (body && !err)
		memcpy(buf + sizeof(*h), body, len);
	e = (struct vigil_kvmi_error *)(buf + sizeof(*h));
	e->err = err;
	e->padding = 0;
	r = kvmi_conn_send(c, buf, total, fd);
	free(buf);
	return r;
}

int kvmi_reply(struct kvmi_conn *c, const struct vigil_kvmi_hdr *req, int err,
	       const void *body, size_t len)
{
	return reply_build(c, req, err, body, len, -1);
}

int kvmi_reply_fd(struct kvmi_conn *c, const struct vigil_kvmi_hdr *req,
		  const void *body, size_t len, int fd)
{
	return reply_build(c, req, 0, body, len, fd);
}

static void conn_bad(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h, int err,
		     const char *what)
{
	/* Rate-limited: a broken tool must not flood the log. */
	if (c->bad_msgs++ < 10)
		log_warn("kvmi: tool sent a bad message (%s)", what);
	if (h)
		kvmi_reply(c, h, err, NULL, 0);
}

/* One datagram. Checks the header and the length before anything reads the
 * body. */
static void conn_message(struct kvmi_conn *c, const uint8_t *buf, ssize_t n)
{
	struct vigil_kvmi_hdr h;

	if ((size_t)n < sizeof(h)) {
		struct vigil_kvmi_hdr bad = { 0 };

		memcpy(&bad, buf, (size_t)n);
		conn_bad(c, &bad, VIGIL_KVMI_EMSGSIZE, "truncated header");
		return;
	}
	memcpy(&h, buf, sizeof(h));
	if ((size_t)n != sizeof(h) + h.size) {
		conn_bad(c, &h, VIGIL_KVMI_EMSGSIZE, "size field disagrees with datagram");
		return;
	}
	if (h.msg_id == VIGIL_KVMI_EVENT_REPLY) {
		kvmi_event_reply(c->k, &h, buf + sizeof(h), h.size);
		return;
	}
	kvmi_dispatch(c, &h, buf + sizeof(h), h.size);
}

/* One datagram and the fd it may carry (closed unless a handler takes it). */
static ssize_t conn_recv(struct kvmi_conn *c, uint8_t *buf, size_t size)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	c->rx_fd = -1;
	n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (c->rx_fd >= 0)
			close(c->rx_fd);
		memcpy(&c->rx_fd, CMSG_DATA(cm), sizeof(int));
	}
	if (m.msg_flags & MSG_CTRUNC)
		c->bad_msgs++;
	return n;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static _Thread_local _Alignas(8) uint8_t buf[sizeof(struct vigil_kvmi_hdr) +
						     VIGIL_KVMI_MAX_MSG + 1];
	struct kvmi_conn *c = arg;
	struct kvmi *k = c->k;
	ssize_t n;
	int i;

	(void)fd;
	(void)what;
	/* A bounded batch per wake-up keeps other work (mailbox) flowing. */
	for (i = 0; i < 32 && k->conn == c; i++) {
		n = conn_recv(c, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			log_info("kvmi: tool disconnected");
			kvmi_detach(k, 0);
			return;
		}
		if ((size_t)n > sizeof(buf) - 1)
			conn_bad(c, NULL, 0, "oversized datagram");
		else
			conn_message(c, buf, n);
		if (k->conn == c && c->rx_fd >= 0) {
			close(c->rx_fd);   /* nobody took it */
			c->rx_fd = -1;
		}
	}
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kvmi_conn *c = arg;

	(void)fd;
	(void)what;
	if (conn_flush(c) < 0) {
		log_info("kvmi: tool connection lost while sending");
		kvmi_detach(c->k, 0);
	}
}

static void send_attach(int fd, int err, uint32_t nr_vcpus)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_attach a;
	} m;

	memset(&m, 0, sizeof(m));
	m.h.msg_id = VIGIL_KVMI_ATTACH;
	m.h.size = sizeof(m.a);
	m.a.e.err = err;
	m.a.version = VIGIL_KVMI_VERSION;
	m.a.nr_vcpus = nr_vcpus;
	(void)send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int conn_new(struct kvmi *k, int fd)
{
	struct kvmi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->k = k;
	c->fd = fd;
	TAILQ_INIT(&c->outq);
	c->ev_read = event_new(k->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_write = event_new(k->base, fd, EV_WRITE, conn_write_cb, c);
	if (!c->ev_read || !c->ev_write || event_add(c->ev_read, NULL) < 0) {
		c->fd = -1;
		conn_free(c);
		return -ENOMEM;
	}
	k->conn = c;
	pthread_rwlock_wrlock(&k->conn_lock);
	k->conn_fd = fd;
	pthread_rwlock_unlock(&k->conn_lock);
	atomic_store(&k->tool_stalled, false);
	atomic_store(&k->hooked, true);
	send_attach(fd, VIGIL_KVMI_OK, k->nr_vcpus);
	return 0;
}

/* Only the user vigild runs as (or root) may introspect its guest: the
 * socket's 0600 mode says the same, this holds even if someone loosens it. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

void kvmi_accept_cb(evutil_socket_t lfd, short what, void *arg);
void kvmi_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct kvmi *k = arg;
	int fd, sndbuf = 1 << 20;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (!peer_allowed(fd)) {
		log_warn("kvmi: refusing a tool run by another user (SO_PEERCRED)");
		send_attach(fd, VIGIL_KVMI_EPERM, 0);
		close(fd);
		return;
	}
	if (k->conn) {
		log_info("kvmi: refusing a second tool (one is attached)");
		send_attach(fd, VIGIL_KVMI_EBUSY, 0);
		close(fd);
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (conn_new(k, fd) < 0) {
		log_warn("kvmi: out of memory accepting a tool");
		close(fd);
		return;
	}
	log_info("kvmi: tool attached");
}

/*
 * Unhook: tell the tool (reason != 0) and drop the connection, remove every
 * intercept, release waiting vCPUs with ALLOW. The guest runs on.
 */
void kvmi_detach(struct kvmi *k, uint32_t reason)
{
	struct kvmi_conn *c = k->conn;
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_notify_unhook u;
	} m;

	if (!c)
		return;
	atomic_store(&k->hooked, false);
	pthread_rwlock_wrlock(&k->conn_lock);   /* no vCPU sends on it any more */
	k->conn_fd = -1;
	pthread_rwlock_unlock(&k->conn_lock);
	kvmi_dma_release(k);   /* first: a device waiting may hold a vCPU in a call */
	kvmi_msr_clear(k);
	kvmi_pages_clear(k);
	kvmi_release_all(k);
	if (reason) {
		memset(&m, 0, sizeof(m));
		m.h.msg_id = VIGIL_KVMI_NOTIFY_UNHOOK;
		m.h.size = sizeof(m.u);
		m.h.seq = atomic_fetch_add(&k->next_seq, 1);
		m.u.reason = reason;
		(void)conn_flush(c);
		(void)send(c->fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	k->conn = NULL;
	conn_free(c);
}

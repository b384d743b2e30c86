/*
 * Plugin sockets in the reactor: receive one packet per readiness (flags and
 * size checked before decoding, fds collected), reply with sendmsg, queue
 * replies the peer is not reading yet and stop reading it past a limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "ps.h"

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static ssize_t sendpkt(int fd, const void *data, size_t len, const int *fds, unsigned nfds)
{
	FDPASS_CTL(ctl, PS_MAX_FDS);
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	fdpass_attach(&mh, ctl.buf, fds, nfds);
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pconn_free(arg);
}

/* Stop serving @c; it is freed from the loop, never under its own callback. */
static void conn_kill(struct pconn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	event_del(c->rev);
	event_del(c->wev);
	if (c->pv)
		ps_vcpu_conn_gone(c->pv, c);
	if (!c->pl->tearing_down)
		event_base_once(c->pl->base, -1, EV_TIMEOUT, conn_reap_cb, c, NULL);
}

static void conn_flush(struct pconn *c)
{
	struct poutmsg *m;

	while ((m = TAILQ_FIRST(&c->outq))) {
		ssize_t r = sendpkt(c->fd, m->data, m->len, m->fds, m->nfds);

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->wev, NULL);
			return;
		}
		if (r < 0) {
			conn_kill(c);
			return;
		}
		TAILQ_REMOVE(&c->outq, m, link);
		c->outq_len--;
		close_fds(m->fds, m->nfds);
		free(m);
	}
	event_del(c->wev);
	if (!c->dead)
		event_add(c->rev, NULL);
}

int pconn_send(struct pconn *c, const ProtobufCMessage *msg, const int *fds, unsigned nfds)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct poutmsg *m;
	ssize_t r;

	if (c->dead)
		return -EPIPE;
	if (nfds > PS_MAX_FDS)
		return -EINVAL;
	m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	protobuf_c_message_pack(msg, m->data);
	m->len = len;
	m->nfds = 0;
	if (TAILQ_EMPTY(&c->outq)) {
		r = sendpkt(c->fd, m->data, len, fds, nfds);
		if (r >= 0) {
			free(m);
			return 0;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			int err = -errno;

			free(m);
			conn_kill(c);
			return err;
		}
	}
	for (unsigned i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (m->fds[i] < 0) {
			close_fds(m->fds, i);
			free(m);
			return -EMFILE;
		}
	}
	m->nfds = nfds;
	TAILQ_INSERT_TAIL(&c->outq, m, link);
	if (++c->outq_len >= PS_OUTQ_MAX)
		event_del(c->rev);  /* backpressure: stop reading until it drains */
	event_add(c->wev, NULL);
	return 0;
}

static unsigned take_fds(struct msghdr *mh, int *fds)
{
	unsigned n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (unsigned i = 0; i < cnt; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (n < PS_MAX_FDS)
				fds[n++] = f;
			else
				close(f);
		}
	}
	return n;
}

/* 0 bytes from a SEQPACKET socket is EOF or an empty packet: tell them apart. */
static bool is_eof(int fd)
{
	char b;
	ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	struct plugin *pl = c->pl;
	FDPASS_CTL(ctl, PS_MAX_FDS);
	struct iovec iov = { .iov_base = pl->rbuf, .iov_len = PS_RECV_BUF };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	int fds[PS_MAX_FDS];
	unsigned nfds;
	ssize_t r;

	(void)what;
	r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_kill(c);
		return;
	}
	nfds = take_fds(&mh, fds);
	if (r == 0 && !(mh.msg_flags & MSG_TRUNC) && is_eof(fd)) {
		close_fds(fds, nfds);
		conn_kill(c);
		return;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		/* Too big (or too many fds): answer as an undecodable request. */
		close_fds(fds, nfds);
		nfds = 0;
		r = -1;
	}
	if (c->pv) {
		close_fds(fds, nfds);
		ps_vcpu_request(c, r < 0 ? NULL : pl->rbuf, r < 0 ? 0 : (size_t)r);
	} else {
		ps_main_request(c, r < 0 ? NULL : pl->rbuf, r < 0 ? 0 : (size_t)r, fds, nfds);
	}
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_flush(arg);
}

int pconn_new(struct plugin *pl, int fd, struct pvcpu *pv, struct pconn **out)
{
	struct pconn *c;

	if (pl->fds_held >= PS_FD_BUDGET)
		return -EMFILE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pl = pl;
	c->fd = fd;
	c->pv = pv;
	TAILQ_INIT(&c->outq);
	c->rev = event_new(pl->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(pl->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	if (!c->rev || !c->wev || event_add(c->rev, NULL) < 0) {
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		free(c);
		return -ENOMEM;
	}
	LIST_INSERT_HEAD(&pl->conns, c, link);
	pl->fds_held++;
	if (pv) {
		pv->nr_conns++;
		pv->had_conn = true;
	}
	if (out)
		*out = c;
	return 0;
}

void pconn_free(struct pconn *c)
{
	struct poutmsg *m;

	if (!c)
		return;
	conn_kill(c);
	LIST_REMOVE(c, link);
	while ((m = TAILQ_FIRST(&c->outq))) {
		TAILQ_REMOVE(&c->outq, m, link);
		close_fds(m->fds, m->nfds);
		free(m);
	}
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	c->pl->fds_held--;
	free(c);
}

int pconn_pair(struct plugin *pl, struct pvcpu *pv, int *peer_fd)
{
	int sv[2], size = PS_SNDBUF, err;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	err = pconn_new(pl, sv[0], pv, NULL);
	if (err) {
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	*peer_fd = sv[1];
	return 0;
}

/* vfio-user transport over a stream socket or a pair of pipes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "vu_proto.h"
#include "vu_tran.h"

struct vu_tran_fd {
	struct vu_tran base;
	struct vu_tran_ops ops;
	int rfd, wfd;
	int wake_fd;
	bool is_socket;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left < 0 ? 0 : (int)left;
}

/* Wait until @fd is ready for @events, the deadline passes or we are woken. */
static int wait_fd(struct vu_tran_fd *t, int fd, short events, int64_t deadline)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = t->wake_fd, .events = POLLIN },
	};
	int n;

	for (;;) {
		n = poll(p, 2, remaining_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[1].revents)
			return -ECANCELED;
		if (n == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

static int tran_send(struct vu_tran *base, const struct iovec *iov, int iovcnt,
		     const int *fds, unsigned nfds, int timeout_ms)
{
	struct vu_tran_fd *t = (struct vu_tran_fd *)base;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	FDPASS_CTL(ctl, VU_CLIENT_MAX_MSG_FDS);
	struct iovec v[8];
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;
	int err;

	if (iovcnt > 8 || nfds > VU_CLIENT_MAX_MSG_FDS || (nfds && !t->is_socket))
		return -EINVAL;
	memcpy(v, iov, sizeof(*v) * (size_t)iovcnt);
	fdpass_attach(&mh, ctl.buf, fds, nfds);
	while (mh.msg_iovlen) {
		if (t->is_socket)
			n = sendmsg(t->wfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = writev(t->wfd, mh.msg_iov, (int)mh.msg_iovlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			err = wait_fd(t, t->wfd, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		/* The descriptors went with the first byte. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Collect SCM_RIGHTS descriptors from @mh into @fds. */
static int take_fds(struct msghdr *mh, int *fds, unsigned *nfds, unsigned max_fds)
{
	int err = 0;

	if (mh->msg_flags & MSG_CTRUNC)
		err = -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		unsigned n;
		int tmp[VU_CLIENT_MAX_MSG_FDS * 2];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (n > VU_CLIENT_MAX_MSG_FDS * 2)
			n = VU_CLIENT_MAX_MSG_FDS * 2;
		memcpy(tmp, CMSG_DATA(c), n * sizeof(int));
		for (unsigned i = 0; i < n; i++) {
			if (fds && *nfds < max_fds) {
				fds[(*nfds)++] = tmp[i];
			} else {
				close(tmp[i]);
				err = -EPROTO;
			}
		}
	}
	return err;
}

static ssize_t recv_some(struct vu_tran_fd *t, void *buf, size_t len, int *fds,
			 unsigned *nfds, unsigned max_fds, int *fd_err)
{
	FDPASS_CTL(ctl, VU_CLIENT_MAX_MSG_FDS * 2);
	struct iovec v = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &v, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	if (!t->is_socket)
		return read(t->rfd, buf, len);
	n = recvmsg(t->rfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n >= 0) {
		int err = take_fds(&mh, fds, nfds, max_fds);

		if (err)
			*fd_err = err;
	}
	return n;
}

static int tran_recv(struct vu_tran *base, void *buf, size_t len, int *fds,
		     unsigned *nfds, unsigned max_fds, int timeout_ms)
{
	struct vu_tran_fd *t = (struct vu_tran_fd *)base;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t got = 0;
	int fd_err = 0, err;
	ssize_t n;

	while (got < len) {
		err = wait_fd(t, t->rfd, POLLIN, deadline);
		if (err)
			return err;
		n = recv_some(t, (char *)buf + got, len - got, fds, nfds, max_fds, &fd_err);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return fd_err;
}

static void tran_wake(struct vu_tran *base)
{
	struct vu_tran_fd *t = (struct vu_tran_fd *)base;
	uint64_t one = 1;

	if (write(t->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: it is readable already. */
	}
	/* The peer sees end of stream now, not when the fd is closed. */
	if (t->is_socket)
		shutdown(t->rfd, SHUT_RDWR);
}

static void tran_free(struct vu_tran *base)
{
	struct vu_tran_fd *t = (struct vu_tran_fd *)base;

	if (t->wfd != t->rfd)
		close(t->wfd);
	close(t->rfd);
	close(t->wake_fd);
	free(t);
}

static bool fd_is_unix_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	return ss.ss_family == AF_UNIX;
}

int vu_tran_fd_new(struct vu_tran **out, int rfd, int wfd)
{
	struct vu_tran_fd *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->wake_fd < 0) {
		int err = -errno;

		free(t);
		return err;
	}
	t->rfd = rfd;
	t->wfd = wfd;
	t->is_socket = rfd == wfd && fd_is_unix_socket(rfd);
	if (!t->is_socket) {
		fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);
		fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	}
	t->ops = (struct vu_tran_ops){
		.send = tran_send, .recv = tran_recv, .wake = tran_wake,
		.free = tran_free, .can_pass_fds = t->is_socket,
	};
	t->base.ops = &t->ops;
	*out = &t->base;
	return 0;
}

int vu_tran_connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

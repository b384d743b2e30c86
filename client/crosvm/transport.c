/*
 * SOCK_SEQPACKET transport: one protobuf message per packet, file
 * descriptors as SCM_RIGHTS on the same packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

void cv_close_fds(int *fds, unsigned nfds)
{
	for (unsigned i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int cv_grow(uint8_t **buf, size_t *size, size_t need)
{
	uint8_t *nb;

	if (*size >= need)
		return 0;
	nb = realloc(*buf, need);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*size = need;
	return 0;
}

static int send_packet(int fd, const void *data, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CROSVM_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (nfds > CROSVM_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

int cv_send(int fd, const ProtobufCMessage *msg, const int *fds, unsigned nfds)
{
	uint8_t small[512];
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = small;
	int ret;

	if (len > sizeof(small)) {
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
	}
	protobuf_c_message_pack(msg, buf);
	ret = send_packet(fd, buf, len, fds, nfds);
	if (buf != small)
		free(buf);
	return ret;
}

static unsigned take_fds(struct msghdr *mh, int *fds, unsigned max_fds)
{
	unsigned n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)CMSG_DATA(cm);

		for (unsigned i = 0; i < cnt; i++) {
			int f;

			memcpy(&f, p + i, sizeof(f));
			if (n < max_fds)
				fds[n++] = f;
			else
				close(f);
		}
	}
	return n;
}

int cv_recv(int fd, uint8_t *buf, size_t cap, int *fds, unsigned max_fds, unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CROSVM_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	int dummy[CROSVM_MAX_FDS];
	unsigned n;
	ssize_t r;

	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!fds) {
		fds = dummy;
		max_fds = 0;
	}
	n = take_fds(&mh, fds, max_fds);
	if (nfds)
		*nfds = n;
	else
		cv_close_fds(fds, n);
	if (r == 0 && !(mh.msg_flags & MSG_TRUNC))
		return -EPIPE;   /* the peer closed the socket */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		cv_close_fds(fds, n);
		if (nfds)
			*nfds = 0;
		return -EMSGSIZE;
	}
	return (int)r;
}

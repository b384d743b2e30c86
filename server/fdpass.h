/*
 * Descriptors passed over UNIX sockets (SCM_RIGHTS): one way to attach them
 * to an outgoing message, for vigild's senders (vfio-user, plugin,
 * introspection) and the tests that speak those protocols. The client
 * libraries (client/) are built apart and keep their own.
 */
#ifndef VIGIL_FDPASS_H
#define VIGIL_FDPASS_H

#include <string.h>
#include <sys/socket.h>

/* Control buffer for up to @n descriptors, aligned for struct cmsghdr. */
#define FDPASS_CTL(name, n)                         \
	union {                                     \
		char buf[CMSG_SPACE(sizeof(int) * (n))]; \
		struct cmsghdr align;               \
	} name

/* Attach @nfds descriptors to @mh using @ctl (at least
 * CMSG_SPACE(nfds * sizeof(int)) bytes, cmsghdr-aligned). Nothing if 0. */
static inline void fdpass_attach(struct msghdr *mh, void *ctl, const int *fds, unsigned nfds)
{
	struct cmsghdr *c;

	if (!nfds)
		return;
	memset(ctl, 0, CMSG_SPACE(sizeof(int) * nfds));
	mh->msg_control = ctl;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
}

#endif

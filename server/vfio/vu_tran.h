/*
 * vfio-user transport: moves whole messages and file descriptors.
 *
 * The protocol code (vu_client.c) only sees this vtable, so the same client
 * runs over a UNIX socket (the real thing, fds via SCM_RIGHTS) or over a pair
 * of pipes (no fds), which is what the fuzz harness drives.
 *
 * Every blocking operation takes a timeout; vu_tran_wake() makes a blocked
 * recv return -ECANCELED (used at shutdown), for good.
 */
#ifndef VIGIL_VU_TRAN_H
#define VIGIL_VU_TRAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct vu_tran;

struct vu_tran_ops {
	/* Send all of @iov as one message with @nfds descriptors attached.
	 * 0, -ETIMEDOUT, -EPIPE, -errno. */
	int (*send)(struct vu_tran *t, const struct iovec *iov, int iovcnt,
		    const int *fds, unsigned nfds, int timeout_ms);
	/* Read exactly @len bytes (timeout_ms < 0: wait forever). Descriptors
	 * that arrive are stored in @fds up to @max_fds (*nfds counts them);
	 * any beyond that are closed and the call fails with -EPROTO.
	 * 0, -ECONNRESET at end of stream, -ETIMEDOUT, -ECANCELED, -errno. */
	int (*recv)(struct vu_tran *t, void *buf, size_t len, int *fds,
		    unsigned *nfds, unsigned max_fds, int timeout_ms);
	/* Make blocked and future recv/send calls fail with -ECANCELED. */
	void (*wake)(struct vu_tran *t);
	void (*free)(struct vu_tran *t);
	bool can_pass_fds;
};

struct vu_tran {
	const struct vu_tran_ops *ops;
};

/* A transport over @rfd/@wfd (the same fd for a socket). Takes ownership of
 * both. Uses SCM_RIGHTS when @rfd is a UNIX socket. 0 or -errno. */
int vu_tran_fd_new(struct vu_tran **out, int rfd, int wfd);
/* Connect to the UNIX socket at @path (SOCK_STREAM). Returns the fd or -errno. */
int vu_tran_connect_unix(const char *path);

static inline void vu_tran_wake(struct vu_tran *t) { t->ops->wake(t); }
static inline void vu_tran_free(struct vu_tran *t) { if (t) t->ops->free(t); }

#endif

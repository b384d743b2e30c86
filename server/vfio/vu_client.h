/*
 * vfio-user client connection: one per device server.
 *
 * A reader thread owns the receive side of the transport. Replies are matched
 * to the one outstanding call (calls are serialised: a server that performs
 * synchronous DMA while handling a command must not see a second command where
 * it expects its DMA reply). Commands from the server (DMA_READ/DMA_WRITE) are
 * checked against the DMA windows this client mapped and served through
 * @ops, in the reader thread, while a call may be waiting.
 *
 * Failure is sticky: a dead, hung (call timeout) or misbehaving server (bad
 * header, oversized or unexpected message) fails the connection once; @ops->
 * failed runs once, and every later call returns -ENOTCONN at once.
 */
#ifndef VIGIL_VU_CLIENT_H
#define VIGIL_VU_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vu_msg.h"
#include "vu_tran.h"

struct vu_client;

struct vu_client_ops {
	/* Reader thread: the server reads [addr, addr+len) of client memory,
	 * already checked to lie in a readable window. 0 or -errno (the errno
	 * goes back in the reply). */
	int (*dma_read)(void *opaque, uint64_t addr, void *buf, uint32_t len);
	int (*dma_write)(void *opaque, uint64_t addr, const void *buf, uint32_t len);
	/* Any thread, exactly once: the connection failed with @err. */
	void (*failed)(void *opaque, int err, const char *why);
};

struct vu_client_config {
	const char *name;            /* for log lines */
	int call_timeout_ms;         /* reply wait per call (default 5000) */
	const struct vu_client_ops *ops;
	void *opaque;
	struct vu_caps caps;         /* proposed; zero: vu_client_default_caps */
};

/* One call. The reply body (without header) lands in @reply, at most
 * @reply_max bytes; @reply_len is the size the server sent. Descriptors that
 * came with the reply go to @rfds (up to @rfds_max; others are closed). */
struct vu_call {
	uint16_t cmd;
	const struct iovec *iov;
	int iovcnt;
	const int *fds;
	unsigned nfds;
	void *reply;
	uint32_t reply_max;
	uint32_t reply_len;
	int *rfds;
	unsigned rfds_max;
	unsigned nrfds;
};

void vu_client_default_caps(struct vu_caps *caps);
/* Takes ownership of @tran (also on failure). Starts the reader thread. */
int vu_client_new(struct vu_client **out, struct vu_tran *tran,
		  const struct vu_client_config *cfg);
/* Stop the reader, close the transport, free. Accepts NULL; NULLs *c. */
void vu_client_free(struct vu_client **c);

/* VERSION handshake. Must be the first call. -EPROTONOSUPPORT, -EPROTO,
 * -EINVAL (bad JSON), -ETIMEDOUT, -ENOTCONN. */
int vu_client_negotiate(struct vu_client *c);
const struct vu_caps *vu_client_caps(const struct vu_client *c);
uint16_t vu_client_minor(const struct vu_client *c);

/* Send a command and wait for its reply. 0, -errno from the server's error
 * reply, -ETIMEDOUT (the connection is then failed), -ENOTCONN, -EPROTO. */
int vu_client_call(struct vu_client *c, struct vu_call *call);

/* Record/forget a DMA window (server DMA requests must fall inside one). */
int vu_client_add_window(struct vu_client *c, uint64_t addr, uint64_t size, uint32_t flags);
void vu_client_del_window(struct vu_client *c, uint64_t addr, uint64_t size);

/* Fail the connection now (the server is closed and calls return -ENOTCONN). */
void vu_client_fail(struct vu_client *c, int err, const char *why);
bool vu_client_failed(const struct vu_client *c);
/* Counters (for tests and stats). */
uint64_t vu_client_dma_served(const struct vu_client *c);

#endif

/* libvigil_kvmi internals. */
#ifndef VIGIL_KVMI_CLIENT_INT_H
#define VIGIL_KVMI_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil_kvmi.h"

#define KVMI_CLIENT_BUF (sizeof(struct vigil_kvmi_hdr) + VIGIL_KVMI_MAX_MSG)

struct vigil_kvmi {
	int fd;
	unsigned nr_vcpus;
	int timeout_ms;
	uint32_t next_seq;
	uint8_t *buf;
	/* event ring */
	struct vigil_kvmi_ev *q;
	size_t q_head, q_count, q_cap;
	bool unhooked;
	unsigned reply_errors;
	int last_reply_error;
	/* the reply being waited for */
	bool want;
	uint32_t want_seq;
	uint16_t want_id;
	void *want_buf;
	size_t want_cap, want_len;
	int want_fd;
	int send_fd;              /* passed with the next request (SET_XFER) */
	/* transfer buffer shared with the server */
	uint8_t *xfer;
	size_t xfer_size;
	int xfer_fd;
};

int kvmi_client_pump(struct vigil_kvmi *c, int timeout_ms);
int kvmi_client_call(struct vigil_kvmi *c, unsigned msg_id, const void *req, size_t req_len,
		     void *reply, size_t reply_cap, int *fd_out);
int kvmi_client_send(struct vigil_kvmi *c, const void *buf, size_t len, uint32_t seq,
		     uint16_t msg_id, void *reply, size_t reply_cap, int *fd_out, int send_fd);

#endif

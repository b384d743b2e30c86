/*
 * vfio-user message layer: header checks, capability JSON, payload parsers.
 *
 * Pure functions over byte buffers (no I/O, no threads), so that each one is
 * unit-tested and fuzzed on its own. Every parser checks sizes before it
 * reads and clamps what the peer claims; all return 0 or -errno.
 */
#ifndef VIGIL_VU_MSG_H
#define VIGIL_VU_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"

/* Negotiated or proposed capabilities. */
struct vu_caps {
	uint32_t max_msg_fds;
	uint32_t max_data_xfer_size;
	uint64_t pgsizes;
	uint32_t max_dma_maps;
	bool write_multiple;
	bool twin_socket;
};

/* The spec's defaults (what an absent capability means). */
void vu_caps_defaults(struct vu_caps *caps);
/* JSON text ({"capabilities": {...}}) for @caps; malloc'ed, NUL-terminated. */
char *vu_caps_to_json(const struct vu_caps *caps);
/* Parse the server's JSON (@len bytes, must end with NUL) into @out, starting
 * from the defaults, and check it against what the client proposed:
 * -EINVAL malformed JSON or wrong types, -EPROTO a value the spec forbids
 * (a capability the client did not offer, 0 fds or xfer size, no 4 KiB pages). */
int vu_caps_parse(const char *json, size_t len, const struct vu_caps *proposed,
		  struct vu_caps *out);

/* Check a received header. @max_body bounds msg_size - 16.
 * -EPROTO bad size or flags, -EMSGSIZE larger than @max_body. */
int vu_hdr_check(const struct vu_hdr *h, uint32_t max_body);
static inline bool vu_hdr_is_reply(const struct vu_hdr *h)
{
	return (h->flags & VU_F_TYPE_MASK) == VU_F_TYPE_REPLY;
}

/* VERSION reply: version numbers against what we proposed, then caps. */
int vu_parse_version(const void *body, size_t len, const struct vu_caps *proposed,
		     uint16_t *minor, struct vu_caps *out);

#define VU_MAX_SPARSE_AREAS 16

struct vu_region {
	uint32_t index;
	uint32_t flags;           /* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset;          /* mmap offset */
	unsigned nr_sparse;       /* sparse mmap areas (region-relative) */
	struct vu_sparse_area sparse[VU_MAX_SPARSE_AREAS];
	bool has_sparse;
};

/* Region info reply; @body has @len bytes, the full payload. Walks the
 * capability chain (bounded, loop-safe). -EPROTO inconsistent reply. */
int vu_parse_region_info(const void *body, size_t len, uint32_t index,
			 struct vu_region *out);

#endif

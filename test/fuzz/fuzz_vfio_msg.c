/*
 * Fuzz target: the vfio-user message parsers the client runs on what a
 * device server sends (server/vfio/vu_msg.c), each on its own buffer.
 *
 * Input: [selector][bytes]. selector % 5 picks:
 *   0  vu_parse_region_info(bytes, index = byte 1 % 10)
 *   1  vu_parse_version(bytes) against a proposal (byte 1: write_multiple,
 *      twin_socket offered)
 *   2  vu_caps_parse(bytes + NUL) (the JSON alone, always terminated)
 *   3  vu_caps_to_json of capabilities made of the bytes, parsed back
 *   4  vu_hdr_check(first 16 bytes, max body from byte 1)
 * Checked for every input: a success means a result inside what the
 * protocol layer promises (region index echoed, sparse areas inside the
 * region, capabilities a subset of the proposal with their bounds); a
 * failure is one of the documented errnos.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "vu_msg.h"

static void check_region(const uint8_t *p, size_t n)
{
	struct vu_region r;
	uint32_t index = n ? p[0] % 10 : 0;
	int err = vu_parse_region_info(p + (n ? 1 : 0), n ? n - 1 : 0, index, &r);

	FUZZ_CHECK(err == 0 || err == -EPROTO, "region info: %d", err);
	if (err)
		return;
	FUZZ_CHECK(r.index == index, "index %u for %u", r.index, index);
	FUZZ_CHECK(r.size <= (1ULL << 40), "size %#llx", (unsigned long long)r.size);
	FUZZ_CHECK(r.nr_sparse <= VU_MAX_SPARSE_AREAS, "%u sparse areas", r.nr_sparse);
	FUZZ_CHECK(r.has_sparse || r.nr_sparse == 0, "areas without the capability");
	for (unsigned i = 0; i < r.nr_sparse; i++)
		FUZZ_CHECK(r.sparse[i].size && r.sparse[i].offset <= r.size &&
			   r.sparse[i].size <= r.size - r.sparse[i].offset,
			   "sparse area %u [%#llx, +%#llx) outside %#llx", i,
			   (unsigned long long)r.sparse[i].offset,
			   (unsigned long long)r.sparse[i].size, (unsigned long long)r.size);
}

static void proposal(uint8_t sel, struct vu_caps *p)
{
	*p = (struct vu_caps){
		.max_msg_fds = VU_CLIENT_MAX_MSG_FDS, .max_data_xfer_size = VU_CLIENT_MAX_XFER,
		.pgsizes = 4096, .max_dma_maps = 64,
		.write_multiple = sel & 1, .twin_socket = sel & 2,
	};
}

static void check_caps(const struct vu_caps *c, const struct vu_caps *p)
{
	FUZZ_CHECK(c->max_msg_fds <= VU_CLIENT_MAX_MSG_FDS, "max_msg_fds %u", c->max_msg_fds);
	FUZZ_CHECK(c->max_data_xfer_size >= 1 && c->max_data_xfer_size <= 64u << 20,
		   "max_data_xfer_size %u", c->max_data_xfer_size);
	FUZZ_CHECK(c->pgsizes & 4096, "pgsizes %#llx", (unsigned long long)c->pgsizes);
	FUZZ_CHECK(c->max_dma_maps >= 1, "max_dma_maps 0");
	FUZZ_CHECK(!c->write_multiple || p->write_multiple, "write_multiple not offered");
	FUZZ_CHECK(!c->twin_socket || p->twin_socket, "twin_socket not offered");
}

static bool caps_errno(int err)
{
	return err == -EINVAL || err == -EPROTO || err == -ENOMEM;
}

static void check_version(const uint8_t *p, size_t n)
{
	struct vu_caps prop, out;
	uint16_t minor = 0xffff;
	int err;

	proposal(n ? p[0] : 0, &prop);
	err = vu_parse_version(p + (n ? 1 : 0), n ? n - 1 : 0, &prop, &minor, &out);
	FUZZ_CHECK(err == 0 || err == -EPROTONOSUPPORT || caps_errno(err), "version: %d", err);
	if (err)
		return;
	FUZZ_CHECK(minor <= VU_PROTO_MINOR, "minor %u", minor);
	check_caps(&out, &prop);
}

static void check_json(const uint8_t *p, size_t n)
{
	char *json = malloc(n + 1);
	struct vu_caps prop, out;
	int err;

	FUZZ_CHECK(json, "out of memory");
	memcpy(json, p, n);
	json[n] = '\0';
	proposal(0x3, &prop);
	err = vu_caps_parse(json, n + 1, &prop, &out);
	FUZZ_CHECK(err == 0 || caps_errno(err), "caps: %d", err);
	if (!err)
		check_caps(&out, &prop);
	free(json);
}

/* What the client proposes must parse back as itself (fds clamped). */
static void check_roundtrip(const uint8_t *p, size_t n)
{
	uint8_t b[24] = { 0 };
	struct vu_caps c, out;
	char *json;
	int err;

	memcpy(b, p, n < sizeof(b) ? n : sizeof(b));
	memcpy(&c.max_msg_fds, b, 4);
	memcpy(&c.max_data_xfer_size, b + 4, 4);
	memcpy(&c.pgsizes, b + 8, 8);
	memcpy(&c.max_dma_maps, b + 16, 4);
	c.write_multiple = b[20] & 1;
	c.twin_socket = false;       /* vu_caps_to_json never offers it */
	json = vu_caps_to_json(&c);
	FUZZ_CHECK(json, "vu_caps_to_json failed");
	err = vu_caps_parse(json, strlen(json) + 1, &c, &out);
	if (c.max_msg_fds <= 1024 && c.max_data_xfer_size >= 1 &&
	    c.max_data_xfer_size <= 64u << 20 && c.pgsizes >= 1 && c.pgsizes <= UINT64_MAX >> 1 &&
	    (c.pgsizes & 4096) && c.max_dma_maps >= 1) {
		FUZZ_CHECK(err == 0, "%s does not parse back: %d", json, err);
		FUZZ_CHECK(out.max_msg_fds == (c.max_msg_fds < VU_CLIENT_MAX_MSG_FDS ?
					       c.max_msg_fds : VU_CLIENT_MAX_MSG_FDS) &&
			   out.max_data_xfer_size == c.max_data_xfer_size &&
			   out.pgsizes == c.pgsizes && out.max_dma_maps == c.max_dma_maps &&
			   out.write_multiple == c.write_multiple, "%s parses back differently", json);
	} else {
		FUZZ_CHECK(err == -EPROTO, "%s (out of bounds) parsed: %d", json, err);
	}
	free(json);
}

static void check_hdr(const uint8_t *p, size_t n)
{
	struct vu_hdr h = { 0 };
	uint32_t max = n ? (uint32_t)p[0] << 12 : 0;
	int err;

	memcpy(&h, p + (n ? 1 : 0), n > sizeof(h) ? sizeof(h) : (n ? n - 1 : 0));
	err = vu_hdr_check(&h, max);
	FUZZ_CHECK(err == 0 || err == -EPROTO || err == -EMSGSIZE, "hdr: %d", err);
	if (err)
		return;
	FUZZ_CHECK(h.msg_size >= sizeof(h) && h.msg_size - sizeof(h) <= max, "size %u",
		   h.msg_size);
	FUZZ_CHECK(!(h.flags & ~VU_F_KNOWN), "flags %#x", h.flags);
	FUZZ_CHECK((h.flags & VU_F_TYPE_MASK) <= VU_F_TYPE_REPLY, "type %#x", h.flags);
	(void)vu_cmd_name(h.cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0: check_region(data + 1, size - 1); break;
	case 1: check_version(data + 1, size - 1); break;
	case 2: check_json(data + 1, size - 1); break;
	case 3: check_roundtrip(data + 1, size - 1); break;
	default: check_hdr(data + 1, size - 1); break;
	}
	return 0;
}

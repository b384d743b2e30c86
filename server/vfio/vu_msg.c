/* vfio-user message layer: header checks, capability JSON, payload parsers. */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vu_msg.h"

#define VU_MAX_MAX_XFER (64u * 1024u * 1024u)
#define VU_MAX_CAPS     16

const char *vu_cmd_name(unsigned cmd)
{
	static const char *const names[VU_CMD_MAX] = {
		[VU_CMD_VERSION] = "VERSION",
		[VU_CMD_DMA_MAP] = "DMA_MAP",
		[VU_CMD_DMA_UNMAP] = "DMA_UNMAP",
		[VU_CMD_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
		[VU_CMD_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
		[VU_CMD_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
		[VU_CMD_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
		[VU_CMD_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
		[VU_CMD_REGION_READ] = "REGION_READ",
		[VU_CMD_REGION_WRITE] = "REGION_WRITE",
		[VU_CMD_DMA_READ] = "DMA_READ",
		[VU_CMD_DMA_WRITE] = "DMA_WRITE",
		[VU_CMD_DEVICE_RESET] = "DEVICE_RESET",
		[VU_CMD_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
		[VU_CMD_DEVICE_FEATURE] = "DEVICE_FEATURE",
	};

	return cmd < VU_CMD_MAX && names[cmd] ? names[cmd] : "unknown";
}

int vu_hdr_check(const struct vu_hdr *h, uint32_t max_body)
{
	uint32_t type = h->flags & VU_F_TYPE_MASK;

	if (h->msg_size < sizeof(*h))
		return -EPROTO;
	if (h->flags & ~VU_F_KNOWN)
		return -EPROTO;
	if (type != VU_F_TYPE_COMMAND && type != VU_F_TYPE_REPLY)
		return -EPROTO;
	if (type == VU_F_TYPE_REPLY && (h->flags & VU_F_NO_REPLY))
		return -EPROTO;
	if (h->msg_size - sizeof(*h) > max_body)
		return -EMSGSIZE;
	return 0;
}

void vu_caps_defaults(struct vu_caps *caps)
{
	*caps = (struct vu_caps){
		.max_msg_fds = VU_DEF_MAX_MSG_FDS,
		.max_data_xfer_size = VU_DEF_MAX_XFER,
		.pgsizes = VU_DEF_PGSIZES,
		.max_dma_maps = VU_DEF_MAX_DMA_MAPS,
	};
}

static int add_int(struct json_object *o, const char *key, int64_t v)
{
	struct json_object *n = json_object_new_int64(v);

	if (!n || json_object_object_add(o, key, n) < 0) {
		json_object_put(n);
		return -ENOMEM;
	}
	return 0;
}

static int caps_fill(struct json_object *c, const struct vu_caps *caps)
{
	struct json_object *b;

	if (add_int(c, "max_msg_fds", caps->max_msg_fds) ||
	    add_int(c, "max_data_xfer_size", caps->max_data_xfer_size) ||
	    add_int(c, "pgsizes", (int64_t)caps->pgsizes) ||
	    add_int(c, "max_dma_maps", caps->max_dma_maps))
		return -ENOMEM;
	if (caps->write_multiple) {
		b = json_object_new_boolean(1);
		if (!b || json_object_object_add(c, "write_multiple", b) < 0) {
			json_object_put(b);
			return -ENOMEM;
		}
	}
	return 0;
}

char *vu_caps_to_json(const struct vu_caps *caps)
{
	struct json_object *top = json_object_new_object();
	struct json_object *c = json_object_new_object();
	char *out = NULL;

	if (!top || !c || caps_fill(c, caps) < 0)
		goto out;
	if (json_object_object_add(top, "capabilities", c) < 0)
		goto out;
	c = NULL;
	out = strdup(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(c);
	json_object_put(top);
	return out;
}

/* Integer member @key of @o in [lo, hi], if present. */
static int get_u64(struct json_object *o, const char *key, uint64_t lo,
		   uint64_t hi, uint64_t *v)
{
	struct json_object *m;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &m))
		return 0;
	if (json_object_get_type(m) != json_type_int)
		return -EINVAL;
	errno = 0;
	x = json_object_get_int64(m);
	if (errno || x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
		return -EPROTO;
	*v = (uint64_t)x;
	return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *v)
{
	struct json_object *m;

	if (!json_object_object_get_ex(o, key, &m))
		return 0;
	if (json_object_get_type(m) != json_type_boolean)
		return -EINVAL;
	*v = json_object_get_boolean(m);
	return 0;
}

static int parse_twin(struct json_object *c, bool *twin)
{
	struct json_object *t;

	if (!json_object_object_get_ex(c, "twin_socket", &t))
		return 0;
	if (json_object_get_type(t) != json_type_object)
		return -EINVAL;
	return get_bool(t, "supported", twin);
}

static int caps_parse_obj(struct json_object *c, const struct vu_caps *proposed,
			  struct vu_caps *out)
{
	uint64_t fds = out->max_msg_fds, xfer = out->max_data_xfer_size;
	uint64_t maps = out->max_dma_maps;
	int err;

	if ((err = get_u64(c, "max_msg_fds", 0, 1024, &fds)) ||
	    (err = get_u64(c, "max_data_xfer_size", 1, VU_MAX_MAX_XFER, &xfer)) ||
	    (err = get_u64(c, "pgsizes", 1, UINT64_MAX >> 1, &out->pgsizes)) ||
	    (err = get_u64(c, "max_dma_maps", 1, UINT32_MAX, &maps)) ||
	    (err = get_bool(c, "write_multiple", &out->write_multiple)) ||
	    (err = parse_twin(c, &out->twin_socket)))
		return err;
	/* The reply's capabilities must be a subset of what was proposed. */
	if (out->write_multiple && !proposed->write_multiple)
		return -EPROTO;
	if (out->twin_socket && !proposed->twin_socket)
		return -EPROTO;
	/* Guest RAM is mapped in 4 KiB granules. */
	if (!(out->pgsizes & 4096))
		return -EPROTO;
	out->max_msg_fds = (uint32_t)(fds < VU_CLIENT_MAX_MSG_FDS ? fds : VU_CLIENT_MAX_MSG_FDS);
	out->max_data_xfer_size = (uint32_t)xfer;
	out->max_dma_maps = (uint32_t)maps;
	return 0;
}

int vu_caps_parse(const char *json, size_t len, const struct vu_caps *proposed,
		  struct vu_caps *out)
{
	struct json_object *top, *c;
	struct json_tokener *tok;
	int err = 0;

	vu_caps_defaults(out);
	if (len == 0 || json[len - 1] != '\0' || strlen(json) != len - 1)
		return -EINVAL;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	top = json_tokener_parse_ex(tok, json, (int)len - 1);
	if (!top || json_tokener_get_error(tok) != json_tokener_success)
		err = -EINVAL;
	/* Nothing but white space may follow the object. */
	for (size_t i = top ? json_tokener_get_parse_end(tok) : len; i < len - 1; i++)
		if (!strchr(" \t\r\n", json[i]))
			err = -EINVAL;
	json_tokener_free(tok);
	if (err)
		goto out;
	if (json_object_get_type(top) != json_type_object) {
		err = -EINVAL;
		goto out;
	}
	if (!json_object_object_get_ex(top, "capabilities", &c))
		goto out;
	if (json_object_get_type(c) != json_type_object)
		err = -EINVAL;
	else
		err = caps_parse_obj(c, proposed, out);
out:
	json_object_put(top);
	return err;
}

int vu_parse_version(const void *body, size_t len, const struct vu_caps *proposed,
		     uint16_t *minor, struct vu_caps *out)
{
	struct vu_version v;

	if (len < sizeof(v))
		return -EPROTO;
	memcpy(&v, body, sizeof(v));
	if (v.major != VU_PROTO_MAJOR || v.minor > VU_PROTO_MINOR)
		return -EPROTONOSUPPORT;
	*minor = v.minor;
	if (len == sizeof(v)) {
		vu_caps_defaults(out);
		return 0;
	}
	return vu_caps_parse((const char *)body + sizeof(v), len - sizeof(v),
			     proposed, out);
}

static int parse_sparse(const uint8_t *p, size_t len, uint32_t off,
			struct vu_region *r)
{
	struct vu_sparse_mmap sm;
	size_t room;

	if (len - off < sizeof(struct vu_cap_hdr) + sizeof(sm))
		return -EPROTO;
	off += sizeof(struct vu_cap_hdr);
	memcpy(&sm, p + off, sizeof(sm));
	off += sizeof(sm);
	room = (len - off) / sizeof(struct vu_sparse_area);
	if (sm.nr_areas > room || sm.nr_areas > VU_MAX_SPARSE_AREAS)
		return -EPROTO;
	r->has_sparse = true;
	r->nr_sparse = sm.nr_areas;
	for (unsigned i = 0; i < sm.nr_areas; i++) {
		struct vu_sparse_area *a = &r->sparse[i];

		memcpy(a, p + off + i * sizeof(*a), sizeof(*a));
		if (a->size == 0 || a->offset > r->size || a->size > r->size - a->offset)
			return -EPROTO;
	}
	return 0;
}

static int parse_caps(const uint8_t *p, size_t len, uint32_t off, struct vu_region *r)
{
	for (unsigned n = 0; off; n++) {
		struct vu_cap_hdr h;
		int err;

		/* Each capability lies after the fixed part and after the previous one. */
		if (n == VU_MAX_CAPS || off < sizeof(struct vu_region_info) ||
		    off > len || len - off < sizeof(h))
			return -EPROTO;
		memcpy(&h, p + off, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			err = parse_sparse(p, len, off, r);
			if (err)
				return err;
		}
		if (h.next && h.next <= off)
			return -EPROTO;
		off = h.next;
	}
	return 0;
}

int vu_parse_region_info(const void *body, size_t len, uint32_t index,
			 struct vu_region *out)
{
	struct vu_region_info ri;

	if (len < sizeof(ri))
		return -EPROTO;
	memcpy(&ri, body, sizeof(ri));
	memset(out, 0, sizeof(*out));
	if (ri.index != index)
		return -EPROTO;
	out->index = index;
	out->flags = ri.flags;
	out->size = ri.size;
	out->offset = ri.offset;
	if (ri.size > (1ULL << 40))
		return -EPROTO;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS) || !ri.cap_offset)
		return 0;
	/* Only the bytes the server actually sent count. */
	if (ri.argsz < len)
		len = ri.argsz;
	return parse_caps(body, len, ri.cap_offset, out);
}

/*
 * vfio-user message layer on its own: header checks, capability JSON, region
 * info capability chains, and random input through the parsers and through a
 * client reading a pipe (the fuzz path).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vu_client.h"
#include "vu_msg.h"

static struct vu_caps proposed(void)
{
	struct vu_caps c;

	vu_client_default_caps(&c);
	return c;
}

static int parse(const char *json, struct vu_caps *out)
{
	struct vu_caps p = proposed();

	return vu_caps_parse(json, strlen(json) + 1, &p, out);
}

Test(vfio_msg, header_checks_size_flags_and_limit)
{
	struct vu_hdr h = { .msg_size = 16, .flags = VU_F_TYPE_REPLY };

	cr_assert_eq(vu_hdr_check(&h, 0), 0);
	h.msg_size = 15;
	cr_assert_eq(vu_hdr_check(&h, 100), -EPROTO);
	h.msg_size = 117;
	cr_assert_eq(vu_hdr_check(&h, 100), -EMSGSIZE);
	h.msg_size = 16;
	h.flags = VU_F_TYPE_REPLY | 0x100;
	cr_assert_eq(vu_hdr_check(&h, 100), -EPROTO, "unknown flag bit");
	h.flags = 2;
	cr_assert_eq(vu_hdr_check(&h, 100), -EPROTO, "unknown type");
	h.flags = VU_F_TYPE_REPLY | VU_F_NO_REPLY;
	cr_assert_eq(vu_hdr_check(&h, 100), -EPROTO, "no_reply on a reply");
}

Test(vfio_msg, caps_round_trip_through_json)
{
	struct vu_caps p = proposed(), out;
	char *json = vu_caps_to_json(&p);

	cr_assert_not_null(json);
	cr_assert_eq(vu_caps_parse(json, strlen(json) + 1, &p, &out), 0);
	cr_assert_eq(out.max_msg_fds, p.max_msg_fds);
	cr_assert_eq(out.max_data_xfer_size, p.max_data_xfer_size);
	cr_assert_eq(out.pgsizes, p.pgsizes);
	cr_assert_eq(out.max_dma_maps, p.max_dma_maps);
	cr_assert(out.write_multiple);
	free(json);
}

Test(vfio_msg, caps_defaults_and_unknown_members)
{
	struct vu_caps out;

	cr_assert_eq(parse("{\"capabilities\":{\"migration\":{\"pgsize\":4096}}}", &out), 0);
	cr_assert_eq(out.max_msg_fds, 1);
	cr_assert_eq(out.max_data_xfer_size, 1048576);
	cr_assert_eq(out.pgsizes, 4096);
	cr_assert_eq(out.max_dma_maps, 65535);
	cr_assert_not(out.write_multiple);
	cr_assert_eq(parse("{}", &out), 0);
}

Test(vfio_msg, caps_rejections)
{
	struct vu_caps out, p = proposed();
	const char *wm = "{\"capabilities\":{\"write_multiple\":true}}";

	cr_assert_eq(parse("[1]", &out), -EINVAL);
	cr_assert_eq(parse("{\"capabilities\":3}", &out), -EINVAL);
	cr_assert_eq(parse("{\"capabilities\":{\"max_msg_fds\":true}}", &out), -EINVAL);
	cr_assert_eq(parse("{\"capabilities\":{\"max_msg_fds\":-1}}", &out), -EPROTO);
	cr_assert_eq(parse("{\"capabilities\":{\"max_data_xfer_size\":0}}", &out), -EPROTO);
	cr_assert_eq(parse("{\"capabilities\":{\"pgsizes\":8192}}", &out), -EPROTO);
	cr_assert_eq(parse("{\"capabilities\":{\"max_dma_maps\":0}}", &out), -EPROTO);
	cr_assert_eq(parse("{\"capabilities\":{\"write_multiple\":1}}", &out), -EINVAL);
	cr_assert_eq(parse("{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}", &out),
		     -EPROTO);
	cr_assert_eq(parse("{\"capabilities\":{}} trailing", &out), -EINVAL);
	cr_assert_eq(vu_caps_parse("{}", 2, &p, &out), -EINVAL, "no terminating NUL");
	cr_assert_eq(vu_caps_parse("{}\0{}", 5, &p, &out), -EINVAL, "embedded NUL");
	p.write_multiple = false;
	cr_assert_eq(vu_caps_parse(wm, strlen(wm) + 1, &p, &out),
		     -EPROTO, "write_multiple was not proposed");
}

Test(vfio_msg, version_numbers_checked)
{
	struct vu_caps p = proposed(), out;
	uint16_t minor;
	struct vu_version v = { VU_PROTO_MAJOR, 0 };

	cr_assert_eq(vu_parse_version(&v, sizeof(v), &p, &minor, &out), 0);
	cr_assert_eq(minor, 0);
	v.minor = VU_PROTO_MINOR + 1;
	cr_assert_eq(vu_parse_version(&v, sizeof(v), &p, &minor, &out), -EPROTONOSUPPORT);
	v.minor = 0;
	v.major = VU_PROTO_MAJOR + 1;
	cr_assert_eq(vu_parse_version(&v, sizeof(v), &p, &minor, &out), -EPROTONOSUPPORT);
	cr_assert_eq(vu_parse_version(&v, 3, &p, &minor, &out), -EPROTO);
}

/* Region info with one sparse-mmap capability at @cap_off. */
struct ri_buf {
	struct vu_region_info ri;
	uint8_t pad[8];
	struct vu_cap_hdr cap;
	struct vu_sparse_mmap sm;
	struct vu_sparse_area a[2];
};

static void ri_init(struct ri_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->ri = (struct vu_region_info){
		.argsz = sizeof(*b), .index = 2, .size = 0x10000,
		.flags = VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS,
		.cap_offset = offsetof(struct ri_buf, cap),
	};
	b->cap = (struct vu_cap_hdr){ VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0 };
	b->sm.nr_areas = 2;
	b->a[0] = (struct vu_sparse_area){ 0x1000, 0x1000 };
	b->a[1] = (struct vu_sparse_area){ 0x8000, 0x8000 };
}

Test(vfio_msg, region_info_sparse_areas)
{
	struct ri_buf b;
	struct vu_region r;

	ri_init(&b);
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), 0);
	cr_assert(r.has_sparse);
	cr_assert_eq(r.nr_sparse, 2);
	cr_assert_eq(r.sparse[1].offset, 0x8000);
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 3, &r), -EPROTO, "wrong index echoed");
}

Test(vfio_msg, region_info_bad_chains_rejected)
{
	struct ri_buf b;
	struct vu_region r;

	ri_init(&b);
	b.cap.next = b.ri.cap_offset;
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), -EPROTO, "loop");
	ri_init(&b);
	b.ri.cap_offset = 8;
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), -EPROTO, "inside fixed part");
	ri_init(&b);
	b.sm.nr_areas = 3;
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), -EPROTO, "areas past the end");
	ri_init(&b);
	b.a[1].size = 0x8001;
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), -EPROTO, "area past region");
	ri_init(&b);
	b.ri.argsz = sizeof(struct vu_region_info);
	cr_assert_eq(vu_parse_region_info(&b, sizeof(b), 2, &r), -EPROTO,
		     "capability beyond the argsz the server claims");
}

Test(vfio_msg, random_input_never_crashes_parsers)
{
	uint8_t buf[256];
	struct vu_caps p = proposed(), out;
	struct vu_region r;
	uint16_t minor;

	srand(1234);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % sizeof(buf);

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rand();
		if (len >= 16 && i % 2) {
			struct vu_region_info *ri = (void *)buf;

			ri->cap_offset = (uint32_t)(rand() % 300);
			ri->flags |= VFIO_REGION_INFO_FLAG_CAPS;
			ri->index = 1;
		}
		vu_parse_region_info(buf, len, 1, &r);
		vu_parse_version(buf, len, &p, &minor, &out);
	}
}

/* A client reading random bytes from a pipe fails once and cleanly. */
static int failures;
static void count_fail(void *opaque, int err, const char *why)
{
	(void)opaque; (void)err; (void)why;
	__atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
}

Test(vfio_msg, garbage_stream_fails_client_once)
{
	static const struct vu_client_ops ops = { .failed = count_fail };
	struct vu_client_config cfg = { .name = "pipe", .call_timeout_ms = 500, .ops = &ops };
	int to_client[2], from_client[2];
	struct vu_client *c;
	struct vu_tran *t;
	uint8_t junk[4096];

	cr_assert_eq(pipe(to_client), 0);
	cr_assert_eq(pipe(from_client), 0);
	cr_assert_eq(vu_tran_fd_new(&t, to_client[0], from_client[1]), 0);
	cr_assert_eq(vu_client_new(&c, t, &cfg), 0);
	srand(99);
	for (size_t k = 0; k < sizeof(junk); k++)
		junk[k] = (uint8_t)rand();
	cr_assert_eq(write(to_client[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	cr_assert_eq(vu_client_negotiate(c) < 0, 1);
	cr_assert(vu_client_failed(c));
	cr_assert_eq(failures, 1);
	vu_client_free(&c);
	cr_assert_null(c);
	close(to_client[1]);
	close(from_client[0]);
}

/* libvigil_kvmi: one function per command. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvmi_client_int.h"

#define CALL(c, id, req, rep) \
	kvmi_client_call((c), (id), (req), sizeof(*(req)), (rep), sizeof(*(rep)), NULL)

static int ok(int r)
{
	return r < 0 ? r : 0;
}

int vigil_kvmi_request(struct vigil_kvmi *c, unsigned msg_id, const void *req, size_t req_len,
		       void *reply, size_t reply_cap)
{
	return kvmi_client_call(c, msg_id, req, req_len, reply, reply_cap, NULL);
}

int vigil_kvmi_send_raw(struct vigil_kvmi *c, const void *buf, size_t len, uint32_t seq)
{
	struct vigil_kvmi_hdr h = { 0 };
	uint8_t reply[64];

	if (len >= sizeof(h))
		memcpy(&h, buf, sizeof(h));
	else if (len)
		memcpy(&h, buf, len);
	return ok(kvmi_client_send(c, buf, len, seq, h.msg_id, reply, sizeof(reply), NULL, -1));
}

int vigil_kvmi_reply_event(struct vigil_kvmi *c, const struct vigil_kvmi_ev *ev,
			   unsigned action, unsigned flags, uint64_t value,
			   const void *ctx, size_t ctx_len)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_event_reply r;
	} m;

	if (ctx_len > sizeof(m.r.ctx) || action >= VIGIL_KVMI_ACTION_MAX)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.h.msg_id = VIGIL_KVMI_EVENT_REPLY;
	m.h.size = sizeof(m.r);
	m.h.seq = ev->seq;
	m.r.action = (uint8_t)action;
	m.r.flags = (uint8_t)flags;
	m.r.event = ev->common.event;
	if (flags & VIGIL_KVMI_REPLY_VALUE)
		m.r.value = value;
	if ((flags & VIGIL_KVMI_REPLY_CTX) && ctx_len) {
		m.r.ctx_size = (uint32_t)ctx_len;
		memcpy(m.r.ctx, ctx, ctx_len);
	}
	if (send(c->fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		return -ECONNRESET;
	return 0;
}

int vigil_kvmi_get_version(struct vigil_kvmi *c, struct vigil_kvmi_version_reply *out)
{
	return ok(kvmi_client_call(c, VIGIL_KVMI_GET_VERSION, NULL, 0, out, sizeof(*out), NULL));
}

int vigil_kvmi_get_guest_info(struct vigil_kvmi *c, struct vigil_kvmi_guest_info_reply *out)
{
	return ok(kvmi_client_call(c, VIGIL_KVMI_GET_GUEST_INFO, NULL, 0, out, sizeof(*out),
				   NULL));
}

int vigil_kvmi_pause_vcpu(struct vigil_kvmi *c, unsigned vcpu)
{
	struct vigil_kvmi_vcpu_req q = { .vcpu = (uint16_t)vcpu };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_PAUSE_VCPU, &q, &e));
}

int vigil_kvmi_get_registers(struct vigil_kvmi *c, unsigned vcpu, struct kvm_regs *regs,
			     struct kvm_sregs *sregs, const uint32_t *msrs, unsigned nmsrs,
			     uint64_t *msr_vals, unsigned *mode)
{
	struct {
		struct vigil_kvmi_get_regs q;
		uint32_t idx[VIGIL_KVMI_MAX_MSRS];
	} q;
	struct {
		struct vigil_kvmi_get_regs_reply r;
		struct vigil_kvmi_msr_entry m[VIGIL_KVMI_MAX_MSRS];
	} *r;
	unsigned i;
	int err;

	if (nmsrs > VIGIL_KVMI_MAX_MSRS)
		return -E2BIG;
	memset(&q, 0, sizeof(q));
	q.q.vcpu = (uint16_t)vcpu;
	q.q.nmsrs = (uint16_t)nmsrs;
	for (i = 0; i < nmsrs; i++)
		q.idx[i] = msrs[i];
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = kvmi_client_call(c, VIGIL_KVMI_GET_REGISTERS, &q, sizeof(q.q) + nmsrs * 4, r,
			       sizeof(*r), NULL);
	if (err >= 0) {
		if (regs)
			*regs = r->r.regs;
		if (sregs)
			*sregs = r->r.sregs;
		if (mode)
			*mode = r->r.mode;
		for (i = 0; i < nmsrs && msr_vals; i++)
			msr_vals[i] = r->m[i].data;
	}
	free(r);
	return ok(err);
}

int vigil_kvmi_set_registers(struct vigil_kvmi *c, unsigned vcpu, const struct kvm_regs *regs)
{
	struct vigil_kvmi_set_regs q = { .vcpu = (uint16_t)vcpu, .regs = *regs };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_SET_REGISTERS, &q, &e));
}

int vigil_kvmi_get_cpuid(struct vigil_kvmi *c, unsigned vcpu, uint32_t function,
			 uint32_t index, uint32_t out[4])
{
	struct vigil_kvmi_get_cpuid q = { .vcpu = (uint16_t)vcpu, .function = function,
					  .index = index };
	struct vigil_kvmi_cpuid_reply r;
	int err = CALL(c, VIGIL_KVMI_GET_CPUID, &q, &r);

	if (err < 0)
		return err;
	out[0] = r.eax;
	out[1] = r.ebx;
	out[2] = r.ecx;
	out[3] = r.edx;
	return 0;
}

int vigil_kvmi_get_xcr0(struct vigil_kvmi *c, unsigned vcpu, uint64_t *xcr0)
{
	struct vigil_kvmi_vcpu_req q = { .vcpu = (uint16_t)vcpu };
	struct vigil_kvmi_xcr_reply r;
	int err = CALL(c, VIGIL_KVMI_GET_XCR, &q, &r);

	if (err >= 0)
		*xcr0 = r.xcr0;
	return ok(err);
}

int vigil_kvmi_get_xsave(struct vigil_kvmi *c, unsigned vcpu, struct kvm_xsave *xsave)
{
	struct vigil_kvmi_vcpu_req q = { .vcpu = (uint16_t)vcpu };
	struct vigil_kvmi_xsave_reply *r = malloc(sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = CALL(c, VIGIL_KVMI_GET_XSAVE, &q, r);
	if (err >= 0)
		*xsave = r->xsave;
	free(r);
	return ok(err);
}

int vigil_kvmi_xfer_setup(struct vigil_kvmi *c, size_t size, void **buf)
{
	struct vigil_kvmi_set_xfer q = { .size = size };
	struct vigil_kvmi_error e;
	uint8_t *p;
	int fd, err;

	if (!size || size > VIGIL_KVMI_MAX_XFER || c->xfer)
		return c->xfer ? -EBUSY : -EINVAL;
	fd = memfd_create("vigil-kvmi-xfer", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	c->send_fd = fd;
	err = ok(CALL(c, VIGIL_KVMI_SET_XFER, &q, &e));
	if (err) {
		munmap(p, size);
		close(fd);
		return err;
	}
	c->xfer = p;
	c->xfer_size = size;
	c->xfer_fd = fd;
	*buf = p;
	return 0;
}

/* @buf lies inside the transfer buffer: one request, the server copies once. */
static int read_xfer(struct vigil_kvmi *c, uint64_t gpa, void *buf, size_t len,
		     uint64_t *generation)
{
	struct vigil_kvmi_read_phys_xfer q = { .gpa = gpa, .size = len,
					       .offset = (uint64_t)((uint8_t *)buf - c->xfer) };
	struct vigil_kvmi_read_phys_reply r;
	int err = CALL(c, VIGIL_KVMI_READ_PHYSICAL_XFER, &q, &r);

	if (err >= 0 && generation)
		*generation = r.generation;
	return ok(err);
}

/* Through the socket, VIGIL_KVMI_MAX_IO bytes per request. */
static int read_inline(struct vigil_kvmi *c, uint64_t gpa, void *buf, size_t len,
		       uint64_t *generation)
{
	struct vigil_kvmi_read_phys q = { 0 };
	struct vigil_kvmi_read_phys_reply *r;
	size_t done = 0;
	int err = 0;

	r = malloc(sizeof(*r) + VIGIL_KVMI_MAX_IO);
	if (!r)
		return -ENOMEM;
	while (done < len && err >= 0) {
		q.gpa = gpa + done;
		q.size = (uint32_t)(len - done < VIGIL_KVMI_MAX_IO ? len - done : VIGIL_KVMI_MAX_IO);
		err = kvmi_client_call(c, VIGIL_KVMI_READ_PHYSICAL, &q, sizeof(q), r,
				       sizeof(*r) + q.size, NULL);
		if (err >= 0 && (size_t)err != sizeof(*r) + q.size)
			err = -EPROTO;
		if (err < 0)
			break;
		if (!done && generation)
			*generation = r->generation;
		memcpy((uint8_t *)buf + done, r + 1, q.size);
		done += q.size;
	}
	free(r);
	return ok(err);
}

int vigil_kvmi_read_physical(struct vigil_kvmi *c, uint64_t gpa, void *buf, size_t len,
			     uint64_t *generation)
{
	if (c->xfer && (uint8_t *)buf >= c->xfer && len <= c->xfer_size &&
	    (size_t)((uint8_t *)buf - c->xfer) <= c->xfer_size - len)
		return read_xfer(c, gpa, buf, len, generation);
	return read_inline(c, gpa, buf, len, generation);
}

int vigil_kvmi_write_physical(struct vigil_kvmi *c, uint64_t gpa, const void *buf, size_t len,
			      uint64_t generation, uint64_t *new_generation)
{
	struct vigil_kvmi_write_phys *q;
	struct vigil_kvmi_write_phys_reply r;
	size_t done = 0;
	int err = 0;

	q = malloc(sizeof(*q) + VIGIL_KVMI_MAX_IO);
	if (!q)
		return -ENOMEM;
	while (done < len && err >= 0) {
		memset(q, 0, sizeof(*q));
		q->gpa = gpa + done;
		q->generation = generation;
		q->size = (uint32_t)(len - done < VIGIL_KVMI_MAX_IO ? len - done : VIGIL_KVMI_MAX_IO);
		memcpy(q + 1, (const uint8_t *)buf + done, q->size);
		err = kvmi_client_call(c, VIGIL_KVMI_WRITE_PHYSICAL, q, sizeof(*q) + q->size, &r,
				       sizeof(r), NULL);
		if (err < 0)
			break;
		if (generation)
			generation = r.generation;   /* the next piece continues our own write */
		if (new_generation)
			*new_generation = r.generation;
		done += q->size;
	}
	free(q);
	return ok(err);
}

int vigil_kvmi_translate_gva(struct vigil_kvmi *c, unsigned vcpu, uint64_t gva,
			     uint64_t *gpa)
{
	struct vigil_kvmi_translate q = { .vcpu = (uint16_t)vcpu, .gva = gva };
	struct vigil_kvmi_translate_reply r;
	int err = CALL(c, VIGIL_KVMI_TRANSLATE_GVA, &q, &r);

	if (err >= 0)
		*gpa = r.gpa;
	return ok(err);
}

int vigil_kvmi_set_page_access(struct vigil_kvmi *c, const struct vigil_kvmi_page_entry *e,
			       size_t n, unsigned *slots_used)
{
	struct vigil_kvmi_page_access *q;
	struct vigil_kvmi_page_access_reply r;
	size_t done = 0, cnt;
	int err = 0;

	q = malloc(sizeof(*q) + VIGIL_KVMI_MAX_PAGES * sizeof(*e));
	if (!q)
		return -ENOMEM;
	while (done < n && err >= 0) {
		cnt = n - done < VIGIL_KVMI_MAX_PAGES ? n - done : VIGIL_KVMI_MAX_PAGES;
		q->count = (uint32_t)cnt;
		q->padding = 0;
		memcpy(q + 1, e + done, cnt * sizeof(*e));
		err = kvmi_client_call(c, VIGIL_KVMI_SET_PAGE_ACCESS, q, sizeof(*q) + cnt * sizeof(*e),
				       &r, sizeof(r), NULL);
		if (err >= 0 && slots_used)
			*slots_used = r.slots_used;
		done += cnt;
	}
	free(q);
	return ok(err);
}

int vigil_kvmi_get_page_access(struct vigil_kvmi *c, uint64_t gpa, uint8_t *access)
{
	struct {
		struct vigil_kvmi_page_access q;
		struct vigil_kvmi_page_entry e;
	} q = { .q.count = 1, .e.gpa = gpa };
	struct {
		struct vigil_kvmi_page_access_reply r;
		struct vigil_kvmi_page_access q;
		struct vigil_kvmi_page_entry e;
	} r;
	int err = CALL(c, VIGIL_KVMI_GET_PAGE_ACCESS, &q, &r);

	if (err >= 0)
		*access = r.e.access;
	return ok(err);
}

int vigil_kvmi_control_events(struct vigil_kvmi *c, unsigned vcpu, unsigned op,
			      uint64_t events, uint64_t *result)
{
	struct vigil_kvmi_control_events q = { .vcpu = (uint16_t)vcpu, .op = (uint8_t)op,
					       .events = events };
	struct vigil_kvmi_control_events_reply r;
	int err = CALL(c, VIGIL_KVMI_CONTROL_EVENTS, &q, &r);

	if (err >= 0 && result)
		*result = r.events;
	return ok(err);
}

int vigil_kvmi_control_cr(struct vigil_kvmi *c, unsigned vcpu, unsigned cr, int enable)
{
	struct vigil_kvmi_control_cr q = { .vcpu = (uint16_t)vcpu, .cr = (uint8_t)cr,
					   .enable = enable != 0 };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_CONTROL_CR, &q, &e));
}

int vigil_kvmi_control_msr(struct vigil_kvmi *c, uint32_t msr, int enable)
{
	struct vigil_kvmi_control_msr q = { .vcpu = VIGIL_KVMI_ALL_VCPUS, .enable = enable != 0,
					    .msr = msr };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_CONTROL_MSR, &q, &e));
}

int vigil_kvmi_control_singlestep(struct vigil_kvmi *c, unsigned vcpu, int enable)
{
	struct vigil_kvmi_control_singlestep q = { .vcpu = (uint16_t)vcpu, .enable = enable != 0 };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_CONTROL_SINGLESTEP, &q, &e));
}

int vigil_kvmi_inject_exception(struct vigil_kvmi *c, unsigned vcpu, unsigned vector,
				int has_error, uint32_t error_code, uint64_t cr2)
{
	struct vigil_kvmi_inject_exception q = { .vcpu = (uint16_t)vcpu, .vector = (uint8_t)vector,
						 .has_error = has_error != 0,
						 .error_code = error_code, .cr2 = cr2 };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_INJECT_EXCEPTION, &q, &e));
}

int vigil_kvmi_set_breakpoint(struct vigil_kvmi *c, unsigned vcpu, unsigned index,
			      int enable, unsigned type, unsigned len, uint64_t gva)
{
	struct vigil_kvmi_set_breakpoint q = { .vcpu = (uint16_t)vcpu, .index = (uint8_t)index,
					       .enable = enable != 0, .type = (uint8_t)type,
					       .len = (uint8_t)len, .gva = gva };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_SET_BREAKPOINT, &q, &e));
}

int vigil_kvmi_get_memfd(struct vigil_kvmi *c, int *fd, struct vigil_kvmi_mem_region *regions,
			 unsigned *nr, uint64_t *size)
{
	struct {
		struct vigil_kvmi_memfd_reply r;
		struct vigil_kvmi_mem_region reg[8];
	} r;
	unsigned i;
	int err;

	*fd = -1;
	err = kvmi_client_call(c, VIGIL_KVMI_GET_MEMFD, NULL, 0, &r, sizeof(r), fd);
	if (err < 0)
		return err;
	if (*fd < 0)
		return -EPROTO;
	for (i = 0; i < r.r.nr_regions && i < *nr && i < 8; i++)
		regions[i] = r.reg[i];
	*nr = i;
	if (size)
		*size = r.r.size;
	return 0;
}

int vigil_kvmi_unhook(struct vigil_kvmi *c)
{
	struct vigil_kvmi_vcpu_req q = { 0 };
	struct vigil_kvmi_error e;

	return ok(CALL(c, VIGIL_KVMI_UNHOOK, &q, &e));
}

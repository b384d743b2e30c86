/* Memory commands: physical read/write, GVA translation, page access, memfd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kvmi_int.h"
#include "log.h"

static int handle_read(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		       const void *body, size_t len)
{
	const struct vigil_kvmi_read_phys *q = body;
	struct vigil_kvmi_read_phys_reply *r;
	int err;

	if (len != sizeof(*q) || q->padding || !q->size)
		return VIGIL_KVMI_EINVAL;
	if (q->size > VIGIL_KVMI_MAX_IO)
		return VIGIL_KVMI_E2BIG;
	r = malloc(sizeof(*r) + q->size);
	if (!r)
		return VIGIL_KVMI_ENOMEM;
	memset(r, 0, sizeof(*r));
	/* Sample the generation first: a write landing during the copy makes
	 * the cookie stale rather than silently matching newer contents. */
	r->generation = atomic_load(&c->k->generation);
	err = vm_read_phys(c->k->vm, q->gpa, r + 1, q->size);
	if (err)
		err = VIGIL_KVMI_EFAULT;
	else
		err = kvmi_reply(c, h, 0, r, sizeof(*r) + q->size) < 0 ? VIGIL_KVMI_ENOMEM : 0;
	free(r);
	return err;
}

static int handle_write(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			const void *body, size_t len)
{
	const struct vigil_kvmi_write_phys *q = body;
	struct vigil_kvmi_write_phys_reply r = { 0 };
	struct kvmi *k = c->k;
	uint64_t gen;

	if (len < sizeof(*q) || q->padding || !q->size || len != sizeof(*q) + q->size)
		return VIGIL_KVMI_EINVAL;
	if (q->size > VIGIL_KVMI_MAX_IO)
		return VIGIL_KVMI_E2BIG;
	gen = atomic_load(&k->generation);
	if (q->generation && q->generation != gen)
		return VIGIL_KVMI_ESTALE;
	if (vm_write_phys(k->vm, q->gpa, q + 1, q->size))
		return VIGIL_KVMI_EFAULT;
	r.generation = atomic_fetch_add(&k->generation, 1) + 1;
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int handle_set_xfer(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			   const void *body, size_t len)
{
	const struct vigil_kvmi_set_xfer *q = body;
	struct stat st;
	void *p = NULL;

	if (len != sizeof(*q) || q->size > VIGIL_KVMI_MAX_XFER || (q->size && c->rx_fd < 0))
		return VIGIL_KVMI_EINVAL;
	if (q->size) {
		if (fstat(c->rx_fd, &st) < 0 || (uint64_t)st.st_size < q->size)
			return VIGIL_KVMI_EINVAL;
		p = mmap(NULL, q->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->rx_fd, 0);
		if (p == MAP_FAILED)
			return VIGIL_KVMI_EINVAL;
	}
	if (c->xfer)
		munmap(c->xfer, c->xfer_size);
	c->xfer = p;
	c->xfer_size = q->size;
	return kvmi_reply(c, h, 0, NULL, 0);
}

static int handle_read_xfer(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			    const void *body, size_t len)
{
	const struct vigil_kvmi_read_phys_xfer *q = body;
	struct vigil_kvmi_read_phys_reply r = { 0 };

	if (len != sizeof(*q) || !q->size)
		return VIGIL_KVMI_EINVAL;
	if (!c->xfer || q->offset > c->xfer_size || q->size > c->xfer_size - q->offset)
		return VIGIL_KVMI_E2BIG;
	r.generation = atomic_load(&c->k->generation);
	if (vm_read_phys(c->k->vm, q->gpa, c->xfer + q->offset, q->size))
		return VIGIL_KVMI_EFAULT;
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int walk_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return vm_read_phys(opaque, gpa, buf, len);
}

static int handle_translate(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			    const void *body, size_t len)
{
	const struct vigil_kvmi_translate *q = body;
	struct vigil_kvmi_translate_reply r = { 0 };
	struct kvm_sregs sregs;
	unsigned levels = 0;
	int err;

	if (len != sizeof(*q) || !kvmi_zero(q->padding, sizeof(q->padding)))
		return VIGIL_KVMI_EINVAL;
	err = kvmi_parked_ioctl(c->k, q->vcpu, KVM_GET_SREGS, &sregs, VIGIL_KVMI_EIO);
	if (err)
		return err;
	if (kvmi_walk(&sregs, q->gva, walk_read, c->k->vm, &r.gpa, &levels) < 0)
		return VIGIL_KVMI_EFAULT;
	r.levels = levels;
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int check_entries(const struct vigil_kvmi_page_access *q, size_t len, bool get)
{
	const struct vigil_kvmi_page_entry *e = (const void *)(q + 1);
	uint32_t i;

	if (len < sizeof(*q) || q->padding)
		return VIGIL_KVMI_EINVAL;
	if (q->count > VIGIL_KVMI_MAX_PAGES)
		return VIGIL_KVMI_E2BIG;
	if (len != sizeof(*q) + (size_t)q->count * sizeof(*e))
		return VIGIL_KVMI_EINVAL;
	for (i = 0; i < q->count; i++) {
		if ((e[i].gpa & (VIGIL_KVMI_PAGE_SIZE - 1)) ||
		    !kvmi_zero(e[i].padding, sizeof(e[i].padding)))
			return VIGIL_KVMI_EINVAL;
		if (get ? e[i].access != 0 : (e[i].access & ~VIGIL_KVMI_PAGE_RWX))
			return VIGIL_KVMI_EINVAL;
	}
	return 0;
}

static int handle_set_access(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			     const void *body, size_t len)
{
	const struct vigil_kvmi_page_access *q = body;
	struct vigil_kvmi_page_access_reply r = { 0 };
	int err = check_entries(q, len, false);

	if (err)
		return err;
	err = kvmi_pages_set(c->k, (const void *)(q + 1), q->count);
	if (err)
		return kvmi_err_from_errno(err);
	r.count = q->count;
	r.slots_used = memslots_used(&c->k->vm->slots);
	return kvmi_reply(c, h, 0, &r, sizeof(r));
}

static int handle_get_access(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
			     const void *body, size_t len)
{
	const struct vigil_kvmi_page_access *q = body;
	struct vigil_kvmi_page_access_reply *r;
	struct vigil_kvmi_page_entry *e;
	size_t rlen;
	uint32_t i, flags;
	uint64_t hva;
	int err = check_entries(q, len, true);

	if (err)
		return err;
	rlen = sizeof(*r) + sizeof(*q) + q->count * sizeof(*e);
	r = calloc(1, rlen);
	if (!r)
		return VIGIL_KVMI_ENOMEM;
	memcpy((uint8_t *)r + sizeof(*r), body, len);
	e = (void *)((uint8_t *)r + sizeof(*r) + sizeof(*q));
	for (i = 0; i < q->count && !err; i++) {
		if (memslots_lookup(&c->k->vm->slots, e[i].gpa, &flags, &hva) < 0)
			err = VIGIL_KVMI_EFAULT;
		e[i].access = kvmi_pages_get(&c->k->pages, e[i].gpa);
	}
	r->count = q->count;
	r->slots_used = memslots_used(&c->k->vm->slots);
	if (!err)
		err = kvmi_reply(c, h, 0, r, rlen) < 0 ? VIGIL_KVMI_ENOMEM : 0;
	free(r);
	return err;
}

static int handle_memfd(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h, size_t len)
{
	struct {
		struct vigil_kvmi_memfd_reply r;
		struct vigil_kvmi_mem_region reg[2];
	} m;
	struct vm *vm = c->k->vm;
	uint64_t low;

	if (len)
		return VIGIL_KVMI_EINVAL;
	if (vm->ram.memfd < 0 || !vm->ram.size)
		return VIGIL_KVMI_ENOSYS;
	memset(&m, 0, sizeof(m));
	low = vm->ram.size < VM_MMIO_HOLE_START ? vm->ram.size : VM_MMIO_HOLE_START;
	m.reg[0].gpa = 0;
	m.reg[0].size = low;
	m.reg[0].offset = 0;
	m.r.nr_regions = 1;
	if (vm->ram.size > low) {
		m.reg[1].gpa = VM_MMIO_HOLE_END;
		m.reg[1].size = vm->ram.size - low;
		m.reg[1].offset = low;
		m.r.nr_regions = 2;
	}
	m.r.size = vm->ram.size;
	return kvmi_reply_fd(c, h, &m, sizeof(m.r) + m.r.nr_regions * sizeof(m.reg[0]),
			     vm->ram.memfd);
}

int kvmi_cmd_mem(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		 const void *body, size_t len)
{
	switch (h->msg_id) {
	case VIGIL_KVMI_READ_PHYSICAL:
		return handle_read(c, h, body, len);
	case VIGIL_KVMI_WRITE_PHYSICAL:
		return handle_write(c, h, body, len);
	case VIGIL_KVMI_TRANSLATE_GVA:
		return handle_translate(c, h, body, len);
	case VIGIL_KVMI_SET_PAGE_ACCESS:
		return handle_set_access(c, h, body, len);
	case VIGIL_KVMI_GET_PAGE_ACCESS:
		return handle_get_access(c, h, body, len);
	case VIGIL_KVMI_GET_MEMFD:
		return handle_memfd(c, h, len);
	case VIGIL_KVMI_SET_XFER:
		return handle_set_xfer(c, h, body, len);
	case VIGIL_KVMI_READ_PHYSICAL_XFER:
		return handle_read_xfer(c, h, body, len);
	default:
		return VIGIL_KVMI_ENOSYS;
	}
}

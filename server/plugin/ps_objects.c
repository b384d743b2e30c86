/*
 * Objects the plugin creates by id: ioeventfds, memory regions (its memfd
 * mapped into a guard-paged reservation and added to the memslot manager)
 * and irqfds with their resample eventfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ps.h"
#include "vm.h"

#define PAGE 4096ULL

static struct pobj *find(struct plugin *pl, uint32_t id)
{
	struct pobj *o;

	LIST_FOREACH(o, &pl->objs, link)
		if (o->id == id)
			return o;
	return NULL;
}

static int create_ioevent(struct plugin *pl, struct pobj *o, const MainRequest__Create__IoEvent *m)
{
	struct kvm_ioeventfd *k = &o->io.kio;
	uint32_t len = m->length;

	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (m->has_datamatch && len == 0)
		return -EINVAL;
	if (m->space != ADDRESS_SPACE__IOPORT && m->space != ADDRESS_SPACE__MMIO)
		return -EINVAL;
	if (m->space == ADDRESS_SPACE__IOPORT && m->address + len > 0x10000)
		return -EINVAL;
	o->io.evfd = eventfd(0, EFD_CLOEXEC);
	if (o->io.evfd < 0)
		return -errno;
	memset(k, 0, sizeof(*k));
	k->addr = m->address;
	k->len = len;
	k->fd = o->io.evfd;
	k->datamatch = m->datamatch;
	k->flags = (m->has_datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
		   (m->space == ADDRESS_SPACE__IOPORT ? KVM_IOEVENTFD_FLAG_PIO : 0);
	if (ioctl(pl->vm->fd, KVM_IOEVENTFD, k) < 0) {
		int err = -errno;

		close(o->io.evfd);
		return err;
	}
	return 0;
}

static int check_memfd(int fd, uint64_t need)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0)
		return errno == EINVAL ? -EINVAL : -errno;   /* not a memfd */
	if (!(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < need)
		return -EINVAL;
	return 0;
}

static int create_memory(struct plugin *pl, struct pobj *o, const MainRequest__Create__Memory *m,
			 int fd)
{
	uint32_t flags = (m->read_only ? MEMSLOT_READONLY : 0) | (m->dirty_log ? MEMSLOT_DIRTY_LOG : 0);
	uint8_t *res, *hva;
	int err;

	if (fd < 0)
		return -EBADF;
	if (!m->length || (m->offset | m->start | m->length) & (PAGE - 1) ||
	    m->offset + m->length < m->offset || m->start + m->length < m->start)
		return -EINVAL;
	err = check_memfd(fd, m->offset + m->length);
	if (err)
		return err;
	/* A guard page either side: two regions never share a KVM slot. */
	o->mem.reserve_len = m->length + 2 * PAGE;
	res = mmap(NULL, o->mem.reserve_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	hva = mmap(res + PAGE, m->length, PROT_READ | (m->read_only ? 0 : PROT_WRITE),
		   MAP_SHARED | MAP_FIXED, fd, (off_t)m->offset);
	if (hva == MAP_FAILED) {
		err = -errno;
		munmap(res, o->mem.reserve_len);
		return err;
	}
	err = memslots_add(&pl->vm->slots, m->start, m->length, (uint64_t)(uintptr_t)hva, flags);
	if (err < 0) {
		munmap(res, o->mem.reserve_len);
		return err;
	}
	o->mem.reserve = res;
	o->mem.region = err;
	o->mem.gpa = m->start;
	o->mem.length = m->length;
	o->mem.dirty_log = m->dirty_log;
	return 0;
}

static int create_irqevent(struct plugin *pl, struct pobj *o, const MainRequest__Create__IrqEvent *m)
{
	struct kvm_irqfd k = { .gsi = m->irq_id };
	int err;

	o->irq.evfd = eventfd(0, EFD_CLOEXEC);
	o->irq.resample_fd = eventfd(0, EFD_CLOEXEC);
	if (o->irq.evfd < 0 || o->irq.resample_fd < 0) {
		err = -errno;
		goto fail;
	}
	k.fd = (uint32_t)o->irq.evfd;
	if (m->resample) {
		k.flags = KVM_IRQFD_FLAG_RESAMPLE;
		k.resamplefd = (uint32_t)o->irq.resample_fd;
	}
	if (ioctl(pl->vm->fd, KVM_IRQFD, &k) < 0) {
		err = -errno;
		goto fail;
	}
	o->irq.gsi = m->irq_id;
	return 0;
fail:
	if (o->irq.evfd >= 0)
		close(o->irq.evfd);
	if (o->irq.resample_fd >= 0)
		close(o->irq.resample_fd);
	return err;
}

/* Fds vigild keeps for an object of @kind (counted against PS_FD_BUDGET). */
static unsigned obj_fds(enum pobj_kind kind)
{
	return kind == POBJ_IOEVENT ? 1 : kind == POBJ_IRQEVENT ? 2 : 0;
}

int ps_create(struct plugin *pl, MainRequest__Create *cr, int *fds, unsigned nfds,
	      int *out_fds, unsigned *nout)
{
	struct pobj *o;
	int err;

	*nout = 0;
	if (find(pl, cr->id))
		return -EEXIST;
	if (pl->fds_held + 2 > PS_FD_BUDGET &&
	    cr->constructor_case != MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY)
		return -EMFILE;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->id = cr->id;
	switch (cr->constructor_case) {
	case MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT:
		o->kind = POBJ_IOEVENT;
		err = create_ioevent(pl, o, cr->io_event);
		if (!err) {
			out_fds[0] = o->io.evfd;
			*nout = 1;
		}
		break;
	case MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY:
		o->kind = POBJ_MEMORY;
		err = create_memory(pl, o, cr->memory, nfds == 1 ? fds[0] : -1);
		if (nfds > 1)
			err = -EINVAL;
		break;
	case MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT:
		o->kind = POBJ_IRQEVENT;
		err = create_irqevent(pl, o, cr->irq_event);
		if (!err) {
			out_fds[0] = o->irq.evfd;
			out_fds[1] = o->irq.resample_fd;
			*nout = 2;
		}
		break;
	default:
		err = -EINVAL;
		break;
	}
	if (err) {
		free(o);
		return err;
	}
	pl->fds_held += obj_fds(o->kind);
	LIST_INSERT_HEAD(&pl->objs, o, link);
	return 0;
}

static void obj_release(struct plugin *pl, struct pobj *o)
{
	pl->fds_held -= obj_fds(o->kind);
	switch (o->kind) {
	case POBJ_IOEVENT:
		o->io.kio.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		ioctl(pl->vm->fd, KVM_IOEVENTFD, &o->io.kio);
		close(o->io.evfd);
		break;
	case POBJ_MEMORY:
		memslots_remove(&pl->vm->slots, (uint32_t)o->mem.region);
		munmap(o->mem.reserve, o->mem.reserve_len);
		break;
	case POBJ_IRQEVENT: {
		struct kvm_irqfd k = { .fd = (uint32_t)o->irq.evfd, .gsi = o->irq.gsi,
				       .flags = KVM_IRQFD_FLAG_DEASSIGN };

		ioctl(pl->vm->fd, KVM_IRQFD, &k);
		close(o->irq.evfd);
		close(o->irq.resample_fd);
		break;
	}
	}
}

int ps_destroy(struct plugin *pl, uint32_t id)
{
	struct pobj *o = find(pl, id);

	if (!o)
		return -ENOENT;
	LIST_REMOVE(o, link);
	obj_release(pl, o);
	free(o);
	return 0;
}

void ps_objects_free(struct plugin *pl)
{
	struct pobj *o;

	while ((o = LIST_FIRST(&pl->objs))) {
		LIST_REMOVE(o, link);
		obj_release(pl, o);
		free(o);
	}
}

/* OR the KVM dirty bitmap of one slot into @out (bit 0 = the region's first page). */
static int slot_log(struct plugin *pl, const struct memslot_range *r, uint64_t base, uint8_t *out)
{
	uint64_t pages = r->size / PAGE, first = (r->gpa - base) / PAGE;
	uint64_t *bm = calloc((pages + 63) / 64, sizeof(uint64_t));
	struct kvm_dirty_log dl = { .slot = (uint32_t)r->slot };

	if (!bm)
		return -ENOMEM;
	dl.dirty_bitmap = bm;
	if (ioctl(pl->vm->fd, KVM_GET_DIRTY_LOG, &dl) < 0) {
		int err = -errno;

		free(bm);
		return err;
	}
	for (uint64_t i = 0; i < pages; i++)
		if (bm[i / 64] & (1ULL << (i % 64)))
			out[(first + i) / 8] |= (uint8_t)(1u << ((first + i) % 8));
	free(bm);
	return 0;
}

struct dirty_ctx {
	struct plugin *pl;
	uint64_t base;
	uint8_t *out;
};

static int dirty_range_cb(const struct memslot_range *r, void *opaque)
{
	struct dirty_ctx *c = opaque;

	if (r->slot < 0 || !(r->flags & MEMSLOT_DIRTY_LOG))
		return 0;
	return slot_log(c->pl, r, c->base, c->out);
}

int ps_dirty_log(struct plugin *pl, uint32_t id, uint8_t **bitmap, size_t *len)
{
	struct pobj *o = find(pl, id);
	struct dirty_ctx ctx;
	uint8_t *out;
	int err = 0;

	if (!o || o->kind != POBJ_MEMORY)
		return -ENOENT;
	if (!o->mem.dirty_log)
		return -EINVAL;
	*len = ((o->mem.length / PAGE + 63) / 64) * 8;
	out = calloc(1, *len);
	if (!out)
		return -ENOMEM;
	ctx = (struct dirty_ctx){ pl, o->mem.gpa, out };
	err = memslots_for_each(&pl->vm->slots, (uint32_t)o->mem.region, dirty_range_cb, &ctx);
	if (err) {
		free(out);
		return err;
	}
	*bitmap = out;
	return 0;
}

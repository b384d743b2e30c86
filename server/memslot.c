/*
 * Memslot manager. Every change builds the new range list, normalises it
 * (merging neighbours), checks the slot budget and only then applies the diff
 * to KVM: slots that disappear are deleted first, new ones created after.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memslot.h"

#define PAGE_MASK_4K 0xfffULL
#define PROT_FLAGS (MEMSLOT_READONLY | MEMSLOT_ABSENT)

struct range_list {
	struct memslot_range *r;
	unsigned nr;
};

int memslots_init(struct memslots *ms, unsigned max_slots,
		  const struct memslot_ops *ops, void *opaque)
{
	int err;

	memset(ms, 0, sizeof(*ms));
	if (!max_slots)
		return -EINVAL;
	ms->slot_used = calloc(max_slots, 1);
	if (!ms->slot_used)
		return -ENOMEM;
	err = pthread_rwlock_init(&ms->lock, NULL);
	if (err) {
		free(ms->slot_used);
		return -err;
	}
	ms->max_slots = max_slots;
	ms->ops = ops;
	ms->opaque = opaque;
	return 0;
}

void memslots_fini(struct memslots *ms)
{
	if (!ms->slot_used)
		return;
	free(ms->ranges);
	free(ms->slot_used);
	pthread_rwlock_destroy(&ms->lock);
	memset(ms, 0, sizeof(*ms));
}

static bool mergeable(const struct memslot_range *a, const struct memslot_range *b)
{
	return a->region == b->region && a->flags == b->flags &&
	       a->gpa + a->size == b->gpa && a->hva + a->size == b->hva;
}

/* Merge neighbours in place. */
static void normalise(struct range_list *l)
{
	unsigned i, out = 0;

	for (i = 0; i < l->nr; i++) {
		if (out && mergeable(&l->r[out - 1], &l->r[i])) {
			l->r[out - 1].size += l->r[i].size;
			l->r[out - 1].slot = -1;
			continue;
		}
		l->r[out++] = l->r[i];
	}
	l->nr = out;
}

static bool same_range(const struct memslot_range *a, const struct memslot_range *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->hva == b->hva &&
	       a->flags == b->flags && a->region == b->region;
}

/* Index in @l (sorted by gpa, non-overlapping) of a mapped range identical
 * to @r, or -1. */
static int find_same(const struct range_list *l, const struct memslot_range *r)
{
	unsigned lo = 0, hi = l->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (l->r[mid].gpa < r->gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->nr && same_range(&l->r[lo], r) && l->r[lo].slot >= 0)
		return (int)lo;
	return -1;
}

static int alloc_slot(struct memslots *ms)
{
	unsigned i;

	for (i = 0; i < ms->max_slots; i++) {
		if (!ms->slot_used[i]) {
			ms->slot_used[i] = 1;
			ms->used_slots++;
			return (int)i;
		}
	}
	return -ENOSPC;
}

static void free_slot(struct memslots *ms, int slot)
{
	ms->slot_used[slot] = 0;
	ms->used_slots--;
}

static int kvm_set(struct memslots *ms, const struct memslot_range *r, bool create)
{
	if (!ms->ops)
		return 0;
	return ms->ops->set(ms->opaque, (uint32_t)r->slot, r->flags,
			    r->gpa, create ? r->size : 0, r->hva);
}

/*
 * Give each range of @nl the KVM slot of an identical current range, if any,
 * and count the current slots that must go and the new ones to create.
 */
static void carry_slots(struct memslots *ms, struct range_list *nl,
			unsigned *del, unsigned *add)
{
	struct range_list cur = { ms->ranges, ms->nr };
	unsigned i;
	int j;

	*del = *add = 0;
	for (i = 0; i < nl->nr; i++) {
		nl->r[i].slot = -1;
		if (nl->r[i].flags & MEMSLOT_ABSENT)
			continue;
		j = find_same(&cur, &nl->r[i]);
		if (j >= 0)
			nl->r[i].slot = cur.r[j].slot;
		else
			(*add)++;
	}
	for (i = 0; i < cur.nr; i++)
		if (cur.r[i].slot >= 0 && find_same(nl, &cur.r[i]) < 0)
			(*del)++;
}

/* Undo the first @n creations of this commit (ranges of @nl marked fresh). */
static void undo_creates(struct memslots *ms, struct range_list *nl, const bool *fresh)
{
	unsigned i;

	for (i = 0; i < nl->nr; i++) {
		if (!fresh[i] || nl->r[i].slot < 0)
			continue;
		kvm_set(ms, &nl->r[i], false);
		free_slot(ms, nl->r[i].slot);
		nl->r[i].slot = -1;
	}
}

/* Re-create the current ranges this commit deleted (marked gone). */
static void undo_deletes(struct memslots *ms, const bool *gone)
{
	unsigned i;

	for (i = 0; i < ms->nr; i++) {
		if (!gone[i])
			continue;
		ms->slot_used[ms->ranges[i].slot] = 1;
		ms->used_slots++;
		kvm_set(ms, &ms->ranges[i], true);
	}
}

/* Delete the current slots @nl does not keep; @gone marks them. */
static int delete_dropped(struct memslots *ms, struct range_list *nl, bool *gone)
{
	unsigned i;
	int err;

	for (i = 0; i < ms->nr; i++) {
		const struct memslot_range *r = &ms->ranges[i];

		if (r->slot < 0 || find_same(nl, r) >= 0)
			continue;
		err = kvm_set(ms, r, false);
		if (err)
			return err;
		free_slot(ms, r->slot);
		gone[i] = true;
	}
	return 0;
}

/* Create KVM slots for every mapped range of @nl that has none; @fresh marks them. */
static int create_missing(struct memslots *ms, struct range_list *nl, bool *fresh)
{
	unsigned i;
	int err;

	for (i = 0; i < nl->nr; i++) {
		struct memslot_range *r = &nl->r[i];

		if ((r->flags & MEMSLOT_ABSENT) || r->slot >= 0)
			continue;
		r->slot = alloc_slot(ms);
		if (r->slot < 0)
			return r->slot;
		err = kvm_set(ms, r, true);
		if (err) {
			free_slot(ms, r->slot);
			r->slot = -1;
			return err;
		}
		fresh[i] = true;
	}
	return 0;
}

/*
 * Replace the current list by @nl (owned by the caller on failure, taken on
 * success). Kept slots carry their ids over; the rest are deleted, then the
 * new ones are created. If KVM refuses a step, what this commit did is undone
 * so the manager and KVM still agree on the old layout.
 */
static int commit(struct memslots *ms, struct range_list *nl)
{
	unsigned del, add;
	bool *gone, *fresh;
	int err;

	carry_slots(ms, nl, &del, &add);
	if (ms->used_slots - del + add > ms->max_slots)
		return -ENOSPC;
	gone = calloc(ms->nr + nl->nr + 1, sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	fresh = gone + ms->nr;
	err = delete_dropped(ms, nl, gone);
	if (!err)
		err = create_missing(ms, nl, fresh);
	if (err) {
		undo_creates(ms, nl, fresh);
		undo_deletes(ms, gone);
		free(gone);
		return err;
	}
	free(gone);
	free(ms->ranges);
	ms->ranges = nl->r;
	ms->nr = ms->cap = nl->nr;
	return 0;
}

static int copy_list(struct memslots *ms, struct range_list *nl, unsigned extra)
{
	nl->r = calloc(ms->nr + extra + 1, sizeof(*nl->r));
	if (!nl->r)
		return -ENOMEM;
	if (ms->nr)
		memcpy(nl->r, ms->ranges, ms->nr * sizeof(*nl->r));
	nl->nr = ms->nr;
	return 0;
}

static bool aligned(uint64_t gpa, uint64_t size)
{
	return !(gpa & PAGE_MASK_4K) && !(size & PAGE_MASK_4K) && size &&
	       gpa + size > gpa;
}

int memslots_add(struct memslots *ms, uint64_t gpa, uint64_t size, uint64_t hva,
		 uint32_t flags)
{
	struct range_list nl;
	unsigned i, pos = 0;
	int err;

	if (!aligned(gpa, size) || (hva & PAGE_MASK_4K) || (flags & ~(PROT_FLAGS | MEMSLOT_DIRTY_LOG)))
		return -EINVAL;
	pthread_rwlock_wrlock(&ms->lock);
	for (i = 0; i < ms->nr; i++) {
		const struct memslot_range *r = &ms->ranges[i];

		if (r->gpa < gpa + size && gpa < r->gpa + r->size) {
			err = -EEXIST;
			goto out;
		}
		if (r->gpa < gpa)
			pos = i + 1;
	}
	err = copy_list(ms, &nl, 1);
	if (err)
		goto out;
	memmove(&nl.r[pos + 1], &nl.r[pos], (nl.nr - pos) * sizeof(*nl.r));
	nl.r[pos] = (struct memslot_range){ gpa, size, hva, flags, -1, ms->next_region };
	nl.nr++;
	err = commit(ms, &nl);
	if (err) {
		free(nl.r);
		goto out;
	}
	err = (int)ms->next_region++;
out:
	pthread_rwlock_unlock(&ms->lock);
	return err;
}

int memslots_remove(struct memslots *ms, uint32_t region)
{
	struct range_list nl;
	unsigned i, out = 0;
	int err;

	pthread_rwlock_wrlock(&ms->lock);
	err = copy_list(ms, &nl, 0);
	if (err)
		goto out;
	for (i = 0; i < nl.nr; i++)
		if (nl.r[i].region != region)
			nl.r[out++] = nl.r[i];
	if (out == nl.nr) {
		free(nl.r);
		err = -ENOENT;
		goto out;
	}
	nl.nr = out;
	err = commit(ms, &nl);
	if (err)
		free(nl.r);
out:
	pthread_rwlock_unlock(&ms->lock);
	return err;
}

static int req_cmp(const void *a, const void *b)
{
	const struct memslot_req *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sorted copy of @reqs, checked for alignment, flags and mutual overlap. */
static int sort_reqs(const struct memslot_req *reqs, unsigned n, struct memslot_req **out)
{
	struct memslot_req *r;
	unsigned i;

	for (i = 0; i < n; i++)
		if (!aligned(reqs[i].gpa, reqs[i].size) || (reqs[i].flags & ~PROT_FLAGS))
			return -EINVAL;
	r = malloc((n ? n : 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r, reqs, n * sizeof(*r));
	qsort(r, n, sizeof(*r), req_cmp);
	for (i = 1; i < n; i++) {
		if (r[i - 1].gpa + r[i - 1].size > r[i].gpa) {
			free(r);
			return -EINVAL;
		}
	}
	*out = r;
	return 0;
}

/* Is every request covered by registered ranges? One merged pass. */
static bool all_covered(const struct memslots *ms, const struct memslot_req *r, unsigned n)
{
	unsigned i, j = 0;

	for (i = 0; i < n; i++) {
		uint64_t next = r[i].gpa, end = r[i].gpa + r[i].size;

		while (j < ms->nr && ms->ranges[j].gpa + ms->ranges[j].size <= next)
			j++;
		while (next < end) {
			if (j >= ms->nr || ms->ranges[j].gpa > next)
				return false;
			next = ms->ranges[j].gpa + ms->ranges[j].size;
			if (next <= end)
				j++;
		}
	}
	return true;
}

static void emit(struct range_list *out, const struct memslot_range *src, uint64_t from,
		 uint64_t to, uint32_t prot)
{
	struct memslot_range *d = &out->r[out->nr++];

	*d = *src;
	d->gpa = from;
	d->size = to - from;
	d->hva = src->hva + (from - src->gpa);
	d->flags = (src->flags & ~PROT_FLAGS) | prot;
	d->slot = (from == src->gpa && to == src->gpa + src->size && d->flags == src->flags) ?
		  src->slot : -1;
}

/* Cut range @src by the sorted requests starting at *ri into @out. */
static void cut_range(const struct memslot_range *src, const struct memslot_req *r,
		      unsigned n, unsigned *ri, struct range_list *out)
{
	uint64_t cur = src->gpa, end = src->gpa + src->size;

	while (*ri < n && r[*ri].gpa + r[*ri].size <= cur)
		(*ri)++;
	while (cur < end) {
		const struct memslot_req *q = *ri < n ? &r[*ri] : NULL;
		uint64_t stop;

		if (!q || q->gpa >= end) {
			emit(out, src, cur, end, src->flags & PROT_FLAGS);
			return;
		}
		if (q->gpa > cur) {
			emit(out, src, cur, q->gpa, src->flags & PROT_FLAGS);
			cur = q->gpa;
		}
		stop = q->gpa + q->size < end ? q->gpa + q->size : end;
		emit(out, src, cur, stop, q->flags);
		cur = stop;
		if (q->gpa + q->size <= end)
			(*ri)++;
	}
}

int memslots_set_flags_batch(struct memslots *ms, const struct memslot_req *reqs, unsigned n)
{
	struct memslot_req *r = NULL;
	struct range_list nl;
	unsigned i, ri = 0;
	int err;

	err = sort_reqs(reqs, n, &r);
	if (err)
		return err;
	pthread_rwlock_wrlock(&ms->lock);
	if (!all_covered(ms, r, n)) {
		err = -ENOENT;
		goto out;
	}
	nl.r = calloc(ms->nr + 2 * (size_t)n + 1, sizeof(*nl.r));
	if (!nl.r) {
		err = -ENOMEM;
		goto out;
	}
	nl.nr = 0;
	for (i = 0; i < ms->nr; i++)
		cut_range(&ms->ranges[i], r, n, &ri, &nl);
	normalise(&nl);
	err = commit(ms, &nl);
	if (err)
		free(nl.r);
out:
	pthread_rwlock_unlock(&ms->lock);
	free(r);
	return err;
}

int memslots_set_flags(struct memslots *ms, uint64_t gpa, uint64_t size, uint32_t flags)
{
	struct memslot_req r = { gpa, size, flags };

	return memslots_set_flags_batch(ms, &r, 1);
}

int memslots_lookup(struct memslots *ms, uint64_t gpa, uint32_t *flags, uint64_t *hva)
{
	unsigned lo = 0, hi;
	int err = -ENOENT;

	pthread_rwlock_rdlock(&ms->lock);
	hi = ms->nr;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct memslot_range *r = &ms->ranges[mid];

		if (r->gpa + r->size <= gpa) {
			lo = mid + 1;
		} else if (r->gpa > gpa) {
			hi = mid;
		} else {
			if (flags)
				*flags = r->flags;
			if (hva)
				*hva = r->hva + (gpa - r->gpa);
			err = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&ms->lock);
	return err;
}

int memslots_for_each(struct memslots *ms, uint32_t region,
		      int (*fn)(const struct memslot_range *r, void *opaque), void *opaque)
{
	unsigned i;
	int r = 0;

	pthread_rwlock_rdlock(&ms->lock);
	for (i = 0; i < ms->nr && !r; i++)
		if (region == MEMSLOT_ALL_REGIONS || ms->ranges[i].region == region)
			r = fn(&ms->ranges[i], opaque);
	pthread_rwlock_unlock(&ms->lock);
	return r;
}

unsigned memslots_used(struct memslots *ms)
{
	unsigned n;

	pthread_rwlock_rdlock(&ms->lock);
	n = ms->used_slots;
	pthread_rwlock_unlock(&ms->lock);
	return n;
}

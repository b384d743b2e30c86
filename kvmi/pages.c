/*
 * Page access (r/w/x) enforced with memslots.
 *
 * A page without W lives in a read-only slot (writes exit as MMIO, RIP past
 * the store); a page without R or X is in no slot at all (every access exits
 * as MMIO, an instruction fetch fails emulation with RIP in the page). The
 * memslot manager merges neighbouring pages with equal flags into one slot.
 * A batch is applied in one pass: sort, merge with the current set, then one
 * memslots_set_flags_batch with a run per group of consecutive pages whose
 * flags change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvmi_int.h"
#include "log.h"

#define PAGE_SHIFT 12

int kvmi_pages_init(struct kvmi_pages *pg)
{
	memset(pg, 0, sizeof(*pg));
	return -pthread_rwlock_init(&pg->lock, NULL);
}

void kvmi_pages_fini(struct kvmi_pages *pg)
{
	free(pg->p);
	pthread_rwlock_destroy(&pg->lock);
}

static uint8_t lookup(const struct kvmi_page *p, size_t nr, uint64_t gfn)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid].gfn == gfn)
			return p[mid].access;
		if (p[mid].gfn < gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return VIGIL_KVMI_PAGE_RWX;
}

uint8_t kvmi_pages_get(struct kvmi_pages *pg, uint64_t gpa)
{
	uint8_t a;

	pthread_rwlock_rdlock(&pg->lock);
	a = pg->nr ? lookup(pg->p, pg->nr, gpa >> PAGE_SHIFT) : VIGIL_KVMI_PAGE_RWX;
	pthread_rwlock_unlock(&pg->lock);
	return a;
}

static uint32_t access_flags(uint8_t access)
{
	if ((access & (VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X)) !=
	    (VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X))
		return MEMSLOT_ABSENT;
	if (!(access & VIGIL_KVMI_PAGE_W))
		return MEMSLOT_READONLY;
	return 0;
}

struct change {
	uint64_t gfn;
	uint8_t old, new;
	uint32_t order;    /* position in the request: the last entry wins */
};

static int change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	if (x->gfn != y->gfn)
		return x->gfn < y->gfn ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* Apply flags (old or new) to the changed pages: runs of equal flags, all
 * in one memslot batch (one diff, one slot-budget check). */
static int apply_runs(struct kvmi *k, const struct change *c, size_t n, bool use_new)
{
	struct memslot_req *req = malloc((n ? n : 1) * sizeof(*req));
	size_t i = 0, j, nr = 0;
	int r;

	if (!req)
		return -ENOMEM;
	while (i < n) {
		uint32_t f = access_flags(use_new ? c[i].new : c[i].old);

		for (j = i + 1; j < n && c[j].gfn == c[j - 1].gfn + 1 &&
		     access_flags(use_new ? c[j].new : c[j].old) == f; j++)
			;
		req[nr++] = (struct memslot_req){ c[i].gfn << PAGE_SHIFT,
						  (j - i) << PAGE_SHIFT, f };
		i = j;
	}
	r = memslots_set_flags_batch(&k->vm->slots, req, (unsigned)nr);
	free(req);
	return r;
}

/* Merge the sorted, deduplicated changes into the restricted set. */
static int merge(struct kvmi_pages *pg, const struct change *c, size_t n)
{
	struct kvmi_page *out = malloc((pg->nr + n + 1) * sizeof(*out));
	size_t i = 0, j = 0, o = 0;

	if (!out)
		return -ENOMEM;
	while (i < pg->nr || j < n) {
		if (j == n || (i < pg->nr && pg->p[i].gfn < c[j].gfn)) {
			out[o++] = pg->p[i++];
			continue;
		}
		if (i < pg->nr && pg->p[i].gfn == c[j].gfn)
			i++;
		if (c[j].new != VIGIL_KVMI_PAGE_RWX)
			out[o++] = (struct kvmi_page){ .gfn = c[j].gfn, .access = c[j].new };
		j++;
	}
	pthread_rwlock_wrlock(&pg->lock);
	free(pg->p);
	pg->p = out;
	pg->nr = o;
	pthread_rwlock_unlock(&pg->lock);
	return 0;
}

/* Sort by gfn, keep the last entry per page, fill old; returns the count. */
static size_t build_changes(struct kvmi *k, struct change *c, const struct vigil_kvmi_page_entry *e,
			    size_t n)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++)
		c[i] = (struct change){ .gfn = e[i].gpa >> PAGE_SHIFT, .new = e[i].access,
					.order = (uint32_t)i };
	qsort(c, n, sizeof(*c), change_cmp);
	for (i = 0; i < n; i++) {
		if (i + 1 < n && c[i + 1].gfn == c[i].gfn)
			continue;  /* a later entry for the same page wins */
		c[m] = c[i];
		c[m].old = lookup(k->pages.p, k->pages.nr, c[m].gfn);
		m++;
	}
	return m;
}

/* Reactor: set access for @n pages, all or nothing. */
int kvmi_pages_set(struct kvmi *k, const struct vigil_kvmi_page_entry *e, size_t n)
{
	struct change *c;
	uint64_t hva;
	uint32_t flags;
	size_t i, m, f;
	int r;

	for (i = 0; i < n; i++)
		if (memslots_lookup(&k->vm->slots, e[i].gpa, &flags, &hva) < 0)
			return -EFAULT;
	c = malloc((n + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	m = build_changes(k, c, e, n);
	/* Only pages whose slot flags change need KVM work. */
	for (i = 0, f = 0; i < m; i++)
		if (access_flags(c[i].old) != access_flags(c[i].new))
			f++;
	r = merge(&k->pages, c, m);
	if (r == 0 && f) {
		struct change *d = malloc(f * sizeof(*d));
		size_t x = 0;

		if (!d) {
			r = -ENOMEM;
		} else {
			for (i = 0; i < m; i++)
				if (access_flags(c[i].old) != access_flags(c[i].new))
					d[x++] = c[i];
			r = kvmi_quiesce_begin(k);
			if (r == 0) {
				r = apply_runs(k, d, f, true);
				if (r < 0)
					(void)apply_runs(k, d, f, false);
				kvmi_quiesce_end(k);
			}
			free(d);
		}
		if (r < 0) {  /* undo the map change */
			for (i = 0; i < m; i++)
				c[i].new = c[i].old;
			(void)merge(&k->pages, c, m);
		}
	}
	if (r == 0)
		atomic_fetch_add(&k->generation, 1);
	free(c);
	return r;
}

/* Reactor, on detach: every page back to full access. */
void kvmi_pages_clear(struct kvmi *k)
{
	struct kvmi_pages *pg = &k->pages;
	struct vigil_kvmi_page_entry *e;
	size_t i, n = pg->nr;

	if (!n)
		return;
	e = calloc(n, sizeof(*e));
	if (!e) {
		log_err("kvmi: out of memory lifting page restrictions");
		return;
	}
	for (i = 0; i < n; i++) {
		e[i].gpa = pg->p[i].gfn << PAGE_SHIFT;
		e[i].access = VIGIL_KVMI_PAGE_RWX;
	}
	if (kvmi_pages_set(k, e, n) < 0)
		log_err("kvmi: cannot lift page restrictions");
	free(e);
}

/*
 * Memslot manager: the guest-physical map of RAM as KVM sees it.
 *
 * RAM is registered as regions (gpa, size, host address). Any page range can
 * then be given flags: MEMSLOT_READONLY (a KVM_MEM_READONLY slot: writes exit
 * as MMIO) or MEMSLOT_ABSENT (no slot: every access exits as MMIO, fetches fail).
 * The manager keeps a sorted list of ranges, splits ranges when flags change
 * inside them and merges neighbours whose flags and host addresses are
 * contiguous, so that one KVM slot covers each maximal run. Every change is
 * computed first and applied as a diff; if the result would need more slots
 * than the limit, the change is refused with -ENOSPC and nothing is touched.
 *
 * KVM is reached only through @ops, so the manager is testable on its own.
 * Thread safety: callers serialise changes (the reactor owns the manager);
 * lookups from vCPU threads take the internal read lock.
 */
#ifndef VIGIL_MEMSLOT_H
#define VIGIL_MEMSLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MEMSLOT_READONLY   (1u << 0)
#define MEMSLOT_ABSENT     (1u << 1)
#define MEMSLOT_DIRTY_LOG  (1u << 2)

struct memslot_ops {
	/* Create (size > 0) or delete (size == 0) KVM slot @slot. -errno on error. */
	int (*set)(void *opaque, uint32_t slot, uint32_t flags,
		   uint64_t gpa, uint64_t size, uint64_t hva);
};

struct memslot_range {
	uint64_t gpa;
	uint64_t size;
	uint64_t hva;
	uint32_t flags;
	int32_t slot;        /* KVM slot id, -1 when absent */
	uint32_t region;     /* id of the region this range belongs to */
};

struct memslots {
	pthread_rwlock_t lock;
	struct memslot_range *ranges;   /* sorted by gpa, non-overlapping */
	unsigned nr, cap;
	unsigned max_slots;             /* KVM_CAP_NR_MEMSLOTS or a test limit */
	unsigned used_slots;
	uint8_t *slot_used;             /* max_slots bytes */
	uint32_t next_region;
	const struct memslot_ops *ops;
	void *opaque;
};

int memslots_init(struct memslots *ms, unsigned max_slots,
		  const struct memslot_ops *ops, void *opaque);
void memslots_fini(struct memslots *ms);

/* Register RAM [gpa, gpa+size) backed at @hva. Page aligned, no overlap.
 * Returns the region id (>= 0) or -errno. */
int memslots_add(struct memslots *ms, uint64_t gpa, uint64_t size, uint64_t hva,
		 uint32_t flags);
/* Remove a whole region by id (as returned by memslots_add). */
int memslots_remove(struct memslots *ms, uint32_t region);
/* Set @flags on every registered page in [gpa, gpa+size): page aligned, the
 * whole range must be registered RAM. */
int memslots_set_flags(struct memslots *ms, uint64_t gpa, uint64_t size, uint32_t flags);
/* One entry of a batch: set @flags on [gpa, gpa+size). */
struct memslot_req {
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;
};
/* Apply many flag changes as ONE diff (one pass over the ranges, one
 * slot-budget check, one set of KVM calls). Entries may come in any order
 * but must not overlap each other. All or nothing: -EINVAL (alignment,
 * flags, overlap), -ENOENT (not RAM), -ENOSPC (slot budget). */
int memslots_set_flags_batch(struct memslots *ms, const struct memslot_req *reqs, unsigned n);
/* Flags and host address of the page holding @gpa. -ENOENT if not RAM. */
int memslots_lookup(struct memslots *ms, uint64_t gpa, uint32_t *flags, uint64_t *hva);
/* Call @fn for every range of @region (MEMSLOT_ALL_REGIONS: of all), in gpa
 * order, under the read lock: @fn must not change the manager. Stops at the
 * first non-zero return and returns it. */
#define MEMSLOT_ALL_REGIONS UINT32_MAX
int memslots_for_each(struct memslots *ms, uint32_t region,
		      int (*fn)(const struct memslot_range *r, void *opaque), void *opaque);
/* Number of KVM slots in use. */
unsigned memslots_used(struct memslots *ms);

#endif

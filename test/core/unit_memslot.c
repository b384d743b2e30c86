/*
 * Unit tests of the memslot manager (server/memslot.h).
 *
 * The manager reaches KVM only through memslot_ops, so most tests give it a
 * backend that records every call and simulates KVM's slot table the way
 * KVM_SET_USER_MEMORY_REGION enforces it (a slot id is created once, live
 * slots never overlap, deleting a missing slot fails). After each change the
 * tests check that the manager's view and the simulated KVM agree exactly.
 * One test drives a real KVM VM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memslot.h"

#define PG 0x1000ULL
#define SIM_SLOTS 256
#define REC_CALLS 512
#define BASE 0x100000ULL          /* gpa of the first test region */
#define HVA  0x7f0000000000ULL    /* fake host address of the first region */

struct rec_call {
	uint32_t slot, flags;
	uint64_t gpa, size, hva;
};

struct sim_slot {
	bool used;
	uint32_t flags;
	uint64_t gpa, size, hva;
};

struct rec {
	struct rec_call calls[REC_CALLS];
	unsigned nr;                 /* total calls (only REC_CALLS kept) */
	struct sim_slot slot[SIM_SLOTS];
	int fail_at;                 /* index of the call that fails, -1: none */
	int fail_err;
};

static int sim_create(struct rec *r, uint32_t slot, uint32_t flags,
		      uint64_t gpa, uint64_t size, uint64_t hva)
{
	unsigned i;

	if (slot >= SIM_SLOTS || (gpa | size | hva) & (PG - 1))
		return -EINVAL;
	if (r->slot[slot].used)
		return -EEXIST;
	for (i = 0; i < SIM_SLOTS; i++) {
		const struct sim_slot *s = &r->slot[i];

		if (s->used && s->gpa < gpa + size && gpa < s->gpa + s->size)
			return -EEXIST;
	}
	r->slot[slot] = (struct sim_slot){ true, flags, gpa, size, hva };
	return 0;
}

static int rec_set(void *opaque, uint32_t slot, uint32_t flags,
		   uint64_t gpa, uint64_t size, uint64_t hva)
{
	struct rec *r = opaque;
	unsigned idx = r->nr++;

	if (idx < REC_CALLS)
		r->calls[idx] = (struct rec_call){ slot, flags, gpa, size, hva };
	if (r->fail_at >= 0 && idx == (unsigned)r->fail_at)
		return r->fail_err;
	if (size)
		return sim_create(r, slot, flags, gpa, size, hva);
	if (slot >= SIM_SLOTS || !r->slot[slot].used)
		return -EINVAL;
	r->slot[slot].used = false;
	return 0;
}

static const struct memslot_ops rec_ops = { .set = rec_set };

static struct rec *rec;
static struct memslots ms;

static void setup_n(unsigned max_slots)
{
	rec = calloc(1, sizeof(*rec));
	cr_assert_not_null(rec);
	rec->fail_at = -1;
	cr_assert_eq(memslots_init(&ms, max_slots, &rec_ops, rec), 0);
}

static void setup(void)
{
	setup_n(64);
}

static void setup3(void)
{
	setup_n(3);
}

static void teardown(void)
{
	memslots_fini(&ms);
	free(rec);
}

static unsigned sim_live(void)
{
	unsigned i, n = 0;

	for (i = 0; i < SIM_SLOTS; i++)
		n += rec->slot[i].used;
	return n;
}

/* The simulated KVM slot covering @gpa, or NULL. */
static const struct sim_slot *sim_at(uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < SIM_SLOTS; i++) {
		const struct sim_slot *s = &rec->slot[i];

		if (s->used && gpa >= s->gpa && gpa < s->gpa + s->size)
			return s;
	}
	return NULL;
}

/*
 * The manager and the simulated KVM agree: every mapped range is exactly one
 * live KVM slot with its gpa, size, hva and flags; absent ranges have none;
 * nothing else is live; the slot count matches.
 */
static void check_consistent(void)
{
	unsigned i, mapped = 0;

	for (i = 0; i < ms.nr; i++) {
		const struct memslot_range *r = &ms.ranges[i];
		const struct sim_slot *s;

		if (i)
			cr_assert_leq(ms.ranges[i - 1].gpa + ms.ranges[i - 1].size, r->gpa,
				      "ranges %u and %u overlap or are unsorted", i - 1, i);
		if (r->flags & MEMSLOT_ABSENT) {
			cr_assert_eq(r->slot, -1, "absent range %u has slot %d", i, r->slot);
			cr_assert_null(sim_at(r->gpa), "KVM maps absent range at 0x%llx",
				       (unsigned long long)r->gpa);
			continue;
		}
		mapped++;
		cr_assert_geq(r->slot, 0, "mapped range %u (gpa 0x%llx) has no KVM slot", i,
			      (unsigned long long)r->gpa);
		cr_assert_lt(r->slot, SIM_SLOTS);
		s = &rec->slot[r->slot];
		cr_assert(s->used, "KVM slot %d of range %u is not live", r->slot, i);
		cr_assert_eq(s->gpa, r->gpa);
		cr_assert_eq(s->size, r->size);
		cr_assert_eq(s->hva, r->hva);
		cr_assert_eq(s->flags, r->flags);
	}
	cr_assert_eq(sim_live(), mapped, "KVM has %u slots, manager maps %u ranges",
		     sim_live(), mapped);
	cr_assert_eq(memslots_used(&ms), mapped);
}

static void expect_page(uint64_t gpa, uint32_t flags, uint64_t hva)
{
	uint32_t f = 0xdead;
	uint64_t h = 0;

	cr_assert_eq(memslots_lookup(&ms, gpa, &f, &h), 0, "lookup 0x%llx",
		     (unsigned long long)gpa);
	cr_assert_eq(f, flags, "gpa 0x%llx: flags %#x, expected %#x",
		     (unsigned long long)gpa, f, flags);
	cr_assert_eq(h, hva, "gpa 0x%llx: hva 0x%llx, expected 0x%llx",
		     (unsigned long long)gpa, (unsigned long long)h, (unsigned long long)hva);
}

static void expect_call(unsigned idx, bool create, uint64_t gpa, uint64_t size,
			uint64_t hva, uint32_t flags)
{
	const struct rec_call *c = &rec->calls[idx];

	cr_assert_lt(idx, rec->nr, "call %u was not made", idx);
	if (!create) {
		cr_assert_eq(c->size, 0, "call %u should delete", idx);
		cr_assert_eq(c->gpa, gpa, "call %u deletes gpa 0x%llx", idx,
			     (unsigned long long)c->gpa);
		return;
	}
	cr_assert_eq(c->gpa, gpa, "call %u: gpa 0x%llx", idx, (unsigned long long)c->gpa);
	cr_assert_eq(c->size, size, "call %u: size 0x%llx", idx, (unsigned long long)c->size);
	cr_assert_eq(c->hva, hva, "call %u: hva 0x%llx", idx, (unsigned long long)c->hva);
	cr_assert_eq(c->flags, flags, "call %u: flags %#x", idx, c->flags);
}

/* One region of 16 pages at BASE/HVA; returns its id. */
static int add16(void)
{
	int id = memslots_add(&ms, BASE, 16 * PG, HVA, 0);

	cr_assert_geq(id, 0, "memslots_add: %d", id);
	return id;
}

TestSuite(memslot, .init = setup, .fini = teardown, .timeout = 10);
TestSuite(memslot_limit, .init = setup3, .fini = teardown, .timeout = 10);

Test(memslot, add_creates_one_slot_and_lookup_gives_flags_and_hva_offset)
{
	add16();
	cr_assert_eq(rec->nr, 1);
	expect_call(0, true, BASE, 16 * PG, HVA, 0);
	expect_page(BASE, 0, HVA);
	expect_page(BASE + 3 * PG + 0x123, 0, HVA + 3 * PG + 0x123);
	expect_page(BASE + 16 * PG - 1, 0, HVA + 16 * PG - 1);
	cr_assert_eq(memslots_lookup(&ms, BASE - 1, NULL, NULL), -ENOENT);
	cr_assert_eq(memslots_lookup(&ms, BASE + 16 * PG, NULL, NULL), -ENOENT);
	cr_assert_eq(memslots_used(&ms), 1);
	check_consistent();
}

Test(memslot, add_with_readonly_flag_creates_readonly_slot)
{
	cr_assert_geq(memslots_add(&ms, BASE, 4 * PG, HVA, MEMSLOT_READONLY), 0);
	expect_call(0, true, BASE, 4 * PG, HVA, MEMSLOT_READONLY);
	expect_page(BASE + PG, MEMSLOT_READONLY, HVA + PG);
	check_consistent();
}

Test(memslot, add_returns_distinct_region_ids)
{
	int a = memslots_add(&ms, BASE, PG, HVA, 0);
	int b = memslots_add(&ms, BASE + 8 * PG, PG, HVA + 8 * PG, 0);

	cr_assert_geq(a, 0);
	cr_assert_geq(b, 0);
	cr_assert_neq(a, b);
}

Test(memslot, lookup_on_empty_manager_is_enoent)
{
	cr_assert_eq(memslots_lookup(&ms, 0, NULL, NULL), -ENOENT);
	cr_assert_eq(memslots_used(&ms), 0);
}

Test(memslot, add_overlapping_is_eexist_without_kvm_calls)
{
	static const struct { uint64_t gpa, size; } bad[] = {
		{ BASE, 16 * PG },                 /* identical */
		{ BASE - PG, 2 * PG },             /* overlaps the start */
		{ BASE + 15 * PG, 2 * PG },        /* overlaps the end */
		{ BASE + 4 * PG, PG },             /* inside */
		{ BASE - 4 * PG, 32 * PG },        /* contains it */
	};
	unsigned i;

	add16();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(memslots_add(&ms, bad[i].gpa, bad[i].size, 0x1000000, 0), -EEXIST,
			     "case %u", i);
	cr_assert_eq(rec->nr, 1, "a refused add reached KVM");
	check_consistent();
}

Test(memslot, add_touching_neighbour_is_allowed)
{
	add16();
	cr_assert_geq(memslots_add(&ms, BASE + 16 * PG, PG, 0x1000000, 0), 0);
	cr_assert_geq(memslots_add(&ms, BASE - PG, PG, 0x2000000, 0), 0);
	cr_assert_eq(memslots_used(&ms), 3);
	check_consistent();
}

Test(memslot, add_rejects_unaligned_empty_overflowing_and_unknown_flags)
{
	cr_expect_eq(memslots_add(&ms, BASE + 1, PG, HVA, 0), -EINVAL, "unaligned gpa");
	cr_expect_eq(memslots_add(&ms, BASE, PG + 1, HVA, 0), -EINVAL, "unaligned size");
	cr_expect_eq(memslots_add(&ms, BASE, PG, HVA + 8, 0), -EINVAL, "unaligned hva");
	cr_expect_eq(memslots_add(&ms, BASE, 0, HVA, 0), -EINVAL, "zero size");
	cr_expect_eq(memslots_add(&ms, UINT64_MAX - PG + 1, 2 * PG, HVA, 0), -EINVAL,
		     "gpa + size wraps");
	cr_expect_eq(memslots_add(&ms, BASE, PG, HVA, 1u << 3), -EINVAL, "unknown flag");
	cr_expect_eq(memslots_add(&ms, BASE, PG, HVA, 0x80000000u), -EINVAL, "unknown flag");
	cr_assert_eq(rec->nr, 0);
	cr_assert_eq(ms.nr, 0);
}

Test(memslot, init_with_zero_slots_is_einval)
{
	struct memslots m2;

	cr_assert_eq(memslots_init(&m2, 0, &rec_ops, rec), -EINVAL);
	memslots_fini(&m2);      /* must be safe after a failed init */
}

Test(memslot, set_flags_in_middle_splits_into_three_slots_delete_first)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(rec->nr, 5, "expected 1 add + 1 delete + 3 creates, got %u calls", rec->nr);
	/* KVM cannot resize a slot: the old one goes first, then the pieces. */
	expect_call(1, false, BASE, 0, 0, 0);
	expect_call(2, true, BASE, 4 * PG, HVA, 0);
	expect_call(3, true, BASE + 4 * PG, 4 * PG, HVA + 4 * PG, MEMSLOT_READONLY);
	expect_call(4, true, BASE + 8 * PG, 8 * PG, HVA + 8 * PG, 0);
	cr_assert_eq(memslots_used(&ms), 3);
	expect_page(BASE + 3 * PG, 0, HVA + 3 * PG);
	expect_page(BASE + 4 * PG, MEMSLOT_READONLY, HVA + 4 * PG);
	expect_page(BASE + 7 * PG + 0xfff, MEMSLOT_READONLY, HVA + 7 * PG + 0xfff);
	expect_page(BASE + 8 * PG, 0, HVA + 8 * PG);
	check_consistent();
}

Test(memslot, set_flags_at_region_start_splits_into_two)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	expect_page(BASE, MEMSLOT_READONLY, HVA);
	expect_page(BASE + PG, 0, HVA + PG);
	check_consistent();
}

Test(memslot, restoring_flags_merges_back_into_one_slot)
{
	unsigned before, seen = 0;

	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	before = rec->nr;
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, 0), 0);
	cr_assert_eq(rec->nr, before + 4, "expected 3 deletes + 1 create");
	/* The three pieces go (in any order), then the whole comes back. */
	for (unsigned i = before; i < before + 3; i++) {
		cr_assert_eq(rec->calls[i].size, 0, "call %u should delete", i);
		seen |= 1u << ((rec->calls[i].gpa - BASE) / (4 * PG));
	}
	cr_assert_eq(seen, 0x7, "deleted pieces: mask %#x", seen);
	expect_call(before + 3, true, BASE, 16 * PG, HVA, 0);
	cr_assert_eq(memslots_used(&ms), 1);
	cr_assert_eq(ms.nr, 1);
	check_consistent();
}

Test(memslot, protecting_adjacent_pages_one_by_one_gives_one_readonly_range)
{
	const struct sim_slot *s;

	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 5 * PG, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 3 * PG, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(ms.nr, 3, "expected rw | ro | rw, got %u ranges", ms.nr);
	cr_assert_eq(memslots_used(&ms), 3);
	s = sim_at(BASE + 4 * PG);
	cr_assert_not_null(s);
	cr_assert_eq(s->gpa, BASE + 3 * PG);
	cr_assert_eq(s->size, 3 * PG);
	cr_assert_eq(s->flags, MEMSLOT_READONLY);
	check_consistent();
}

Test(memslot, setting_unchanged_flags_makes_no_kvm_call)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, 0), 0);
	cr_assert_eq(rec->nr, 1);
	cr_assert_eq(memslots_set_flags(&ms, BASE, 2 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(rec->nr, 4, "re-protecting a read-only page touched KVM");
	check_consistent();
}

Test(memslot, absent_pages_use_no_slot_and_lookup_still_returns_hva)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 2 * PG, MEMSLOT_ABSENT), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	cr_assert_null(sim_at(BASE + 4 * PG));
	cr_assert_null(sim_at(BASE + 5 * PG));
	cr_assert_not_null(sim_at(BASE + 6 * PG));
	expect_page(BASE + 4 * PG + 8, MEMSLOT_ABSENT, HVA + 4 * PG + 8);
	check_consistent();
}

Test(memslot, whole_region_absent_uses_no_slot)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE, 16 * PG, MEMSLOT_ABSENT), 0);
	cr_assert_eq(memslots_used(&ms), 0);
	cr_assert_eq(sim_live(), 0);
	expect_page(BASE + 15 * PG, MEMSLOT_ABSENT, HVA + 15 * PG);
	cr_assert_eq(memslots_set_flags(&ms, BASE, 16 * PG, 0), 0);
	cr_assert_eq(memslots_used(&ms), 1);
	check_consistent();
}

Test(memslot, add_absent_region_uses_no_slot)
{
	cr_assert_geq(memslots_add(&ms, BASE, 4 * PG, HVA, MEMSLOT_ABSENT), 0);
	cr_assert_eq(rec->nr, 0);
	expect_page(BASE, MEMSLOT_ABSENT, HVA);
	check_consistent();
}

Test(memslot, dirty_log_flag_survives_splits)
{
	cr_assert_geq(memslots_add(&ms, BASE, 16 * PG, HVA, MEMSLOT_DIRTY_LOG), 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, PG, MEMSLOT_READONLY), 0);
	expect_page(BASE, MEMSLOT_DIRTY_LOG, HVA);
	expect_page(BASE + 4 * PG, MEMSLOT_DIRTY_LOG | MEMSLOT_READONLY, HVA + 4 * PG);
	cr_assert_eq(sim_at(BASE + 4 * PG)->flags, MEMSLOT_DIRTY_LOG | MEMSLOT_READONLY);
	check_consistent();
}

Test(memslot, set_flags_rejects_unaligned_empty_and_non_protection_flags)
{
	add16();
	cr_expect_eq(memslots_set_flags(&ms, BASE + 1, PG, MEMSLOT_READONLY), -EINVAL);
	cr_expect_eq(memslots_set_flags(&ms, BASE, PG - 1, MEMSLOT_READONLY), -EINVAL);
	cr_expect_eq(memslots_set_flags(&ms, BASE, 0, MEMSLOT_READONLY), -EINVAL);
	cr_expect_eq(memslots_set_flags(&ms, BASE, PG, MEMSLOT_DIRTY_LOG), -EINVAL);
	cr_expect_eq(memslots_set_flags(&ms, BASE, PG, 1u << 7), -EINVAL);
	cr_expect_eq(memslots_set_flags(&ms, UINT64_MAX - PG + 1, 2 * PG, 0), -EINVAL);
	cr_assert_eq(rec->nr, 1);
}

Test(memslot, set_flags_on_unregistered_or_partly_registered_range_is_enoent)
{
	add16();
	cr_assert_geq(memslots_add(&ms, BASE + 32 * PG, 16 * PG, HVA + 32 * PG, 0), 0);
	/* entirely outside */
	cr_expect_eq(memslots_set_flags(&ms, 0, PG, MEMSLOT_READONLY), -ENOENT);
	/* straddles the first region's start */
	cr_expect_eq(memslots_set_flags(&ms, BASE - PG, 2 * PG, MEMSLOT_READONLY), -ENOENT);
	/* straddles its end into the hole */
	cr_expect_eq(memslots_set_flags(&ms, BASE + 15 * PG, 2 * PG, MEMSLOT_READONLY), -ENOENT);
	/* covers both regions and the hole between them */
	cr_expect_eq(memslots_set_flags(&ms, BASE, 48 * PG, MEMSLOT_READONLY), -ENOENT);
	/* inside the hole */
	cr_expect_eq(memslots_set_flags(&ms, BASE + 20 * PG, PG, MEMSLOT_READONLY), -ENOENT);
	cr_assert_eq(rec->nr, 2, "a refused set_flags reached KVM");
	expect_page(BASE + 15 * PG, 0, HVA + 15 * PG);
	expect_page(BASE + 32 * PG, 0, HVA + 32 * PG);
	check_consistent();
}

Test(memslot, contiguous_regions_never_merge)
{
	/* Contiguous in gpa and in hva: still two regions, two slots. */
	cr_assert_geq(memslots_add(&ms, BASE, 8 * PG, HVA, 0), 0);
	cr_assert_geq(memslots_add(&ms, BASE + 8 * PG, 8 * PG, HVA + 8 * PG, 0), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	cr_assert_eq(memslots_set_flags(&ms, BASE, 16 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	cr_assert_eq(memslots_set_flags(&ms, BASE, 16 * PG, 0), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	cr_assert_eq(sim_at(BASE)->size, 8 * PG);
	cr_assert_eq(sim_at(BASE + 8 * PG)->size, 8 * PG);
	check_consistent();
}

Test(memslot, range_spanning_two_regions_can_be_protected)
{
	cr_assert_geq(memslots_add(&ms, BASE, 8 * PG, HVA, 0), 0);
	cr_assert_geq(memslots_add(&ms, BASE + 8 * PG, 8 * PG, 0x600000000000ULL, 0), 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 6 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 4);
	expect_page(BASE + 5 * PG, 0, HVA + 5 * PG);
	expect_page(BASE + 6 * PG, MEMSLOT_READONLY, HVA + 6 * PG);
	expect_page(BASE + 7 * PG, MEMSLOT_READONLY, HVA + 7 * PG);
	expect_page(BASE + 8 * PG, MEMSLOT_READONLY, 0x600000000000ULL);
	expect_page(BASE + 9 * PG, MEMSLOT_READONLY, 0x600000000000ULL + PG);
	expect_page(BASE + 10 * PG, 0, 0x600000000000ULL + 2 * PG);
	check_consistent();
}

Test(memslot, remove_region_deletes_its_slots_only)
{
	int a, b;
	unsigned before;

	a = add16();
	b = memslots_add(&ms, BASE + 32 * PG, 4 * PG, HVA + 32 * PG, 0);
	cr_assert_geq(b, 0);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 4);
	before = rec->nr;
	cr_assert_eq(memslots_remove(&ms, (uint32_t)a), 0);
	cr_assert_eq(rec->nr, before + 3);
	for (unsigned i = before; i < rec->nr; i++)
		cr_assert_eq(rec->calls[i].size, 0, "remove created a slot");
	cr_assert_eq(memslots_used(&ms), 1);
	cr_assert_eq(memslots_lookup(&ms, BASE + 4 * PG, NULL, NULL), -ENOENT);
	expect_page(BASE + 32 * PG, 0, HVA + 32 * PG);
	check_consistent();
	/* The freed range can be registered again. */
	cr_assert_geq(memslots_add(&ms, BASE, 16 * PG, HVA, 0), 0);
	check_consistent();
}

Test(memslot, remove_unknown_or_removed_region_is_enoent)
{
	int a = add16();

	cr_assert_eq(memslots_remove(&ms, (uint32_t)a + 1), -ENOENT);
	cr_assert_eq(memslots_remove(&ms, (uint32_t)a), 0);
	cr_assert_eq(memslots_remove(&ms, (uint32_t)a), -ENOENT);
	cr_assert_eq(memslots_used(&ms), 0);
	check_consistent();
}

Test(memslot, remove_absent_region_makes_no_kvm_call)
{
	int a = memslots_add(&ms, BASE, 4 * PG, HVA, MEMSLOT_ABSENT);

	cr_assert_geq(a, 0);
	cr_assert_eq(memslots_remove(&ms, (uint32_t)a), 0);
	cr_assert_eq(rec->nr, 0);
	cr_assert_eq(memslots_lookup(&ms, BASE, NULL, NULL), -ENOENT);
}

Test(memslot, backend_failure_of_add_is_propagated)
{
	rec->fail_at = 0;
	rec->fail_err = -ENOMEM;
	cr_assert_eq(memslots_add(&ms, BASE, 16 * PG, HVA, 0), -ENOMEM);
	cr_assert_eq(memslots_lookup(&ms, BASE, NULL, NULL), -ENOENT);
	cr_assert_eq(memslots_used(&ms), 0);
	check_consistent();
}

Test(memslot, backend_failure_of_delete_is_propagated_and_state_kept)
{
	add16();
	rec->fail_at = 1;           /* the delete of the whole-region slot */
	rec->fail_err = -EIO;
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, PG, MEMSLOT_READONLY), -EIO);
	expect_page(BASE + 4 * PG, 0, HVA + 4 * PG);
	check_consistent();
}

/*
 * CORE BUG (server/memslot.c, commit()/create_missing()): when the backend
 * fails after the first call of a change, nothing is rolled back. The slots
 * already deleted stay deleted while ms->ranges still lists the old ranges
 * (now with slot -1, i.e. guest RAM silently unmapped), and the slots already
 * created stay live in KVM and in slot_used but are in no range (leaked, and
 * they overlap what the manager believes is free). Every later change then
 * fails with -EEXIST from KVM. Expected: a failed change leaves KVM and the
 * manager exactly as before (or at least consistent), so a retry succeeds.
 */
Test(memslot, backend_failure_midway_leaves_manager_and_kvm_consistent)
{
	add16();
	rec->fail_at = 3;           /* delete ok, create A ok, create B fails */
	rec->fail_err = -ENOMEM;
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), -ENOMEM);
	check_consistent();
	rec->fail_at = -1;
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0,
		     "retry after a transient backend failure");
	check_consistent();
}

/*
 * Fail every backend call of a change in turn: the change reports the error,
 * the manager and KVM still agree, the old layout (ranges, flags, slot ids)
 * is intact, and the same change succeeds once KVM behaves again.
 */
static int region_a;

static void prep_one(void)
{
	region_a = add16();
}

static void prep_split(void)
{
	region_a = add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
}

static void prep_two(void)
{
	cr_assert_geq(memslots_add(&ms, BASE, 8 * PG, HVA, 0), 0);
	cr_assert_geq(memslots_add(&ms, BASE + 8 * PG, 8 * PG, 0x600000000000ULL, 0), 0);
}

static int op_split(void)
{
	return memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY);
}

static int op_merge(void)
{
	return memslots_set_flags(&ms, BASE, 16 * PG, 0);
}

static int op_absent(void)
{
	return memslots_set_flags(&ms, BASE + 6 * PG, 4 * PG, MEMSLOT_ABSENT);
}

static int op_span(void)
{
	return memslots_set_flags(&ms, BASE + 6 * PG, 4 * PG, MEMSLOT_READONLY);
}

static int op_remove(void)
{
	return memslots_remove(&ms, (uint32_t)region_a);
}

static int op_add(void)
{
	int r = memslots_add(&ms, BASE + 64 * PG, PG, HVA + 64 * PG, 0);

	return r < 0 ? r : 0;
}

static void fail_every_call(void (*prep)(void), int (*op)(void), const char *name)
{
	struct memslot_range snap[16];
	unsigned nr, k, calls;

	teardown();             /* each round starts from a fresh manager */
	for (k = 0;; k++) {
		setup();
		prep();
		nr = ms.nr;
		cr_assert_leq(nr, 16);
		memcpy(snap, ms.ranges, nr * sizeof(snap[0]));
		calls = rec->nr;
		rec->fail_at = (int)(calls + k);
		rec->fail_err = -EIO;
		if (op() == 0) {
			/* k is past the last call this change makes: done. */
			cr_assert_gt(k, 0, "%s made no KVM call", name);
			check_consistent();
			return;         /* the suite's fini frees this one */
		}
		check_consistent();
		cr_assert_eq(ms.nr, nr, "%s, call %u failed: range count changed", name, k);
		cr_assert_eq(memcmp(snap, ms.ranges, nr * sizeof(snap[0])), 0,
			     "%s, call %u failed: layout changed", name, k);
		rec->fail_at = -1;
		cr_assert_eq(op(), 0, "%s: retry after call %u failed", name, k);
		check_consistent();
		teardown();
	}
}

Test(memslot, failure_at_any_step_of_a_split_is_undone)
{
	fail_every_call(prep_one, op_split, "split");
}

Test(memslot, failure_at_any_step_of_a_merge_is_undone)
{
	fail_every_call(prep_split, op_merge, "merge");
}

Test(memslot, failure_at_any_step_of_an_absent_change_is_undone)
{
	fail_every_call(prep_split, op_absent, "absent");
}

Test(memslot, failure_at_any_step_of_a_two_region_change_is_undone)
{
	fail_every_call(prep_two, op_span, "span");
}

Test(memslot, failure_at_any_step_of_a_remove_is_undone)
{
	fail_every_call(prep_split, op_remove, "remove");
}

Test(memslot, failure_of_an_add_is_undone)
{
	fail_every_call(prep_split, op_add, "add");
}

Test(memslot_limit, exact_budget_is_allowed)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 3);
	check_consistent();
}

Test(memslot_limit, change_needing_a_fourth_slot_is_enospc_and_touches_nothing)
{
	struct memslot_range snap[8];
	unsigned nr, calls;

	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	nr = ms.nr;
	cr_assert_leq(nr, 8);
	memcpy(snap, ms.ranges, nr * sizeof(snap[0]));
	calls = rec->nr;

	cr_assert_eq(memslots_set_flags(&ms, BASE + 12 * PG, PG, MEMSLOT_READONLY), -ENOSPC);
	cr_assert_eq(memslots_add(&ms, BASE + 64 * PG, PG, HVA + 64 * PG, 0), -ENOSPC);
	cr_assert_eq(rec->nr, calls, "a refused change reached KVM");
	cr_assert_eq(ms.nr, nr);
	cr_assert_eq(memcmp(snap, ms.ranges, nr * sizeof(snap[0])), 0, "ranges changed");
	cr_assert_eq(memslots_used(&ms), 3);
	expect_page(BASE + 12 * PG, 0, HVA + 12 * PG);
	check_consistent();
}

Test(memslot_limit, changes_that_keep_or_lower_the_count_still_work_at_the_limit)
{
	add16();
	cr_assert_eq(memslots_set_flags(&ms, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	/* Grow the read-only run: still 3 slots. */
	cr_assert_eq(memslots_set_flags(&ms, BASE + 3 * PG, PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&ms), 3);
	/* Absent pages cost nothing: still within budget. */
	cr_assert_eq(memslots_set_flags(&ms, BASE + 3 * PG, 5 * PG, MEMSLOT_ABSENT), 0);
	cr_assert_eq(memslots_used(&ms), 2);
	cr_assert_eq(memslots_set_flags(&ms, BASE + 3 * PG, 5 * PG, 0), 0);
	cr_assert_eq(memslots_used(&ms), 1);
	check_consistent();
}

/*
 * Random changes against a per-page model: after every change each page's
 * flags and hva match the model, KVM and the manager agree, and the slot
 * count is exactly the number of maximal same-flag runs per region (so
 * splitting and merging are both complete). A fixed seed keeps it stable.
 */
#define MODEL_PAGES 48

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint64_t model_hva(unsigned p)
{
	return p < 24 ? HVA + p * PG : 0x600000000000ULL + (p - 24) * PG;
}

static unsigned model_runs(const uint32_t *flags)
{
	unsigned p, runs = 0;

	for (p = 0; p < MODEL_PAGES; p++) {
		if (flags[p] & MEMSLOT_ABSENT)
			continue;
		if (p == 0 || p == 24 || flags[p - 1] != flags[p])
			runs++;
	}
	return runs;
}

static void model_run(unsigned max_slots_seen, uint32_t seed, unsigned steps)
{
	static const uint32_t choices[] = { 0, MEMSLOT_READONLY, MEMSLOT_ABSENT,
					    MEMSLOT_READONLY | MEMSLOT_ABSENT };
	uint32_t model[MODEL_PAGES] = { 0 }, next[MODEL_PAGES];
	unsigned step, p, refused = 0;

	/* Two regions of 24 pages, contiguous in gpa, not in hva. */
	cr_assert_geq(memslots_add(&ms, BASE, 24 * PG, HVA, 0), 0);
	cr_assert_geq(memslots_add(&ms, BASE + 24 * PG, 24 * PG, 0x600000000000ULL, 0), 0);
	for (step = 0; step < steps; step++) {
		unsigned first = xorshift(&seed) % MODEL_PAGES;
		unsigned n = 1 + xorshift(&seed) % (MODEL_PAGES - first);
		uint32_t f = choices[xorshift(&seed) % 4];
		int err;

		memcpy(next, model, sizeof(next));
		for (p = first; p < first + n; p++)
			next[p] = f;
		err = memslots_set_flags(&ms, BASE + first * PG, n * PG, f);
		if (model_runs(next) > max_slots_seen) {
			cr_assert_eq(err, -ENOSPC, "step %u: %u slots needed, limit %u, got %d",
				     step, model_runs(next), max_slots_seen, err);
			refused++;
		} else {
			cr_assert_eq(err, 0, "step %u: set_flags(%u+%u, %#x) = %d", step, first, n,
				     f, err);
			memcpy(model, next, sizeof(model));
		}
		for (p = 0; p < MODEL_PAGES; p++)
			expect_page(BASE + p * PG, model[p], model_hva(p));
		cr_assert_eq(memslots_used(&ms), model_runs(model), "step %u", step);
		check_consistent();
	}
	if (max_slots_seen < 16)
		cr_assert_gt(refused, 0, "the limit was never exercised");
}

Test(memslot, random_changes_match_a_page_model)
{
	model_run(64, 0x1234567u, 1500);
}

Test(memslot_limit, random_changes_respect_the_slot_limit)
{
	model_run(3, 0x9e3779b9u, 1500);
}

/* Lookups from another thread (a vCPU's) never see a page vanish while the
 * reactor reshapes the slots around it. */
struct lookup_arg {
	volatile bool stop;
	unsigned bad, done;
};

static void *lookup_thread(void *p)
{
	struct lookup_arg *a = p;

	while (!a->stop) {
		uint32_t f;
		uint64_t h;

		if (memslots_lookup(&ms, BASE + 8 * PG + 0x10, &f, &h) || f != 0 ||
		    h != HVA + 8 * PG + 0x10)
			a->bad++;
		a->done++;
	}
	return NULL;
}

Test(memslot, concurrent_lookup_sees_stable_pages_during_changes)
{
	struct lookup_arg arg = { 0 };
	pthread_t t;
	unsigned i;

	add16();
	cr_assert_eq(pthread_create(&t, NULL, lookup_thread, &arg), 0);
	for (i = 0; i < 3000; i++) {
		uint32_t f = (i & 1) ? MEMSLOT_READONLY : MEMSLOT_ABSENT;

		cr_assert_eq(memslots_set_flags(&ms, BASE + (i % 8) * PG, PG, f), 0);
		cr_assert_eq(memslots_set_flags(&ms, BASE + (9 + i % 7) * PG, PG, f), 0);
	}
	arg.stop = true;
	pthread_join(t, NULL);
	cr_assert_eq(arg.bad, 0, "%u of %u lookups saw a wrong page", arg.bad, arg.done);
	check_consistent();
}

/* ---- against real KVM ---- */

struct kvm_backend {
	int vm_fd;
	unsigned calls;
};

static int kvm_backend_set(void *opaque, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, uint64_t hva)
{
	struct kvm_backend *kb = opaque;
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = (flags & MEMSLOT_READONLY) ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	kb->calls++;
	if (ioctl(kb->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

static const struct memslot_ops kvm_backend_ops = { .set = kvm_backend_set };

/* Does KVM have a slot covering @gpa? Probe by creating a one-page slot with
 * an id the manager does not use: KVM refuses overlaps with -EEXIST. */
static bool kvm_has_page(int vm_fd, uint64_t gpa, void *spare)
{
	struct kvm_userspace_memory_region r = {
		.slot = 200, .guest_phys_addr = gpa, .memory_size = PG,
		.userspace_addr = (uint64_t)(uintptr_t)spare,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0) {
		r.memory_size = 0;
		cr_assert_eq(ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r), 0);
		return false;
	}
	cr_assert_eq(errno, EEXIST, "probe at 0x%llx: %s", (unsigned long long)gpa,
		     strerror(errno));
	return true;
}

Test(memslot_kvm, split_merge_and_remove_on_real_kvm, .timeout = 10)
{
	struct kvm_backend kb = { .vm_fd = -1 };
	struct memslots m;
	uint8_t *buf, *spare;
	uint64_t hva;
	int kvm, id;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("needs /dev/kvm (%s)", strerror(errno));
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		cr_skip_test("needs KVM_CAP_READONLY_MEM");
	kb.vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(kb.vm_fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
	buf = mmap(NULL, 17 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	spare = buf + 16 * PG;
	hva = (uint64_t)(uintptr_t)buf;
	cr_assert_eq(memslots_init(&m, 8, &kvm_backend_ops, &kb), 0);

	id = memslots_add(&m, BASE, 16 * PG, hva, 0);
	cr_assert_geq(id, 0, "add: %s", strerror(-id));
	cr_assert(kvm_has_page(kb.vm_fd, BASE + 5 * PG, spare));
	cr_assert_eq(memslots_set_flags(&m, BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY), 0);
	cr_assert_eq(memslots_used(&m), 3);
	cr_assert_eq(memslots_set_flags(&m, BASE + 12 * PG, PG, MEMSLOT_ABSENT), 0);
	cr_assert_eq(memslots_used(&m), 4);
	cr_assert(kvm_has_page(kb.vm_fd, BASE + 5 * PG, spare));
	cr_assert(kvm_has_page(kb.vm_fd, BASE + 11 * PG, spare));
	cr_assert_not(kvm_has_page(kb.vm_fd, BASE + 12 * PG, spare), "absent page is mapped");
	cr_assert(kvm_has_page(kb.vm_fd, BASE + 13 * PG, spare));
	/* Merge everything back: one slot again. */
	cr_assert_eq(memslots_set_flags(&m, BASE, 16 * PG, 0), 0);
	cr_assert_eq(memslots_used(&m), 1);
	cr_assert(kvm_has_page(kb.vm_fd, BASE + 12 * PG, spare));
	cr_assert_eq(memslots_remove(&m, (uint32_t)id), 0);
	cr_assert_not(kvm_has_page(kb.vm_fd, BASE + 5 * PG, spare), "removed region still mapped");
	cr_assert_gt(kb.calls, 8);
	memslots_fini(&m);
	munmap(buf, 17 * PG);
	close(kb.vm_fd);
	close(kvm);
}

/* ---- batches: one diff for many changes ---- */

TestSuite(memslot_batch, .init = setup, .fini = teardown);

Test(memslot_batch, equals_the_same_changes_made_one_by_one)
{
	struct memslots seq;
	struct memslot_req req[40];
	unsigned n = 0, i;
	uint64_t page;

	cr_assert_geq(memslots_add(&ms, BASE, 256 * PG, HVA, 0), 0);
	cr_assert_eq(memslots_init(&seq, 64, NULL, NULL), 0);
	cr_assert_geq(memslots_add(&seq, BASE, 256 * PG, HVA, 0), 0);
	/* Unsorted, mixed sizes and flags, some touching each other. */
	for (page = 250; n < 40 && page >= 3; page -= 6) {
		uint32_t f = (page % 3 == 0) ? MEMSLOT_READONLY : (page % 3 == 1) ? MEMSLOT_ABSENT : 0;

		req[n++] = (struct memslot_req){ BASE + page * PG, (1 + page % 3) * PG, f };
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(memslots_set_flags(&seq, req[i].gpa, req[i].size, req[i].flags), 0);
	cr_assert_eq(memslots_set_flags_batch(&ms, req, n), 0);
	cr_assert_eq(ms.nr, seq.nr, "batch %u ranges, one by one %u", ms.nr, seq.nr);
	for (i = 0; i < ms.nr; i++) {
		cr_assert_eq(ms.ranges[i].gpa, seq.ranges[i].gpa);
		cr_assert_eq(ms.ranges[i].size, seq.ranges[i].size);
		cr_assert_eq(ms.ranges[i].flags, seq.ranges[i].flags);
	}
	check_consistent();
	memslots_fini(&seq);
}

Test(memslot_batch, overlapping_entries_are_refused_untouched)
{
	struct memslot_req req[2] = {
		{ BASE + 4 * PG, 4 * PG, MEMSLOT_READONLY },
		{ BASE + 7 * PG, 2 * PG, MEMSLOT_ABSENT },
	};
	unsigned calls;

	add16();
	calls = rec->nr;
	cr_assert_eq(memslots_set_flags_batch(&ms, req, 2), -EINVAL);
	cr_assert_eq(rec->nr, calls, "a refused batch reached KVM");
	expect_page(BASE + 4 * PG, 0, HVA + 4 * PG);
	check_consistent();
}

Test(memslot_batch, any_uncovered_entry_refuses_the_whole_batch)
{
	struct memslot_req req[2] = {
		{ BASE + 4 * PG, PG, MEMSLOT_READONLY },
		{ BASE + 64 * PG, PG, MEMSLOT_READONLY },   /* past the region */
	};
	unsigned calls;

	add16();
	calls = rec->nr;
	cr_assert_eq(memslots_set_flags_batch(&ms, req, 2), -ENOENT);
	cr_assert_eq(rec->nr, calls);
	expect_page(BASE + 4 * PG, 0, HVA + 4 * PG);
	check_consistent();
}

Test(memslot_batch, ten_thousand_scattered_pages_in_one_pass)
{
	struct memslots big;
	struct memslot_req *req = calloc(10000, sizeof(*req));
	unsigned i, mapped = 0;

	cr_assert_not_null(req);
	cr_assert_eq(memslots_init(&big, 32764, NULL, NULL), 0);
	cr_assert_geq(memslots_add(&big, 0, 20000 * PG, 0x7f0000000000ULL, 0), 0);
	for (i = 0; i < 10000; i++)   /* every other page read-only */
		req[i] = (struct memslot_req){ (uint64_t)(2 * i + 1) * PG, PG, MEMSLOT_READONLY };
	cr_assert_eq(memslots_set_flags_batch(&big, req, 10000), 0);
	cr_assert_eq(big.nr, 20000);
	for (i = 0; i < big.nr; i++)
		mapped += big.ranges[i].slot >= 0;
	cr_assert_eq(memslots_used(&big), mapped);
	cr_assert_eq(mapped, 20000);
	for (i = 0; i < 10000; i++)
		req[i].flags = 0;
	cr_assert_eq(memslots_set_flags_batch(&big, req, 10000), 0);
	cr_assert_eq(big.nr, 1, "lifting every restriction merges back to one range");
	cr_assert_eq(memslots_used(&big), 1);
	memslots_fini(&big);
	free(req);
}

/*
 * Unit tests of the long-mode memory builder (server/x86_setup.h): the 4 GiB
 * identity map (checked with x86_walk_4level), the GDT descriptors, one TSS
 * per vCPU with its RSP0 and I/O bitmap, the argument checks, and the walker
 * itself on hand-built tables (4 KiB, 2 MiB and 1 GiB pages, permissions).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <vigil/guest_abi.h>

#include "x86_setup.h"

#define PG 0x1000UL
#define FILL 0xa5
#define P  (1ULL << 0)
#define RW (1ULL << 1)
#define US (1ULL << 2)
#define PS (1ULL << 7)

static uint8_t *guard_base, *mem;
static uint64_t mem_size;

/* @size bytes of guest memory, an inaccessible page on each side. */
static void window(uint64_t size)
{
	guard_base = mmap(NULL, size + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(guard_base, MAP_FAILED);
	mem = guard_base + PG;
	cr_assert_eq(mprotect(mem, size, PROT_READ | PROT_WRITE), 0);
	memset(mem, FILL, size);
	mem_size = size;
}

static void unwindow(void)
{
	munmap(guard_base, mem_size + 2 * PG);
}

static void setup4(void)
{
	window(2UL << 20);
	cr_assert_eq(x86_setup_memory(mem, mem_size, 4), 0);
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, mem + gpa, sizeof(v));
	return v;
}

static void wr64(uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, sizeof(v));
}

TestSuite(pagetable, .init = setup4, .fini = unwindow, .timeout = 10);

static void expect_identity(uint64_t gva)
{
	uint64_t gpa = ~0ULL;
	bool user = false, writable = false;
	int r = x86_walk_4level(mem, mem_size, VIGIL_GUEST_PML4, gva, &gpa, &user, &writable);

	cr_assert_eq(r, 0, "walk 0x%llx: %d", (unsigned long long)gva, r);
	cr_assert_eq(gpa, gva, "0x%llx maps to 0x%llx", (unsigned long long)gva,
		     (unsigned long long)gpa);
	cr_assert(user, "0x%llx is not user-accessible", (unsigned long long)gva);
	cr_assert(writable, "0x%llx is not writable", (unsigned long long)gva);
}

Test(pagetable, first_4gib_is_identity_mapped_user_writable)
{
	static const uint64_t addrs[] = {
		0, 0xfff, 0x1000, VIGIL_GUEST_PML4, VIGIL_GUEST_LOAD_MIN, 0x1fffff, 0x200000,
		0x12345678, 0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0xc0000000,
		0xfee00000, 0xfffff000, 0xffffffff,
	};

	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		expect_identity(addrs[i]);
}

Test(pagetable, every_2mib_page_below_4gib_is_identity)
{
	for (uint64_t a = 0; a < VIGIL_GUEST_IDENTITY_MAP; a += 2UL << 20)
		expect_identity(a + ((a >> 21) & 0x1fffff & ~7UL));
}

Test(pagetable, addresses_from_4gib_up_are_not_mapped)
{
	static const uint64_t addrs[] = {
		0x100000000ULL, 0x100001000ULL, 0x13fffffffULL, 0x7fffffffffULL,
		1ULL << 39, 0x00007ffffffff000ULL, 0xffff800000000000ULL, 0xffffffff80000000ULL,
		0xfffffffffffff000ULL,
	};
	uint64_t gpa;

	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		cr_expect_eq(x86_walk_4level(mem, mem_size, VIGIL_GUEST_PML4, addrs[i], &gpa,
					     NULL, NULL), -EFAULT,
			     "0x%llx should not be mapped", (unsigned long long)addrs[i]);
}

/*
 * CORE BUG (server/x86_setup.c, x86_walk_4level): no canonical-address check.
 * A non-canonical address is never mapped (the CPU raises #GP before paging),
 * but bits 63:48 are not part of any table index: 0x0001000000000000 indexes
 * PML4[0] like address 0. The walker must refuse it rather than translate it.
 */
Test(pagetable, non_canonical_addresses_are_not_mapped)
{
	static const uint64_t addrs[] = {
		0x0001000000000000ULL, 0x0000800000000000ULL, 0x8000000000001000ULL,
		0xfffe000000000000ULL,
	};
	uint64_t gpa;

	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		cr_expect_eq(x86_walk_4level(mem, mem_size, VIGIL_GUEST_PML4, addrs[i], &gpa,
					     NULL, NULL), -EFAULT,
			     "non-canonical 0x%llx translated", (unsigned long long)addrs[i]);
}

Test(pagetable, cr3_flag_bits_are_ignored)
{
	uint64_t gpa;

	cr_assert_eq(x86_walk_4level(mem, mem_size, VIGIL_GUEST_PML4 | 0x18, 0x345000, &gpa,
				     NULL, NULL), 0);
	cr_assert_eq(gpa, 0x345000);
}

Test(pagetable, tables_outside_memory_are_efault)
{
	uint64_t gpa;

	/* The PDPT at 0x2000 lies outside a 0x2000-byte window. */
	cr_assert_eq(x86_walk_4level(mem, 0x2000, VIGIL_GUEST_PML4, 0x1000, &gpa, NULL, NULL),
		     -EFAULT);
	cr_assert_eq(x86_walk_4level(mem, mem_size, 1ULL << 40, 0x1000, &gpa, NULL, NULL),
		     -EFAULT);
}

/* ---- GDT ---- */

struct desc {
	uint64_t base;
	uint32_t limit;
	unsigned type, s, dpl, p, l, db, g;
};

static struct desc decode(uint16_t sel)
{
	uint64_t d = rd64(VIGIL_GUEST_GDT + sel);
	struct desc x = {
		.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
		.limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16)),
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.p = (d >> 47) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};

	if (!x.s)   /* 16-byte system descriptor: upper base in the next 8 bytes */
		x.base |= (rd64(VIGIL_GUEST_GDT + sel + 8) & 0xffffffff) << 32;
	return x;
}

Test(pagetable, null_descriptor_is_zero)
{
	cr_assert_eq(rd64(VIGIL_GUEST_GDT), 0);
}

Test(pagetable, kernel_code_is_64bit_ring0_code)
{
	struct desc d = decode(VIGIL_SEL_KCODE);

	cr_assert(d.p);
	cr_assert(d.s);
	cr_assert(d.type & 0x8, "not a code segment (type %#x)", d.type);
	cr_assert_eq(d.dpl, 0);
	cr_assert_eq(d.l, 1, "kernel code must have L=1");
	cr_assert_eq(d.db, 0, "L=1 requires D=0");
}

Test(pagetable, kernel_data_is_writable_ring0_data)
{
	struct desc d = decode(VIGIL_SEL_KDATA);

	cr_assert(d.p);
	cr_assert(d.s);
	cr_assert_eq(d.type & 0xa, 0x2, "not writable data (type %#x)", d.type);
	cr_assert_eq(d.dpl, 0);
}

Test(pagetable, user_code_is_64bit_ring3_code)
{
	struct desc d = decode(VIGIL_SEL_UCODE);

	cr_assert(d.p);
	cr_assert(d.s);
	cr_assert(d.type & 0x8);
	cr_assert_eq(d.dpl, 3, "user code DPL %u", d.dpl);
	cr_assert_eq(d.l, 1);
	cr_assert_eq(d.db, 0);
}

Test(pagetable, user_data_is_writable_ring3_data)
{
	struct desc d = decode(VIGIL_SEL_UDATA);

	cr_assert(d.p);
	cr_assert_eq(d.type & 0xa, 0x2);
	cr_assert_eq(d.dpl, 3);
}

Test(pagetable, sysret_layout_user_selectors_follow_ucode32)
{
	/* SYSRET to 64-bit: CS = STAR.base + 16, SS = STAR.base + 8. */
	struct desc c32 = decode(VIGIL_SEL_UCODE32);

	cr_assert_eq(VIGIL_SEL_UCODE32 + 8, VIGIL_SEL_UDATA);
	cr_assert_eq(VIGIL_SEL_UCODE32 + 16, VIGIL_SEL_UCODE);
	cr_assert(c32.p);
	cr_assert_eq(c32.dpl, 3);
	cr_assert_eq(c32.l, 0);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, mem + gpa, sizeof(v));
	return v;
}

Test(pagetable, each_vcpu_has_a_tss_with_its_own_boot_stack)
{
	for (unsigned id = 0; id < 4; id++) {
		struct desc d = decode((uint16_t)VIGIL_SEL_TSS(id));
		uint64_t want = VIGIL_GUEST_TSS + id * VIGIL_GUEST_TSS_SIZE;

		cr_assert(d.p, "TSS %u not present", id);
		cr_assert_eq(d.s, 0, "TSS %u is not a system descriptor", id);
		cr_assert_eq(d.type, 9, "TSS %u type %u, expected 9 (available 64-bit)", id, d.type);
		cr_assert_eq(d.base, want, "TSS %u base 0x%llx, expected 0x%llx", id,
			     (unsigned long long)d.base, (unsigned long long)want);
		cr_assert_geq(d.limit, 0x67, "TSS %u limit %#x too small", id, d.limit);
		cr_assert_lt(d.limit, VIGIL_GUEST_TSS_SIZE, "TSS %u overlaps the next one", id);
		cr_assert_eq(rd64(want + 4), VIGIL_GUEST_STACKS + (id + 1) * VIGIL_GUEST_STACK_SIZE,
			     "TSS %u RSP0", id);
	}
	/* Stacks and TSSs stay below where ELF segments may load. */
	cr_assert_leq(VIGIL_GUEST_STACKS + VIGIL_GUEST_MAX_VCPUS * VIGIL_GUEST_STACK_SIZE,
		      VIGIL_GUEST_LOAD_MIN);
	cr_assert_leq(VIGIL_GUEST_TSS + VIGIL_GUEST_MAX_VCPUS * VIGIL_GUEST_TSS_SIZE,
		      VIGIL_GUEST_STACKS);
}

/* The CPU's I/O permission check for a 1-byte access at CPL3 (IOPL 0). */
static bool port_allowed(uint64_t tss, uint32_t limit, unsigned port)
{
	uint64_t iopb = rd16(tss + 0x66);
	uint64_t at = iopb + port / 8;

	if (at + 1 > limit)
		return false;
	return !(rd16(tss + at) & (1u << (port % 8)));
}

Test(pagetable, tss_io_bitmap_opens_ports_below_0x400_to_user_mode)
{
	static const unsigned open_ports[] = {
		0, VIGIL_PORT_SERIAL, VIGIL_PORT_EXIT, VIGIL_PORT_UCALL, VIGIL_PORT_NOP, 0x3ff,
	};

	for (unsigned id = 0; id < 4; id++) {
		struct desc d = decode((uint16_t)VIGIL_SEL_TSS(id));

		for (unsigned i = 0; i < sizeof(open_ports) / sizeof(open_ports[0]); i++)
			cr_assert(port_allowed(d.base, d.limit, open_ports[i]),
				  "vCPU %u: port %#x closed", id, open_ports[i]);
		cr_assert_not(port_allowed(d.base, d.limit, 0x400), "vCPU %u: port 0x400 open", id);
		cr_assert_not(port_allowed(d.base, d.limit, 0xcf8), "vCPU %u: port 0xcf8 open", id);
		cr_assert_not(port_allowed(d.base, d.limit, 0xffff), "vCPU %u: port 0xffff open", id);
	}
}

Test(pagetable, unused_tss_slots_stay_empty)
{
	/* Only 4 vCPUs: the 5th TSS descriptor is not present. */
	cr_assert_eq(rd64(VIGIL_GUEST_GDT + VIGIL_SEL_TSS(4)), 0);
	cr_assert_eq(rd64(VIGIL_GUEST_GDT + VIGIL_SEL_TSS(4) + 8), 0);
}

Test(pagetable, idt_is_cleared)
{
	for (uint64_t a = VIGIL_GUEST_IDT; a < VIGIL_GUEST_IDT + 256 * 16; a += 8)
		cr_assert_eq(rd64(a), 0, "IDT byte 0x%llx not cleared",
			     (unsigned long long)(a - VIGIL_GUEST_IDT));
}

Test(pagetable, nothing_is_written_from_load_min_up)
{
	for (uint64_t a = VIGIL_GUEST_LOAD_MIN; a < mem_size; a++)
		cr_assert_eq(mem[a], FILL, "byte 0x%llx written", (unsigned long long)a);
}

/* ---- argument checks and bounds ---- */

TestSuite(pagetable_args, .timeout = 10);

Test(pagetable_args, zero_or_too_many_vcpus_is_einval)
{
	window(VIGIL_GUEST_LOAD_MIN);
	cr_assert_eq(x86_setup_memory(mem, mem_size, 0), -EINVAL);
	cr_assert_eq(x86_setup_memory(mem, mem_size, VIGIL_GUEST_MAX_VCPUS + 1), -EINVAL);
	cr_assert_eq(x86_setup_memory(mem, mem_size, 1000), -EINVAL);
	for (uint64_t a = 0; a < mem_size; a++)
		cr_assert_eq(mem[a], FILL, "refused call wrote byte 0x%llx", (unsigned long long)a);
	unwindow();
}

Test(pagetable_args, memory_below_load_min_is_e2big)
{
	window(VIGIL_GUEST_LOAD_MIN - PG);
	cr_assert_eq(x86_setup_memory(mem, mem_size, 1), -E2BIG);
	cr_assert_eq(x86_setup_memory(mem, 0, 1), -E2BIG);
	for (uint64_t a = 0; a < mem_size; a++)
		cr_assert_eq(mem[a], FILL, "refused call wrote byte 0x%llx", (unsigned long long)a);
	unwindow();
}

Test(pagetable_args, max_vcpus_fit_exactly_in_load_min)
{
	/* A guard page right at LOAD_MIN: any write past it crashes the test. */
	window(VIGIL_GUEST_LOAD_MIN);
	cr_assert_eq(x86_setup_memory(mem, mem_size, VIGIL_GUEST_MAX_VCPUS), 0);
	for (unsigned id = 0; id < VIGIL_GUEST_MAX_VCPUS; id++) {
		struct desc d = decode((uint16_t)VIGIL_SEL_TSS(id));

		cr_assert_eq(d.base, VIGIL_GUEST_TSS + id * VIGIL_GUEST_TSS_SIZE);
		cr_assert_eq(rd64(d.base + 4), VIGIL_GUEST_STACKS + (id + 1) * VIGIL_GUEST_STACK_SIZE);
	}
	/* The last TSS descriptor still lies inside the GDT page. */
	cr_assert_leq(VIGIL_SEL_TSS(VIGIL_GUEST_MAX_VCPUS), 0x1000);
	cr_assert_leq(VIGIL_GUEST_GDT + VIGIL_SEL_TSS(VIGIL_GUEST_MAX_VCPUS), VIGIL_GUEST_IDT);
	unwindow();
}

Test(pagetable_args, boot_stacks_are_zeroed)
{
	window(VIGIL_GUEST_LOAD_MIN);
	cr_assert_eq(x86_setup_memory(mem, mem_size, 2), 0);
	for (uint64_t a = VIGIL_GUEST_STACKS; a < VIGIL_GUEST_STACKS + 2 * VIGIL_GUEST_STACK_SIZE;
	     a += 8)
		cr_assert_eq(rd64(a), 0, "stack byte 0x%llx", (unsigned long long)a);
	unwindow();
}

/* ---- the walker on hand-built tables ---- */

TestSuite(walker, .timeout = 10);

/* PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000, in a 1 MiB window. */
static void hand_tables(void)
{
	window(1UL << 20);
	memset(mem, 0, mem_size);
	wr64(0x1000, 0x2000 | P | RW | US);
	wr64(0x2000, 0x3000 | P | RW | US);
	wr64(0x2000 + 8, 0x40000000 | P | RW | US | PS);   /* 1 GiB page at 1 GiB */
	wr64(0x3000 + 8 * 2, 0x4000 | P | RW | US);         /* 4 MiB..6 MiB via a PT */
	wr64(0x3000 + 8 * 3, 0x800000 | P | PS);            /* 2 MiB page, supervisor, RO */
	wr64(0x4000 + 8 * 3, 0x777000 | P | RW | US);       /* 4 MiB + 0x3000 -> 0x777000 */
	wr64(0x4000 + 8 * 4, 0x778000 | P);                 /* supervisor read-only */
	wr64(0x4000 + 8 * 5, 0x779000 | RW | US);           /* not present */
}

static int walk(uint64_t gva, uint64_t *gpa, bool *user, bool *writable)
{
	return x86_walk_4level(mem, mem_size, 0x1000, gva, gpa, user, writable);
}

Test(walker, translates_4kib_pages_with_offset, .init = hand_tables, .fini = unwindow)
{
	uint64_t gpa;
	bool u, w;

	cr_assert_eq(walk(0x403abc, &gpa, &u, &w), 0);
	cr_assert_eq(gpa, 0x777abc);
	cr_assert(u);
	cr_assert(w);
}

Test(walker, reports_supervisor_and_read_only_pages, .init = hand_tables, .fini = unwindow)
{
	uint64_t gpa;
	bool u = true, w = true;

	cr_assert_eq(walk(0x404010, &gpa, &u, &w), 0);
	cr_assert_eq(gpa, 0x778010);
	cr_assert_not(u);
	cr_assert_not(w);
	u = w = true;
	cr_assert_eq(walk(0x612345, &gpa, &u, &w), 0);
	cr_assert_eq(gpa, 0x812345);
	cr_assert_not(u);
	cr_assert_not(w);
}

Test(walker, translates_2mib_and_1gib_pages, .init = hand_tables, .fini = unwindow)
{
	uint64_t gpa;

	cr_assert_eq(walk(0x7fffff, &gpa, NULL, NULL), 0);
	cr_assert_eq(gpa, 0x9fffff);
	cr_assert_eq(walk(0x40000000 + 0x12345678, &gpa, NULL, NULL), 0);
	cr_assert_eq(gpa, 0x40000000 + 0x12345678);
}

Test(walker, not_present_entries_are_efault, .init = hand_tables, .fini = unwindow)
{
	uint64_t gpa;

	cr_assert_eq(walk(0x405000, &gpa, NULL, NULL), -EFAULT, "PTE not present");
	cr_assert_eq(walk(0x406000, &gpa, NULL, NULL), -EFAULT, "PTE zero");
	cr_assert_eq(walk(0x000000, &gpa, NULL, NULL), -EFAULT, "PDE zero");
	cr_assert_eq(walk(0x80000000, &gpa, NULL, NULL), -EFAULT, "PDPTE zero");
	cr_assert_eq(walk(1ULL << 39, &gpa, NULL, NULL), -EFAULT, "PML4E zero");
}

Test(walker, table_pointer_outside_memory_is_efault, .init = hand_tables, .fini = unwindow)
{
	uint64_t gpa;

	wr64(0x3000 + 8 * 4, 0xfffff000ULL | P | RW | US);  /* PT far outside 1 MiB */
	cr_assert_eq(walk(0x800000, &gpa, NULL, NULL), -EFAULT);
	/* A table whose last entry would straddle the end of memory. */
	wr64(0x3000 + 8 * 4, (mem_size - PG) | P | RW | US);
	wr64(mem_size - 8, 0x5000 | P);
	cr_assert_eq(walk(0x800000 + 511 * PG, &gpa, NULL, NULL), 0);
	cr_assert_eq(gpa, 0x5000);
}

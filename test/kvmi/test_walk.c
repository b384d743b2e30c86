/* Guest page-table walker: every paging mode on tables built in a buffer
 * (the test guests only run 4-level long mode). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kvmi_int.h"

#define MEM_SIZE (8u << 20)
static uint8_t mem[MEM_SIZE];

static int mem_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -EFAULT;
	memcpy(buf, mem + gpa, len);
	return 0;
}

static void put64(uint64_t gpa, uint64_t v) { memcpy(mem + gpa, &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(mem + gpa, &v, 4); }

static uint64_t walk(const struct kvm_sregs *s, uint64_t gva, unsigned *levels)
{
	uint64_t gpa = ~0ull;

	cr_assert_eq(kvmi_walk(s, gva, mem_read, NULL, &gpa, levels), 0, "gva 0x%llx",
		     (unsigned long long)gva);
	return gpa;
}

Test(kvmi_walk, paging_off_is_identity)
{
	struct kvm_sregs s = { .cr0 = 1 };
	unsigned lv;

	cr_assert_eq(walk(&s, 0x12345, &lv), 0x12345);
	cr_assert_eq(lv, 0);
}

Test(kvmi_walk, four_level_4k_2m_1g)
{
	struct kvm_sregs s = { .cr0 = 0x80000001, .cr4 = 1 << 5, .efer = 0x500, .cr3 = 0x1000 };
	uint64_t va = 0x7f1234567abcull;
	unsigned lv;

	memset(mem, 0, MEM_SIZE);
	put64(0x1000 + ((va >> 39) & 511) * 8, 0x2000 | 3);
	put64(0x2000 + ((va >> 30) & 511) * 8, 0x3000 | 3);
	put64(0x3000 + ((va >> 21) & 511) * 8, 0x4000 | 3);
	put64(0x4000 + ((va >> 12) & 511) * 8, 0x555000 | 3);
	cr_assert_eq(walk(&s, va, &lv), 0x555abc);
	cr_assert_eq(lv, 4);
	/* 2 MiB page */
	put64(0x3000 + ((va >> 21) & 511) * 8, 0x600000 | 0x83);
	cr_assert_eq(walk(&s, va, &lv), 0x600000 | (va & 0x1fffff));
	/* 1 GiB page */
	put64(0x2000 + ((va >> 30) & 511) * 8, 0x40000000 | 0x83);
	cr_assert_eq(walk(&s, va, &lv), 0x40000000 | (va & 0x3fffffff));
	/* not present */
	put64(0x1000 + ((va >> 39) & 511) * 8, 0);
	cr_assert_eq(kvmi_walk(&s, va, mem_read, NULL, &(uint64_t){ 0 }, &lv), -EFAULT);
}

Test(kvmi_walk, five_level)
{
	struct kvm_sregs s = { .cr0 = 0x80000001, .cr4 = (1 << 5) | (1 << 12), .efer = 0x500,
			       .cr3 = 0x1000 };
	uint64_t va = 0x00ab123456789abcull;
	unsigned lv;

	memset(mem, 0, MEM_SIZE);
	put64(0x1000 + ((va >> 48) & 511) * 8, 0x2000 | 3);
	put64(0x2000 + ((va >> 39) & 511) * 8, 0x3000 | 3);
	put64(0x3000 + ((va >> 30) & 511) * 8, 0x4000 | 3);
	put64(0x4000 + ((va >> 21) & 511) * 8, 0x5000 | 3);
	put64(0x5000 + ((va >> 12) & 511) * 8, 0x777000 | 3);
	cr_assert_eq(walk(&s, va, &lv), 0x777abc);
	cr_assert_eq(lv, 5);
}

Test(kvmi_walk, pae_4k_and_2m)
{
	struct kvm_sregs s = { .cr0 = 0x80000001, .cr4 = 1 << 5, .cr3 = 0x1000 };
	uint32_t va = 0xc0345abc;
	unsigned lv;

	memset(mem, 0, MEM_SIZE);
	put64(0x1000 + (va >> 30) * 8, 0x2000 | 1);
	put64(0x2000 + ((va >> 21) & 511) * 8, 0x3000 | 3);
	put64(0x3000 + ((va >> 12) & 511) * 8, 0x123000 | 3);
	cr_assert_eq(walk(&s, va, &lv), 0x123abc);
	cr_assert_eq(lv, 3);
	put64(0x2000 + ((va >> 21) & 511) * 8, 0x400000 | 0x83);
	cr_assert_eq(walk(&s, va, &lv), 0x400000 | (va & 0x1fffff));
}

Test(kvmi_walk, legacy_32bit_4k_and_4m)
{
	struct kvm_sregs s = { .cr0 = 0x80000001, .cr4 = 1 << 4, .cr3 = 0x1000 };
	uint32_t va = 0x80456abc;
	unsigned lv;

	memset(mem, 0, MEM_SIZE);
	put32(0x1000 + (va >> 22) * 4, 0x2000 | 3);
	put32(0x2000 + ((va >> 12) & 1023) * 4, 0x321000 | 3);
	cr_assert_eq(walk(&s, va, &lv), 0x321abc);
	cr_assert_eq(lv, 2);
	put32(0x1000 + (va >> 22) * 4, 0x400000 | 0x83);
	cr_assert_eq(walk(&s, va, &lv), 0x400000 | (va & 0x3fffff));
	/* Without CR4.PSE the PS bit is ignored: the entry points at a table. */
	s.cr4 = 0;
	put32(0x1000 + (va >> 22) * 4, 0x2000 | 0x83);
	cr_assert_eq(walk(&s, va, &lv), 0x321abc);
}

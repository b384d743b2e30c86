/*
 * Guest page-table walk for TRANSLATE_GVA and instruction fetches: 32-bit
 * (with PSE 4 MiB pages), PAE, 4-level and 5-level (LA57) paging, large
 * pages at every level that allows them. Accessed/dirty bits are not set:
 * this is an observer's walk, not the CPU's.
 */
#include <errno.h>
#include <stdint.h>

#include "kvmi_int.h"

#define CR0_PG   (1ull << 31)
#define CR4_PSE  (1ull << 4)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define PTE_P    1ull
#define PTE_PS   (1ull << 7)
#define ADDR_MASK 0x000ffffffffff000ull

static int walk_32(uint64_t cr3, uint64_t gva, kvmi_read_fn read, void *opaque,
		   bool pse, uint64_t *gpa)
{
	uint32_t pde, pte;
	uint32_t va = (uint32_t)gva;

	if (read(opaque, (cr3 & 0xfffff000u) + ((va >> 22) & 0x3ff) * 4, &pde, 4) < 0)
		return -EFAULT;
	if (!(pde & PTE_P))
		return -EFAULT;
	if (pse && (pde & PTE_PS)) {
		/* PSE-36: bits 13-20 of the PDE are physical bits 32-39. */
		*gpa = ((uint64_t)(pde & 0xffc00000u)) | ((uint64_t)((pde >> 13) & 0xff) << 32) |
		       (va & 0x3fffff);
		return 0;
	}
	if (read(opaque, (pde & 0xfffff000u) + ((va >> 12) & 0x3ff) * 4, &pte, 4) < 0)
		return -EFAULT;
	if (!(pte & PTE_P))
		return -EFAULT;
	*gpa = (pte & 0xfffff000u) | (va & 0xfff);
	return 0;
}

/* Generic walk for 64-bit entries: @levels tables below @root. */
static int walk_64(uint64_t root, uint64_t gva, unsigned levels, kvmi_read_fn read,
		   void *opaque, uint64_t *gpa)
{
	uint64_t table = root, e = 0;
	unsigned level, shift, idx;

	for (level = levels; level >= 1; level--) {
		shift = 12 + 9 * (level - 1);
		idx = (unsigned)((gva >> shift) & 0x1ff);
		if (levels == 3 && level == 3)
			idx = (unsigned)((gva >> 30) & 3);   /* PAE PDPT: 4 entries */
		if (read(opaque, table + idx * 8ull, &e, 8) < 0)
			return -EFAULT;
		if (!(e & PTE_P))
			return -EFAULT;
		if (level > 1 && level <= 3 && (e & PTE_PS) && !(levels == 3 && level == 3)) {
			uint64_t mask = (1ull << shift) - 1;

			*gpa = (e & ADDR_MASK & ~mask) | (gva & mask);
			return 0;
		}
		table = e & ADDR_MASK;
	}
	*gpa = table | (gva & 0xfff);
	return 0;
}

int kvmi_walk(const struct kvm_sregs *s, uint64_t gva, kvmi_read_fn read, void *opaque,
	      uint64_t *gpa, unsigned *levels)
{
	if (!(s->cr0 & CR0_PG)) {
		*gpa = gva;
		*levels = 0;
		return 0;
	}
	if (s->efer & EFER_LMA) {
		*levels = (s->cr4 & CR4_LA57) ? 5 : 4;
		return walk_64(s->cr3 & ADDR_MASK, gva, *levels, read, opaque, gpa);
	}
	if (s->cr4 & CR4_PAE) {
		*levels = 3;
		return walk_64(s->cr3 & 0xffffffe0u, gva & 0xffffffffu, 3, read, opaque, gpa);
	}
	*levels = 2;
	return walk_32(s->cr3, gva, read, opaque, (s->cr4 & CR4_PSE) != 0, gpa);
}

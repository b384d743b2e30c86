/* Page tables, descriptor tables and initial vCPU state for 64-bit guests. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <vigil/guest_abi.h>

#include "kvm_host.h"
#include "vcpu.h"
#include "x86_setup.h"

#define PTE_P    (1ULL << 0)
#define PTE_RW   (1ULL << 1)
#define PTE_US   (1ULL << 2)
#define PTE_PS   (1ULL << 7)
#define PTE_ADDR 0x000ffffffffff000ULL

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define TSS_IOPB_OFF 0x68
#define TSS_IOPB_BYTES 0x80   /* ports 0-0x3ff, all allowed to CPL3 */
/* The limit covers the bitmap and the all-ones byte that must follow it. */
#define TSS_LIMIT (TSS_IOPB_OFF + TSS_IOPB_BYTES)

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *mem, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, mem + gpa, sizeof(v));
	return v;
}

/* 4 GiB identity map: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages. */
static void build_page_tables(uint8_t *mem)
{
	const uint64_t flags = PTE_P | PTE_RW | PTE_US;
	uint64_t i;

	memset(mem + VIGIL_GUEST_PML4, 0, 0x6000);
	put64(mem, VIGIL_GUEST_PML4, VIGIL_GUEST_PDPT | flags);
	for (i = 0; i < 4; i++)
		put64(mem, VIGIL_GUEST_PDPT + i * 8, (VIGIL_GUEST_PD + i * 0x1000) | flags);
	for (i = 0; i < 4 * 512; i++)
		put64(mem, VIGIL_GUEST_PD + i * 8, (i << 21) | flags | PTE_PS);
}

static uint64_t tss_base(unsigned id)
{
	return VIGIL_GUEST_TSS + (uint64_t)id * VIGIL_GUEST_TSS_SIZE;
}

static uint64_t stack_top(unsigned id)
{
	return VIGIL_GUEST_STACKS + ((uint64_t)id + 1) * VIGIL_GUEST_STACK_SIZE;
}

static void build_gdt(uint8_t *mem, unsigned nr_vcpus)
{
	unsigned i;

	memset(mem + VIGIL_GUEST_GDT, 0, 0x1000);
	put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_KCODE, 0x00af9a000000ffffULL);
	put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_KDATA, 0x00cf92000000ffffULL);
	put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_UCODE32, 0x00cffa000000ffffULL);
	put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_UDATA, 0x00cff2000000ffffULL);
	put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_UCODE, 0x00affa000000ffffULL);
	for (i = 0; i < nr_vcpus; i++) {
		uint64_t b = tss_base(i), lo;

		/* 64-bit available TSS (type 9), present. */
		lo = TSS_LIMIT | ((b & 0xffffff) << 16) | (0x89ULL << 40) |
		     (((b >> 24) & 0xff) << 56);
		put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_TSS(i), lo);
		put64(mem, VIGIL_GUEST_GDT + VIGIL_SEL_TSS(i) + 8, b >> 32);
		memset(mem + b, 0, VIGIL_GUEST_TSS_SIZE);
		put64(mem, b + 4, stack_top(i));        /* RSP0 */
		/* I/O bitmap: user code may use ports 0-0x3ff (serial, ucall,
		 * exit, doorbells) without IOPL, which not every KVM honours. */
		mem[b + 0x66] = TSS_IOPB_OFF;
		mem[b + TSS_IOPB_OFF + TSS_IOPB_BYTES] = 0xff;
	}
}

int x86_setup_memory(uint8_t *mem, uint64_t mem_size, unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > VIGIL_GUEST_MAX_VCPUS)
		return -EINVAL;
	if (mem_size < VIGIL_GUEST_LOAD_MIN)
		return -E2BIG;
	build_page_tables(mem);
	build_gdt(mem, nr_vcpus);
	memset(mem + VIGIL_GUEST_IDT, 0, 0x1000);
	memset(mem + VIGIL_GUEST_STACKS, 0, (uint64_t)nr_vcpus * VIGIL_GUEST_STACK_SIZE);
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

void x86_sregs_long_mode(struct kvm_sregs *sr_out, unsigned id)
{
	struct kvm_sregs sr = *sr_out;

	seg(&sr.cs, VIGIL_SEL_KCODE, 11, true);
	seg(&sr.ds, VIGIL_SEL_KDATA, 3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = VIGIL_SEL_TSS(id);
	sr.tr.base = tss_base(id);
	sr.tr.limit = TSS_LIMIT;
	sr.tr.type = 11;  /* busy 64-bit TSS, as after LTR */
	sr.tr.present = 1;
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.type = 2;
	sr.ldt.unusable = 1;
	sr.gdt.base = VIGIL_GUEST_GDT;
	sr.gdt.limit = (uint16_t)(VIGIL_SEL_TSS(VIGIL_GUEST_MAX_VCPUS) - 1);
	sr.idt.base = VIGIL_GUEST_IDT;
	sr.idt.limit = 0xfff;
	sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sr.cr3 = VIGIL_GUEST_PML4;
	sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sr.efer = EFER_LME | EFER_LMA | EFER_NXE;
	*sr_out = sr;
}

void x86_regs_entry(struct kvm_regs *regs, unsigned id, unsigned nr_vcpus, uint64_t entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rflags = 0x2;
	/* As if called: RSP + 8 is 16-byte aligned at the first instruction. */
	regs->rsp = stack_top(id) - 8;
	regs->rdi = id;
	regs->rsi = nr_vcpus;
}

static int setup_sregs(struct vcpu *vcpu)
{
	struct kvm_sregs sr;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	x86_sregs_long_mode(&sr, vcpu->id);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	return 0;
}

static int setup_cpuid(struct vcpu *vcpu, const struct kvm_host *kvm)
{
	struct kvm_cpuid2 *cpuid;
	unsigned n = 256, i;
	int err = 0;

	cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = n;
	if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1)   /* initial APIC id */
			e->ebx = (e->ebx & 0x00ffffff) | (vcpu->id << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = vcpu->id;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		err = -errno;
out:
	free(cpuid);
	return err;
}

int x86_setup_vcpu(struct vcpu *vcpu, const struct kvm_host *kvm, uint64_t entry,
		   unsigned nr_vcpus)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_regs regs;
	int err;

	err = setup_cpuid(vcpu, kvm);
	if (err)
		return err;
	err = setup_sregs(vcpu);
	if (err)
		return err;
	x86_regs_entry(&regs, vcpu->id, nr_vcpus, entry);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	/* With the in-kernel LAPIC, application processors wait for a SIPI:
	 * every vCPU starts at the entry point instead. */
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}

static int walk_entry(const uint8_t *mem, uint64_t mem_size, uint64_t table, unsigned idx,
		      uint64_t *e)
{
	uint64_t at = (table & PTE_ADDR) + idx * 8ULL;

	if (at + 8 > mem_size)
		return -EFAULT;
	*e = get64(mem, at);
	return (*e & PTE_P) ? 0 : -EFAULT;
}

int x86_walk_4level(const uint8_t *mem, uint64_t mem_size, uint64_t cr3, uint64_t gva,
		    uint64_t *gpa, bool *user, bool *writable)
{
	uint64_t e = cr3, table;
	int level, err;
	bool us = true, rw = true;

	/* Bits 63:47 must all equal bit 47 with 4-level paging. */
	if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
		return -EFAULT;
	for (level = 3; level >= 0; level--) {
		unsigned idx = (gva >> (12 + 9 * level)) & 0x1ff;

		table = e;
		err = walk_entry(mem, mem_size, table, idx, &e);
		if (err)
			return err;
		us = us && (e & PTE_US);
		rw = rw && (e & PTE_RW);
		if ((level == 1 || level == 2) && (e & PTE_PS)) {
			uint64_t mask = (1ULL << (12 + 9 * level)) - 1;

			*gpa = (e & PTE_ADDR & ~mask) | (gva & mask);
			goto done;
		}
	}
	*gpa = (e & PTE_ADDR) | (gva & 0xfff);
done:
	if (user)
		*user = us;
	if (writable)
		*writable = rw;
	return 0;
}

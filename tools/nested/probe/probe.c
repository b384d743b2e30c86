// SPDX-License-Identifier: MIT
/*
 * nested-probe: which guest-debug features does this /dev/kvm deliver?
 *
 * For each feature and each privilege level (CPL0, CPL3) it creates a
 * fresh VM with one vCPU in 64-bit mode, arms KVM_SET_GUEST_DEBUG, runs a
 * few instructions and checks the first exit:
 *
 *   int3        KVM_GUESTDBG_USE_SW_BP: int3 gives KVM_EXIT_DEBUG, vector 3,
 *               pc at the int3.
 *   hw-exec     KVM_GUESTDBG_USE_HW_BP with DR0 on an instruction: vector 1,
 *               DR6.B0, pc at that instruction (before it runs).
 *   watch-write DR0 as a 4-byte write watchpoint: vector 1, DR6.B0, pc past
 *               the store.
 *   single-step KVM_GUESTDBG_SINGLESTEP: vector 1, DR6.BS, pc one
 *               instruction further.
 *
 * After each debug exit the probe disables guest debugging, resumes the
 * guest and expects it to reach its "done" port, proving the vCPU is still
 * usable. It prints one line per check and exits with the number of
 * failures, so it runs unchanged on any KVM (kvm_pvm, kvm_intel, kvm_amd,
 * nested kvm_amd under QEMU).
 *
 * Statically linkable, no dependencies beyond libc and the kernel headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE	0x400000ul	/* 4 MiB, identity-mapped with 2 MiB pages */
#define PML4_GPA	0x1000ul
#define PDPT_GPA	0x2000ul
#define PD_GPA		0x3000ul
#define GDT_GPA		0x4000ul
#define TSS_GPA		0x5000ul
#define CODE_GPA	0x10000ul
#define DATA_GPA	0x20000ul
#define STACK_TOP	0x30000ul

#define PORT_DONE	0x11

#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define PTE_PS		(1ull << 7)

#define DR6_B0		(1ull << 0)
#define DR6_BS		(1ull << 14)

/*
 * Guest code: position independent, copied to CODE_GPA. Each test starts
 * at its own label and ends with an out to PORT_DONE. The data word the
 * watchpoint test stores to is addressed absolutely (DATA_GPA).
 */
__asm__(
	".pushsection .rodata\n"
	".globl guest_code_start, guest_code_end\n"
	".globl g_int3, g_int3_at\n"
	".globl g_hw, g_hw_at\n"
	".globl g_watch, g_watch_after\n"
	".globl g_step, g_step_after\n"
	"guest_code_start:\n"
	"g_int3:\n"
	"	nop\n"
	"g_int3_at:\n"
	"	int3\n"
	"	mov $0x11, %dx\n"
	"	out %al, %dx\n"
	"g_hw:\n"
	"	nop\n"
	"	nop\n"
	"g_hw_at:\n"
	"	nop\n"
	"	mov $0x11, %dx\n"
	"	out %al, %dx\n"
	"g_watch:\n"
	"	mov $0x20000, %ebx\n"
	"	movl $0x5a5a5a5a, (%rbx)\n"
	"g_watch_after:\n"
	"	nop\n"
	"	mov $0x11, %dx\n"
	"	out %al, %dx\n"
	"g_step:\n"
	"	nop\n"
	"g_step_after:\n"
	"	nop\n"
	"	mov $0x11, %dx\n"
	"	out %al, %dx\n"
	"guest_code_end:\n"
	".popsection\n");

extern const uint8_t guest_code_start[], guest_code_end[];
extern const uint8_t g_int3[], g_int3_at[], g_hw[], g_hw_at[];
extern const uint8_t g_watch[], g_watch_after[], g_step[], g_step_after[];

#define GPA_OF(sym) (CODE_GPA + (uint64_t)((sym) - guest_code_start))

struct vm {
	int kvm, fd, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

struct check {
	const char *name;
	const uint8_t *entry;
	uint32_t control;	/* KVM_GUESTDBG_* besides ENABLE */
	uint64_t dr0, dr7;
	uint32_t want_vector;
	uint64_t want_dr6_bit;	/* 0: not checked */
	const uint8_t *want_pc;
	int pc_advance;		/* bytes to skip before resuming (int3) */
};

static void put_u64(uint8_t *mem, uint64_t gpa, uint64_t val)
{
	memcpy(mem + gpa, &val, sizeof(val));
}

static void build_memory(uint8_t *mem)
{
	/* Flat 64-bit code and data descriptors for CPL0 and CPL3, a TSS. */
	static const uint64_t gdt[] = {
		0,
		0x00af9b000000ffffull,	/* 0x08 kernel code, L=1 */
		0x00cf93000000ffffull,	/* 0x10 kernel data */
		0x00affb000000ffffull,	/* 0x18 user code, L=1 */
		0x00cff3000000ffffull,	/* 0x20 user data */
		0x00008b0000000067ull | ((TSS_GPA & 0xffffff) << 16),	/* 0x28 */
		0,
	};

	put_u64(mem, PML4_GPA, PDPT_GPA | PTE_P | PTE_RW | PTE_US);
	put_u64(mem, PDPT_GPA, PD_GPA | PTE_P | PTE_RW | PTE_US);
	for (uint64_t i = 0; i < MEM_SIZE / 0x200000; i++)
		put_u64(mem, PD_GPA + 8 * i,
			(i * 0x200000) | PTE_P | PTE_RW | PTE_US | PTE_PS);
	memcpy(mem + GDT_GPA, gdt, sizeof(gdt));
	memcpy(mem + CODE_GPA, guest_code_start,
	       (size_t)(guest_code_end - guest_code_start));
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    int cpl, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel | (uint16_t)cpl;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = (uint8_t)cpl;
	s->s = 1;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
	s->g = 1;
}

static int setup_vcpu(struct vm *vm, int cpl, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint16_t cs_sel = cpl ? 0x18 : 0x08, ds_sel = cpl ? 0x20 : 0x10;

	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	set_seg(&sregs.cs, cs_sel, 11, cpl, 1);
	set_seg(&sregs.ds, ds_sel, 3, cpl, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = 0x28;
	sregs.tr.base = TSS_GPA;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.cr0 = 0x80050033;	/* PG WP NE ET MP PE */
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;	/* PAE */
	sregs.efer = 0x500;	/* LMA LME */
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = STACK_TOP;
	regs.rflags = 0x2 | 0x3000;	/* IOPL 3 so CPL3 may use out */
	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void vm_close(struct vm *vm)
{
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	if (vm->mem && vm->mem != MAP_FAILED)
		munmap(vm->mem, MEM_SIZE);
	if (vm->vcpu >= 0)
		close(vm->vcpu);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
}

static int vm_open(struct vm *vm, int cpl, uint64_t rip)
{
	struct kvm_userspace_memory_region region = { 0 };
	int sz;

	memset(vm, 0, sizeof(*vm));
	vm->fd = vm->vcpu = -1;
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return -errno;
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		return -errno;
	build_memory(vm->mem);
	region.memory_size = MEM_SIZE;
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return -errno;
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		return -errno;
	sz = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < 0)
		return -errno;
	vm->run_size = (size_t)sz;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		return -errno;
	return setup_vcpu(vm, cpl, rip);
}

static int set_debug(struct vm *vm, uint32_t control, uint64_t dr0,
		     uint64_t dr7)
{
	struct kvm_guest_debug dbg;

	memset(&dbg, 0, sizeof(dbg));
	dbg.control = control;
	dbg.arch.debugreg[0] = dr0;
	dbg.arch.debugreg[7] = dr7;
	return ioctl(vm->vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -errno : 0;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	default: return "other";
	}
}

/* Runs until an exit other than a stray EINTR; returns 0 or -errno. */
static int run_once(struct vm *vm)
{
	int r;

	do
		r = ioctl(vm->vcpu, KVM_RUN, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* Disables debugging, skips @advance bytes, expects the done port. */
static int resume_to_done(struct vm *vm, int advance, char *why, size_t len)
{
	struct kvm_regs regs;
	int r;

	if (set_debug(vm, 0, 0, 0) < 0) {
		snprintf(why, len, "KVM_SET_GUEST_DEBUG(0): %s", strerror(errno));
		return -1;
	}
	if (advance) {
		if (ioctl(vm->vcpu, KVM_GET_REGS, &regs) < 0)
			return -1;
		regs.rip += (uint64_t)advance;
		if (ioctl(vm->vcpu, KVM_SET_REGS, &regs) < 0)
			return -1;
	}
	r = run_once(vm);
	if (r < 0) {
		snprintf(why, len, "resume: KVM_RUN: %s", strerror(-r));
		return -1;
	}
	if (vm->run->exit_reason != KVM_EXIT_IO ||
	    vm->run->io.port != PORT_DONE) {
		snprintf(why, len, "resume: exit %s (%u), not the done port",
			 exit_name(vm->run->exit_reason), vm->run->exit_reason);
		return -1;
	}
	return 0;
}

static int check_debug_exit(const struct check *c, const struct kvm_run *run,
			    char *why, size_t len)
{
	const struct kvm_debug_exit_arch *d = &run->debug.arch;
	uint64_t want_pc = GPA_OF(c->want_pc);

	if (run->exit_reason != KVM_EXIT_DEBUG) {
		snprintf(why, len, "exit %s (%u) instead of DEBUG",
			 exit_name(run->exit_reason), run->exit_reason);
		return -1;
	}
	if (d->exception != c->want_vector || d->pc != want_pc ||
	    (c->want_dr6_bit && !(d->dr6 & c->want_dr6_bit))) {
		snprintf(why, len,
			 "DEBUG vector %u pc %#llx dr6 %#llx, wanted vector %u pc %#llx dr6 bit %#llx",
			 d->exception, (unsigned long long)d->pc,
			 (unsigned long long)d->dr6, c->want_vector,
			 (unsigned long long)want_pc,
			 (unsigned long long)c->want_dr6_bit);
		return -1;
	}
	snprintf(why, len, "DEBUG vector %u pc %#llx dr6 %#llx", d->exception,
		 (unsigned long long)d->pc, (unsigned long long)d->dr6);
	return 0;
}

static int run_check(const struct check *c, int cpl)
{
	char why[256] = "";
	struct vm vm;
	int r, ok = 0;

	r = vm_open(&vm, cpl, GPA_OF(c->entry));
	if (r < 0) {
		snprintf(why, sizeof(why), "VM setup: %s", strerror(-r));
		goto out;
	}
	r = set_debug(&vm, KVM_GUESTDBG_ENABLE | c->control, c->dr0, c->dr7);
	if (r < 0) {
		snprintf(why, sizeof(why), "KVM_SET_GUEST_DEBUG: %s",
			 strerror(-r));
		goto out;
	}
	r = run_once(&vm);
	if (r < 0) {
		snprintf(why, sizeof(why), "KVM_RUN: %s", strerror(-r));
		goto out;
	}
	if (check_debug_exit(c, vm.run, why, sizeof(why)) < 0)
		goto out;
	if (resume_to_done(&vm, c->pc_advance, why + strlen(why),
			   sizeof(why) - strlen(why)) < 0)
		goto out;
	ok = 1;
out:
	printf("probe: cpl%d %-12s %s: %s\n", cpl, c->name,
	       ok ? "PASS" : "FAIL", why);
	vm_close(&vm);
	return ok ? 0 : 1;
}

int main(void)
{
	const struct check checks[] = {
		{ "int3", g_int3, KVM_GUESTDBG_USE_SW_BP, 0, 0,
		  3, 0, g_int3_at, 1 },
		{ "hw-exec", g_hw, KVM_GUESTDBG_USE_HW_BP, GPA_OF(g_hw_at),
		  0x401 /* L0, exec, len 1 */, 1, DR6_B0, g_hw_at, 0 },
		{ "watch-write", g_watch, KVM_GUESTDBG_USE_HW_BP, DATA_GPA,
		  0xd0401 /* L0, RW=01 write, LEN=11 4 bytes */, 1, DR6_B0,
		  g_watch_after, 0 },
		{ "single-step", g_step, KVM_GUESTDBG_SINGLESTEP, 0, 0,
		  1, DR6_BS, g_step_after, 0 },
	};
	int failures = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int cpl = 0; cpl <= 3; cpl += 3)
		for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
			failures += run_check(&checks[i], cpl);
	printf("probe: %d passed, %d failed\n", 8 - failures, failures);
	return failures;
}

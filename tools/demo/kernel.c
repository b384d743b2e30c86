/*
 * The demo guest's kernel: a toy operating system small enough to run under
 * instruction-by-instruction inspection. It builds one address space per
 * process, sets up system calls (EFER.SCE, STAR, LSTAR, CSTAR, SFMASK: the
 * MSR writes a tracer sees), waits briefly for a vigil tool (docs/cli.md,
 * "hello"), then runs four user processes round robin; every switch is a CR3
 * write. The fourth is a "rootkit" that patches the system-call table through
 * an unchecked debug system call and then runs code from a data page. At the
 * end the kernel checks its table and prints what it observed.
 *
 * Kernel code runs emulated on some hosts (~1 us per instruction, much more
 * while a tracer single-steps it): it is kept short, heavy work is at CPL3.
 */
#include "kernel.h"

#include <vigil/kvmi.h>

#define MSR_EFER    0xc0000080u
#define MSR_STAR    0xc0000081u
#define MSR_LSTAR   0xc0000082u
#define MSR_CSTAR   0xc0000083u
#define MSR_SFMASK  0xc0000084u
#define EFER_SCE    1ull
#define PTE_USER    0x7ull     /* present, writable, user */
#define HELLO_TRIES 150000u    /* a few seconds of doorbells without a tool */

enum proc_state { PROC_FREE, PROC_RUNNABLE, PROC_DEAD };

struct proc {
	const char *name;
	void (*entry)(uint64_t pid);
	enum proc_state state;
	uint64_t cr3;
	struct guest_ex_regs regs;   /* saved while it does not run */
};

static struct proc procs[DEMO_NR_PROCS] = {
	{ .name = "primes", .entry = prog_primes },
	{ .name = "hasher", .entry = prog_hasher },
	{ .name = "sorter", .entry = prog_sorter },
	{ .name = "rootkit", .entry = prog_rootkit },
};

static uint8_t kstack[16384] __attribute__((aligned(16)));
static uint64_t demo_kstack_top;
static unsigned current;
static uint64_t boot_cr3;
static bool payload_blocked, payload_ran;
static uint64_t blocked_addr;

static uint64_t *const sct = (uint64_t *)DEMO_SCT_GPA;

static uint64_t sys_write(struct guest_ex_regs *f);
static uint64_t sys_yield(struct guest_ex_regs *f);
static uint64_t sys_exit(struct guest_ex_regs *f);
static uint64_t sys_getpid(struct guest_ex_regs *f);
static uint64_t sys_poke(struct guest_ex_regs *f);

static const syscall_fn syscall_defaults[DEMO_NR_SYSCALLS] = {
	[SYS_WRITE] = sys_write, [SYS_YIELD] = sys_yield, [SYS_EXIT] = sys_exit,
	[SYS_GETPID] = sys_getpid, [SYS_POKE] = sys_poke,
};

/* ---- address spaces ---- */

/* PML4 slot 0 is the shared identity map vigild built; slot 1 is private. */
static void build_address_space(unsigned pid)
{
	uint64_t base = DEMO_CR3(pid);
	uint64_t *pml4 = (uint64_t *)base, *pdpt = (uint64_t *)(base + 0x1000);
	uint64_t *pd = (uint64_t *)(base + 0x2000), *pt = (uint64_t *)(base + 0x3000);
	unsigned i;

	pml4[0] = *(uint64_t *)VIGIL_GUEST_PML4;
	pml4[1] = (base + 0x1000) | PTE_USER;
	pdpt[0] = (base + 0x2000) | PTE_USER;
	pd[0] = (base + 0x3000) | PTE_USER;
	for (i = 0; i < DEMO_USER_PAGES; i++)
		pt[i] = (base + 0x4000 + i * 0x1000ull) | PTE_USER;   /* no NX: a bug */
	procs[pid].cr3 = base;
	procs[pid].regs.rip = (uint64_t)procs[pid].entry;
	procs[pid].regs.cs = VIGIL_SEL_UCODE | 3;
	procs[pid].regs.rflags = 0x2;
	procs[pid].regs.rsp = DEMO_USER_STACK_TOP;
	procs[pid].regs.ss = VIGIL_SEL_UDATA | 3;
	procs[pid].regs.rdi = pid;
	procs[pid].state = PROC_RUNNABLE;
}

/* ---- waiting for a tool ---- */

/* Ring the hypercall doorbell with HELLO until a vigil tool answers READY in
 * RAX, or give up: without a tool the doorbell has no effect. */
static bool wait_for_tool(void)
{
	uint32_t v;
	unsigned i;

	for (i = 0; i < HELLO_TRIES; i++) {
		v = DEMO_HC_HELLO;
		__asm__ volatile("outl %%eax, %%dx" : "+a"(v) : "d"(VIGIL_KVMI_HYPERCALL_PORT) : "memory");
		if (v == DEMO_HC_READY)
			return true;
	}
	return false;
}

/* ---- system calls ---- */

static void setup_syscalls(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* SYSRET: CS = 0x18 + 16, SS = 0x18 + 8 (RPL 3); SYSCALL: CS 0x08, SS 0x10. */
	wrmsr(MSR_STAR, ((uint64_t)VIGIL_SEL_UCODE32 << 48) | ((uint64_t)VIGIL_SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)demo_syscall_entry);
	wrmsr(MSR_CSTAR, (uint64_t)demo_cstar_entry);
	wrmsr(MSR_SFMASK, 0x47700);   /* clear TF, IF, DF, IOPL, AC on entry */
}

static void fill_syscall_table(void)
{
	unsigned i;

	for (i = 0; i < DEMO_NR_SYSCALLS; i++)
		sct[i] = (uint64_t)syscall_defaults[i];
}

/* ---- scheduling ---- */

static __attribute__((noreturn)) void finish(void);

/* Make @r (the frame the kernel returns through) the next runnable process
 * after @from; the current one's registers must be saved already. */
static void schedule(unsigned from, struct guest_ex_regs *r)
{
	unsigned i, next = from;

	for (i = 1; i <= DEMO_NR_PROCS; i++) {
		next = (from + i) % DEMO_NR_PROCS;
		if (procs[next].state == PROC_RUNNABLE)
			break;
	}
	if (procs[next].state != PROC_RUNNABLE)
		finish();
	current = next;
	write_cr3(procs[next].cr3);
	*r = procs[next].regs;
}

static uint64_t sys_write(struct guest_ex_regs *f)
{
	char buf[120];
	uint64_t len = f->rsi < sizeof(buf) - 1 ? f->rsi : sizeof(buf) - 1;

	memcpy(buf, (const void *)f->rdi, len);
	buf[len] = '\0';
	if ((f->rcx & ~0xfffull) == DEMO_USER_SCRATCH)
		payload_ran = true;   /* a system call made from a data page */
	GUEST_PRINTF("[%u %s] %s\n", current, procs[current].name, buf);
	return len;
}

static uint64_t sys_yield(struct guest_ex_regs *f)
{
	f->rax = 0;
	procs[current].regs = *f;
	schedule(current, f);
	return f->rax;
}

static uint64_t sys_exit(struct guest_ex_regs *f)
{
	GUEST_PRINTF("kernel: process %u (%s) exited with %llu\n", current, procs[current].name,
		     (unsigned long long)f->rdi);
	procs[current].state = PROC_DEAD;
	schedule(current, f);
	return f->rax;
}

static uint64_t sys_getpid(struct guest_ex_regs *f)
{
	(void)f;
	return current;
}

/* The bug the rootkit uses: a debug call that writes anywhere. */
static uint64_t sys_poke(struct guest_ex_regs *f)
{
	*(volatile uint64_t *)f->rdi = f->rsi;
	return 0;
}

/* syscall landed on LSTAR (a ud2): finish its job, then dispatch through
 * the table in kernel memory. */
static void do_syscall(struct guest_ex_regs *f)
{
	syscall_fn fn;

	f->rip = f->rcx;
	f->rflags = f->r11;
	f->cs = VIGIL_SEL_UCODE | 3;
	f->ss = VIGIL_SEL_UDATA | 3;
	if (f->rax >= DEMO_NR_SYSCALLS) {
		f->rax = (uint64_t)-1;
		return;
	}
	fn = (syscall_fn)((volatile uint64_t *)sct)[f->rax];
	f->rax = fn(f);
}

/* ---- faults in user mode ---- */

/* A fault from user mode kills the process; anything else is a kernel bug. */
static void user_fault(struct guest_ex_regs *regs)
{
	uint64_t cr2;

	if (regs->vector == 6 && regs->rip == (uint64_t)demo_syscall_entry) {
		do_syscall(regs);
		return;
	}
	if (!(regs->cs & 3))
		guest_assert_fail(__FILE__, __LINE__, "kernel fault", "vector %llu rip 0x%llx",
				  (unsigned long long)regs->vector, (unsigned long long)regs->rip);
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	GUEST_PRINTF("kernel: process %u (%s) killed: %s %llu at rip 0x%llx (cr2 0x%llx, "
		     "error 0x%llx)\n", current, procs[current].name,
		     regs->vector == 14 ? "page fault, vector" : "exception",
		     (unsigned long long)regs->vector, (unsigned long long)regs->rip,
		     (unsigned long long)cr2, (unsigned long long)regs->error_code);
	if (current == DEMO_ROOTKIT_PID && regs->rip == DEMO_USER_SCRATCH) {
		payload_blocked = true;
		blocked_addr = regs->rip;
	}
	procs[current].state = PROC_DEAD;
	schedule(current, regs);
}

/* ---- the end ---- */

static unsigned check_table(void)
{
	unsigned i, bad = 0;

	for (i = 0; i < DEMO_NR_SYSCALLS; i++) {
		if (sct[i] == (uint64_t)syscall_defaults[i])
			continue;
		GUEST_PRINTF("kernel: system-call %u points to 0x%llx, expected 0x%llx\n", i,
			     (unsigned long long)sct[i], (unsigned long long)syscall_defaults[i]);
		bad++;
	}
	return bad;
}

static void finish(void)
{
	unsigned bad;

	write_cr3(boot_cr3);
	bad = check_table();
	GUEST_PRINTF("demo: system-call table %s\n", bad ? "MODIFIED by the rootkit" : "intact");
	if (payload_blocked)
		GUEST_PRINTF("demo: code in a data page was stopped (page fault at 0x%llx)\n",
			     (unsigned long long)blocked_addr);
	else
		GUEST_PRINTF("demo: code in a data page %s\n",
			     payload_ran ? "RAN (rootkit payload executed)" : "did not run");
	guest_exit(0);
}

void guest_main(unsigned id, unsigned nr)
{
	struct guest_ex_regs *top;
	unsigned p;

	if (id != 0)
		return;   /* the toy kernel runs on vCPU 0; others finish at once */
	boot_cr3 = read_cr3();
	demo_kstack_top = (uint64_t)(kstack + sizeof(kstack));
	*(volatile uint64_t *)(VIGIL_GUEST_TSS + 4) = demo_kstack_top;   /* TSS.RSP0 */
	guest_set_handler(6, user_fault);
	guest_set_handler(13, user_fault);
	guest_set_handler(14, user_fault);
	for (p = 0; p < DEMO_NR_PROCS; p++)
		build_address_space(p);
	fill_syscall_table();
	GUEST_PRINTF("demo: kernel up on %u vCPU(s); %u processes, CR3 0x%lx..0x%lx; "
		     "system-call table at 0x%lx\n", nr, DEMO_NR_PROCS, DEMO_CR3(0),
		     DEMO_CR3(DEMO_NR_PROCS - 1), DEMO_SCT_GPA);
	GUEST_PRINTF("demo: waiting for a vigil tool\n");
	GUEST_PRINTF("demo: %s\n", wait_for_tool() ? "a vigil tool is attached"
						   : "no tool answered, running unwatched");
	setup_syscalls();
	top = (struct guest_ex_regs *)demo_kstack_top - 1;
	schedule(DEMO_NR_PROCS - 1, top);
	demo_enter_regs(top);
}

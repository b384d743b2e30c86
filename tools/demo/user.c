/*
 * The demo's user programs (CPL3, each in its own address space). They talk
 * to the kernel only through the syscall instruction. Each one writes its
 * name at the same virtual address, DEMO_USER_DATA, and checks after every
 * switch that it is still there: the address spaces are private.
 */
#include "kernel.h"

uint64_t demo_sys(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint64_t ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1)
			 : "rcx", "r11", "rdx", "memory");
	return ret;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[120];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	demo_sys(SYS_WRITE, (uint64_t)buf, (uint64_t)n);
}

static void claim_data(const char *name)
{
	char *d = (char *)DEMO_USER_DATA;

	memcpy(d, name, strlen(name) + 1);
}

static bool data_is_mine(const char *name)
{
	return !memcmp((const char *)DEMO_USER_DATA, name, strlen(name) + 1);
}

static void yield_and_check(const char *name)
{
	demo_sys(SYS_YIELD, 0, 0);
	if (!data_is_mine(name))
		say("my private page at 0x%lx was changed by someone!", DEMO_USER_DATA);
}

static uint64_t count_primes(uint64_t lo, uint64_t hi)
{
	uint64_t n = 0, i, d;

	for (i = lo < 2 ? 2 : lo; i < hi; i++) {
		for (d = 2; d * d <= i; d++)
			if (i % d == 0)
				break;
		if (d * d > i)
			n++;
	}
	return n;
}

void prog_primes(uint64_t pid)
{
	uint64_t total = 0, lo = 0, step = 50000;
	unsigned round;

	claim_data("primes");
	for (round = 0; round < 3; round++, lo += step) {
		total += count_primes(lo, lo + step);
		say("%llu primes below %llu", (unsigned long long)total,
		    (unsigned long long)(lo + step));
		yield_and_check("primes");
	}
	say("done; my data page still holds \"%s\"", (const char *)DEMO_USER_DATA);
	demo_sys(SYS_EXIT, pid, 0);
}

void prog_hasher(uint64_t pid)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned round, i;

	claim_data("hasher");
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 2000000; i++)
			h = (h ^ (i & 0xff)) * 0x100000001b3ull;
		say("FNV-1a after round %u: %016llx", round, (unsigned long long)h);
		yield_and_check("hasher");
	}
	demo_sys(SYS_EXIT, pid, 0);
}

void prog_sorter(uint64_t pid)
{
	uint32_t *a = (uint32_t *)(DEMO_USER_DATA + 64);
	unsigned n = 900, round, i, j;
	uint32_t x = 12345;

	claim_data("sorter");
	for (round = 0; round < 3; round++) {
		for (i = 0; i < n; i++)
			a[i] = x = x * 1103515245u + 12345u;
		for (i = 1; i < n; i++)         /* insertion sort */
			for (j = i; j > 0 && a[j - 1] > a[j]; j--) {
				uint32_t t = a[j];
				a[j] = a[j - 1];
				a[j - 1] = t;
			}
		say("sorted %u numbers, smallest %u, largest %u", n, a[0], a[n - 1]);
		yield_and_check("sorter");
	}
	demo_sys(SYS_EXIT, pid, 0);
}

/* ---- the rootkit ---- */

/* What it wants getpid to become: kernel code, runs at CPL0 if installed. */
uint64_t rootkit_hook(struct guest_ex_regs *f)
{
	(void)f;
	return DEMO_HOOKED;
}

/* Position-independent payload copied into a data page and run there: it
 * makes one write system call and returns. */
extern const uint8_t rk_payload[], rk_payload_end[];
__asm__(".pushsection .rodata\n"
	"rk_payload:\n"
	"  push %rbx\n"
	"  lea 1f(%rip), %rdi\n"
	"  mov $(2f - 1f), %esi\n"
	"  xor %eax, %eax\n"          /* SYS_WRITE */
	"  syscall\n"
	"  pop %rbx\n"
	"  ret\n"
	"1: .ascii \"payload: running from a data page\"\n"
	"2:\n"
	"rk_payload_end:\n"
	".popsection\n");

void prog_rootkit(uint64_t pid)
{
	uint64_t *slot = (uint64_t *)DEMO_SCT_GPA + SYS_GETPID;
	uint8_t *page = (uint8_t *)DEMO_USER_SCRATCH;
	void (*payload)(void) = (void (*)(void))DEMO_USER_SCRATCH;

	claim_data("rootkit");
	say("hooking getpid: writing 0x%lx into the system-call table at 0x%lx",
	    (unsigned long)rootkit_hook, (unsigned long)slot);
	demo_sys(SYS_POKE, (uint64_t)slot, (uint64_t)rootkit_hook);
	say("getpid() now returns 0x%llx%s", (unsigned long long)demo_sys(SYS_GETPID, 0, 0),
	    demo_sys(SYS_GETPID, 0, 0) == DEMO_HOOKED ? ": hook installed" : ": hook failed");
	yield_and_check("rootkit");
	memcpy(page, rk_payload, (size_t)(rk_payload_end - rk_payload));
	say("copied %u bytes of code to the data page 0x%lx, calling it",
	    (unsigned)(rk_payload_end - rk_payload), DEMO_USER_SCRATCH);
	payload();
	say("payload returned");
	demo_sys(SYS_EXIT, pid, 0);
}

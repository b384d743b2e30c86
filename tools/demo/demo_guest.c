/*
 * The demo guest: a tiny kernel that reports what it runs on, then runs a
 * compute job in user mode on every vCPU and prints the results.
 */
#include "guest.h"

static uint8_t user_stack[VIGIL_GUEST_MAX_VCPUS][16384] __attribute__((aligned(16)));

/* Count primes below n: a user-mode loop (native speed even on kvm_pvm). */
static uint64_t count_primes(uint64_t n)
{
	uint64_t count = 0, i, d;

	for (i = 2; i < n; i++) {
		for (d = 2; d * d <= i; d++)
			if (i % d == 0)
				break;
		if (d * d > i)
			count++;
	}
	return count;
}

static void banner(unsigned nr)
{
	uint32_t a, b, c, d;
	char vendor[13];

	cpuid(0, 0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = '\0';
	GUEST_PRINTF("demo: vigil demo guest booted in 64-bit mode on %u vCPU(s), CPU vendor %s\n",
		     nr, vendor);
	GUEST_PRINTF("demo: CR0=0x%llx CR3=0x%llx CR4=0x%llx\n",
		     (unsigned long long)read_cr0(), (unsigned long long)read_cr3(),
		     (unsigned long long)read_cr4());
}

void guest_main(unsigned id, unsigned nr)
{
	uint64_t limit = 200000 + 100000 * id, primes;

	if (id == 0)
		banner(nr);
	primes = guest_run_user(count_primes, limit, user_stack[id] + sizeof(user_stack[id]));
	GUEST_PRINTF("demo: vCPU %u counted %llu primes below %llu in user mode\n", id,
		     (unsigned long long)primes, (unsigned long long)limit);
}

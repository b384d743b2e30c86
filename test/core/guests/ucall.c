/* Ucall round trips: SYNC stages whose answer the host chooses, from CPL0
 * and CPL3, plus an exception handled by the guest. */
#include "guest.h"

static uint8_t user_stack[VIGIL_GUEST_MAX_VCPUS][8192] __attribute__((aligned(16)));
static volatile unsigned ud_seen[VIGIL_GUEST_MAX_VCPUS];

static uint64_t user_part(uint64_t arg)
{
	/* From CPL3: the host doubles the stage it is given. */
	return GUEST_SYNC(arg);
}

static void on_ud(struct guest_ex_regs *regs)
{
	ud_seen[guest_vcpu_id()]++;
	regs->rip += 2;   /* skip ud2 */
}

void guest_main(unsigned id, unsigned nr)
{
	uint64_t cs;

	(void)nr;
	GUEST_ASSERT_EQ(GUEST_SYNC(1), 2);
	GUEST_ASSERT_EQ(GUEST_SYNC(21), 42);
	GUEST_ASSERT_EQ(guest_run_user(user_part, 50, user_stack[id] + 8192), 100);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	GUEST_ASSERT_EQ(cs & 3, 0);   /* back at CPL0 */
	guest_set_handler(6, on_ud);
	__asm__ volatile("ud2");
	GUEST_ASSERT_EQ(ud_seen[id], 1);
	GUEST_PRINTF("ucall guest ok on vCPU %u\n", id);
}

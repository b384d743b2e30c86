/* A failing GUEST_ASSERT_EQ ends the VM with status 1 and the message. */
#include "guest.h"

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	GUEST_ASSERT_EQ(id + 1, 7);
}

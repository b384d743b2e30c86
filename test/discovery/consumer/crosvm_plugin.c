/* Built against the installed libcrosvm_plugin only (pkg-config or find_package). */
#define _POSIX_C_SOURCE 200809L   /* unsetenv under -std=c11 */
#include <stdio.h>
#include <stdlib.h>

#include <crosvm.h>

int main(void)
{
	struct crosvm *c = NULL;
	int r;

	/* No vigild around: connecting must fail cleanly with a negative errno. */
	unsetenv("CROSVM_SOCKET");
	r = crosvm_connect(&c);
	printf("crosvm_connect without CROSVM_SOCKET: %d\n", r);
	return r < 0 && c == NULL ? 0 : 1;
}

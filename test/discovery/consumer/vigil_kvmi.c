/* Built against the installed libvigil_kvmi only (pkg-config or find_package). */
#include <stdio.h>

#include <vigil/vigil_kvmi.h>

int main(void)
{
	struct vigil_kvmi *c = NULL;
	int r;

	/* No socket there: connecting must fail cleanly with a negative errno. */
	r = vigil_kvmi_connect("/nonexistent/vigil-introspect.sock", 100, &c);
	printf("vigil_kvmi_connect to a missing socket: %d\n", r);
	return r < 0 && c == NULL ? 0 : 1;
}

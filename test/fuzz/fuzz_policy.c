/*
 * Fuzz target: `vigil policy` files (tools/vigil/policy_parse.c), through the
 * same policy_load() the tool calls, on a memfd named by /proc/self/fd. A
 * success must give a policy; a failure must give none and a reason.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "policy.h"
#include "vigil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tool's error printer (tools/vigil/vigil.c holds main, so it is not
 * linked here); the parser's helpers in kvmi_tool.c report through it. */
void vigil_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vigil: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	char path[64], err[512] = "";
	int fd, r;

	if (size > (1u << 20))
		return 0;
	fd = memfd_create("fuzz-policy", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "memfd_create");
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = policy_load(path, &p, err, sizeof(err));
	if (r == 0) {
		FUZZ_CHECK(p != NULL, "success without a policy");
	} else {
		FUZZ_CHECK(r < 0 && p == NULL, "failure %d left a policy", r);
		FUZZ_CHECK(err[0] != '\0', "failure %d without a reason", r);
	}
	policy_free(&p);
	FUZZ_CHECK(p == NULL, "policy_free must NULL its argument");
	close(fd);
	return 0;
}

/* Process limits vigild sets for itself (server/privileges.c). */
#include <criterion/criterion.h>
#include <sys/resource.h>

#include "privileges.h"

Test(privileges, raise_nofile_takes_the_hard_limit)
{
	struct rlimit r, low;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	if (r.rlim_max < 128)
		cr_skip_test("hard RLIMIT_NOFILE is only %llu", (unsigned long long)r.rlim_max);
	low.rlim_cur = 64;
	low.rlim_max = r.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	long got = privileges_raise_nofile();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	cr_expect_eq(r.rlim_cur, r.rlim_max);
	cr_expect_eq((rlim_t)got, r.rlim_cur);
}

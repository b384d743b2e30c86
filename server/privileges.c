/* Capability dropping with libcap-ng. */
#include <cap-ng.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "privileges.h"

static int drop_all(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (capng_have_capabilities(CAPNG_SELECT_BOTH) == CAPNG_NONE &&
	    capng_have_capabilities(CAPNG_SELECT_BOUNDS) == CAPNG_NONE)
		return 0;
	capng_clear(CAPNG_SELECT_ALL);
	/* Applying the bounding set needs CAP_SETPCAP, which we still have
	 * here; capng_apply drops the bounding set before the rest. */
	if (capng_apply(CAPNG_SELECT_ALL) < 0) {
		/* Without CAP_SETPCAP the bounding set stays; drop the rest. */
		if (capng_apply(CAPNG_SELECT_BOTH) < 0)
			return -EPERM;
	}
	return 0;
}

int privileges_drop(char *why, size_t why_len)
{
	int err;

	capng_get_caps_process();
	err = drop_all();
	if (err)
		snprintf(why, why_len, "cannot drop privileges: %s", strerror(-err));
	return err;
}

int privileges_drop_child(void)
{
	capng_get_caps_process();
	return drop_all();
}

long privileges_raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return -errno;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			return -errno;
	}
	return r.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)r.rlim_cur;
}

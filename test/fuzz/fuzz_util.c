/* Helpers shared by the fuzz targets and the fault tests. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

/* Pipes are not counted: the sanitizer runtime keeps a symbolizer process
 * on two pipes once it has symbolized anything (the server creates none). */
static int count_fds_once(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], target[64];
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t len;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		if (strncmp(target, "pipe:", 5))
			n++;
	}
	closedir(d);
	return n;
}

/* Other threads (the sanitizer runtime, libFuzzer's) open files now and
 * then: only a count that stays off is a leak. */
int fuzz_count_fds(int expect)
{
	int n = count_fds_once();

	for (int i = 0; i < 3 && expect < 0; i++) {   /* a baseline: the minimum */
		int m;

		usleep(1000);
		m = count_fds_once();
		n = m < n ? m : n;
	}
	for (int i = 0; i < 20 && n != expect && expect >= 0; i++) {
		usleep(1000);
		n = count_fds_once();
	}
	return n;
}

void fuzz_dump_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], target[256];

	if (!d)
		return;
	while ((de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

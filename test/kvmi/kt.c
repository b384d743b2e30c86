/* Introspection test harness (see kt.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void drain(struct kt *t)
{
	ssize_t n;

	while (t->err_fd >= 0 && t->log_len < sizeof(t->log) - 1) {
		n = read(t->err_fd, t->log + t->log_len, sizeof(t->log) - 1 - t->log_len);
		if (n <= 0)
			break;
		t->log_len += (size_t)n;
	}
	t->log[t->log_len] = 0;
}

void kt_spawn(struct kt *t, unsigned nr_vcpus, int timeout_ms)
{
	kt_spawn_mem(t, nr_vcpus, timeout_ms, "16M");
}

void kt_spawn_mem(struct kt *t, unsigned nr_vcpus, int timeout_ms, const char *mem)
{
	kt_spawn_args(t, nr_vcpus, timeout_ms, mem, NULL);
}

void kt_spawn_args(struct kt *t, unsigned nr_vcpus, int timeout_ms, const char *mem,
		   const char *const *extra)
{
	char vcpus[16], tmo[16];
	int p[2];
	char *argv[32] = { (char *)VIGILD_PATH, "run", "--guest", (char *)KT_GUEST, "--vcpus", vcpus,
			   "--mem", (char *)mem, "--console", "log", "--introspect", NULL,
			   "--introspect-timeout", tmo, NULL };
	unsigned n = 14;

	memset(t, 0, sizeof(*t));
	t->err_fd = -1;
	snprintf(t->sock, sizeof(t->sock), "/tmp/kt-%d-%ld.sock", getpid(), now_ms());
	argv[11] = t->sock;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	snprintf(vcpus, sizeof(vcpus), "%u", nr_vcpus);
	snprintf(tmo, sizeof(tmo), "%d", timeout_ms ? timeout_ms : 5000);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	t->pid = fork();
	cr_assert_geq(t->pid, 0);
	if (t->pid == 0) {
		/* vigild must not outlive a test killed by its timeout. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(VIGILD_PATH, argv);
		_exit(127);
	}
	close(p[1]);
	t->err_fd = p[0];
	fcntl(t->err_fd, F_SETFL, O_NONBLOCK);
}

int kt_connect(struct kt *t, struct vigil_kvmi **c)
{
	long end = now_ms() + 10000;
	int r;

	do {
		r = vigil_kvmi_connect(t->sock, 5000, c);
		/* EBUSY: a previous tool's close is still being processed. */
		if (r != -ENOENT && r != -ECONNREFUSED && r != -EBUSY)
			return r;
		usleep(10000);
	} while (now_ms() < end);
	return r;
}

void kt_start(struct kt *t, unsigned nr_vcpus, int timeout_ms)
{
	int r;

	kt_spawn(t, nr_vcpus, timeout_ms);
	r = kt_connect(t, &t->c);
	if (r) {
		kt_stop(t);
		cr_assert_fail("cannot attach: %s\nvigild log:\n%s", strerror(-r), t->log);
	}
}

uint64_t kt_read64(struct kt *t, uint64_t gpa)
{
	uint64_t v = 0;

	cr_assert_eq(vigil_kvmi_read_physical(t->c, gpa, &v, sizeof(v), NULL), 0);
	return v;
}

void kt_ready(struct kt *t)
{
	long end = now_ms() + 10000;

	while (!kt_read64(t, KT_CTL)) {
		cr_assert(now_ms() < end, "guest never became ready");
		usleep(2000);
	}
	cr_assert_eq(vigil_kvmi_read_physical(t->c, KT_CTL, &t->ctl, sizeof(t->ctl), NULL), 0);
}

static void put64(struct kt *t, uint64_t gpa, uint64_t v)
{
	cr_assert_eq(vigil_kvmi_write_physical(t->c, gpa, &v, sizeof(v), 0, NULL), 0);
}

void kt_go(struct kt *t, unsigned scenario)
{
	put64(t, KT_CTL + offsetof(struct kt_ctl, scenario), scenario);
	put64(t, KT_CTL + offsetof(struct kt_ctl, go), 1);
}

void kt_set_stop(struct kt *t)
{
	put64(t, KT_CTL + offsetof(struct kt_ctl, stop), 1);
}

int kt_wait(struct kt *t, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int st;

	for (;;) {
		drain(t);
		if (waitpid(t->pid, &st, WNOHANG) == t->pid)
			break;
		if (now_ms() > end) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			drain(t);
			t->pid = 0;
			return -1;
		}
		usleep(5000);
	}
	drain(t);
	t->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int kt_stop(struct kt *t)
{
	if (!t->pid)
		return -1;
	kill(t->pid, SIGTERM);
	return kt_wait(t, 10000);
}

void kt_free(struct kt *t)
{
	vigil_kvmi_close(&t->c);
	if (t->pid)
		kt_stop(t);
	if (t->err_fd >= 0)
		close(t->err_fd);
	t->err_fd = -1;
}

void kt_drain_log(struct kt *t)
{
	drain(t);
}

void kt_event(struct kt *t, struct vigil_kvmi_ev *ev, int timeout_ms)
{
	int r = vigil_kvmi_wait_event(t->c, timeout_ms);

	if (r) {
		drain(t);
		cr_assert_fail("no event: %s\nvigild log:\n%s", strerror(-r), t->log);
	}
	cr_assert_eq(vigil_kvmi_pop_event(t->c, ev), 0);
}

/* Integration-test helpers: real vigild processes and in-process VMs. */
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

#include "guest_loader.h"
#include "harness.h"
#include "vcpu.h"

const char *const vigild_path = VIGILD_PATH;

const char *core_guest(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/core_guest_%s.elf", CORE_GUEST_DIR, name);
	return path;
}

/* In the child: die with the test process (a Criterion worker that times
 * out must not leave a vigild behind), then exec. */
static void child_exec(char *const argv[], int out, int err_fd, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(out, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

int proc_spawn(char *const argv[], pid_t *pid, int *out_fd, int *err_fd)
{
	pid_t parent = getpid();
	int o[2], e[2];

	if (pipe2(o, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(o[0]);
		close(o[1]);
		return -errno;
	}
	*pid = fork();
	if (*pid == 0)
		child_exec(argv, o[1], e[1], parent);
	close(o[1]);
	close(e[1]);
	if (*pid < 0) {
		close(o[0]);
		close(e[0]);
		return -errno;
	}
	*out_fd = o[0];
	*err_fd = e[0];
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void drain_fd(int *fd, char *buf, size_t size, size_t *len)
{
	ssize_t n = read(*fd, buf + *len, size - 1 - *len);

	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
	if (*len == size - 1) {   /* full: keep draining, drop the rest */
		*len = size - 2;
	}
}

int proc_wait(pid_t pid, int out_fd, int err_fd, int timeout_ms, struct proc_result *res)
{
	size_t olen = 0, elen = 0;
	long deadline = now_ms() + timeout_ms;
	int wstatus = 0;

	res->out[0] = res->err[0] = '\0';
	res->timed_out = false;
	while (out_fd >= 0 || err_fd >= 0) {
		struct pollfd p[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
		long left = deadline - now_ms();

		if (left <= 0) {
			res->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (out_fd >= 0 && (p[0].revents & (POLLIN | POLLHUP)))
			drain_fd(&out_fd, res->out, sizeof(res->out), &olen);
		if (err_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
			drain_fd(&err_fd, res->err, sizeof(res->err), &elen);
	}
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (waitpid(pid, &wstatus, 0) < 0)
		return -errno;
	res->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	return 0;
}

int proc_run(char *const argv[], int timeout_ms, struct proc_result *res)
{
	int out_fd, err_fd, err;
	pid_t pid;

	err = proc_spawn(argv, &pid, &out_fd, &err_fd);
	if (err)
		return err;
	return proc_wait(pid, out_fd, err_fd, timeout_ms, res);
}

static void tvm_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tvm *t = arg;

	(void)fd;
	(void)what;
	vm_request_stop(t->vm, -1, "test timeout");
}

int tvm_boot(struct tvm *t, const char *guest, unsigned nr_vcpus, uint64_t mem)
{
	return tvm_boot_spin(t, guest, nr_vcpus, mem, 0);
}

int tvm_boot_spin(struct tvm *t, const char *guest, unsigned nr_vcpus, uint64_t mem,
		  unsigned spin_us)
{
	struct vm_config cfg = { .mem_size = mem, .nr_vcpus = nr_vcpus, .irqchip = true,
				 .unhandled_read = 0xff, .wait_spin_us = spin_us };
	char why[256];
	int err;

	memset(t, 0, sizeof(*t));
	t->kvm.fd = -1;
	err = vcpu_signal_setup();
	if (!err)
		err = reactor_init(&t->reactor);
	if (!err)
		err = kvm_host_open(&t->kvm, NULL, why, sizeof(why));
	if (!err)
		err = vm_create(&t->vm, &t->kvm, &cfg, why, sizeof(why));
	if (!err)
		err = guest_load_elf(t->vm, guest, why, sizeof(why));
	if (err) {
		fprintf(stderr, "tvm_boot: %s\n", why);
		return err;
	}
	t->console = open_memstream(&t->console_buf, &t->console_len);
	if (!t->console)
		return -errno;
	err = guest_ports_register(&t->ports, t->vm, t->console);
	if (!err)
		err = reactor_attach_vm(&t->reactor, t->vm);
	return err;
}

int tvm_run(struct tvm *t, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int err;

	t->timeout_ev = evtimer_new(t->reactor.base, tvm_timeout_cb, t);
	if (!t->timeout_ev || evtimer_add(t->timeout_ev, &tv) < 0)
		return -ENOMEM;
	err = vm_start(t->vm);
	if (err)
		return err;
	reactor_run(&t->reactor);
	vm_shutdown(t->vm);
	fflush(t->console);
	return t->vm->stop.status;
}

void tvm_free(struct tvm *t)
{
	vm_free(t->vm);
	if (t->timeout_ev)
		event_free(t->timeout_ev);
	reactor_fini(&t->reactor);
	kvm_host_close(&t->kvm);
	if (t->console)
		fclose(t->console);
	free(t->console_buf);
	memset(t, 0, sizeof(*t));
}

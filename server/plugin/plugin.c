/*
 * vigild run --plugin: spawn the plugin, create a VM without RAM, serve the
 * plugin from the reactor, stop when the plugin exits (its status becomes
 * vigild's) or the VM stops (the plugin gets its shutdown eventfd, its
 * sockets close, and it is killed if it has not exited after a grace period).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmdline.h"
#include "exitcodes.h"
#include "log.h"
#include "privileges.h"
#include "plugin.h"
#include "ps.h"
#include "reactor.h"
#include "vm.h"

static int status_of(int wstatus, char *what, size_t len)
{
	if (WIFEXITED(wstatus)) {
		int code = WEXITSTATUS(wstatus);

		snprintf(what, len, "the plugin exited with status %d", code);
		return code <= VIGILD_EXIT_GUEST_MAX ? code : VIGILD_EXIT_PLUGIN;
	}
	snprintf(what, len, "the plugin was killed by signal %d (%s)", WTERMSIG(wstatus),
		 strsignal(WTERMSIG(wstatus)));
	return VIGILD_EXIT_PLUGIN;
}

static bool reap(struct plugin *pl, bool block)
{
	char what[96];
	int st;
	pid_t r;

	if (pl->exited)
		return true;
	do {
		r = waitpid(pl->pid, &st, block ? 0 : WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r != pl->pid)
		return false;
	pl->exited = true;
	pl->exit_status = status_of(st, what, sizeof(what));
	vm_request_stop(pl->vm, pl->exit_status, "%s", what);
	return true;
}

static void pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct plugin *pl = arg;

	(void)fd;
	(void)what;
	if (reap(pl, false))
		event_del(pl->pid_ev);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvcpu *pv = arg;
	struct plugin *pl = pv->pl;

	(void)fd;
	(void)what;
	if (pv->nr_conns || pv->sync == PV_IDLE || pl->exited)
		return;
	vm_request_stop(pl->vm, VIGILD_EXIT_PLUGIN,
			"the plugin closed vCPU %u's socket while the vCPU waited on it", pv->id);
	kill(pl->pid, SIGKILL);
}

/* A vCPU lost its last socket: if it waits on the plugin, give the plugin a
 * moment to exit on its own (its status then wins), then stop everything. */
void ps_plugin_gone(struct plugin *pl, struct pvcpu *pv)
{
	struct timeval tv = { 0, PS_GRACE_MS * 1000 };

	if (pl->stopping || pv->sync == PV_IDLE || evtimer_pending(pv->grace_ev, NULL))
		return;
	evtimer_add(pv->grace_ev, &tv);
}

static void plugin_on_stop(struct vm *vm, void *opaque)
{
	struct plugin *pl = opaque;
	uint64_t one = 1;

	(void)vm;
	pl->stopping = true;
	if (write(pl->shutdown_efd, &one, sizeof(one)) < 0)
		log_debug("plugin: shutdown eventfd: %s", strerror(errno));
	ps_vcpu_fail_waits(pl, -ESHUTDOWN);
}

/* Child: close every fd above stdio but @a and @b. The plugin must not get
 * what vigild inherited from its own parent without O_CLOEXEC. */
static void close_others(int a, int b)
{
	unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

static void child_exec(const struct vigild_opts *o, int sock, int errpipe)
{
	const char *argv[VIGILD_MAX_PLUGIN_ARGS + 2];
	char num[16];
	sigset_t all;
	int fd, err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The plugin gets no capabilities and cannot gain any. */
	if (privileges_drop_child() < 0)
		goto fail;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	fd = fcntl(sock, F_DUPFD, 3);      /* the copy is not close-on-exec */
	snprintf(num, sizeof(num), "%d", fd);
	if (fd < 0 || setenv("CROSVM_SOCKET", num, 1) < 0)
		goto fail;
	close_others(fd, errpipe);
	argv[0] = o->plugin;
	for (unsigned i = 0; i < o->nr_plugin_args; i++)
		argv[i + 1] = o->plugin_args[i];
	argv[o->nr_plugin_args + 1] = NULL;
	execv(o->plugin, (char *const *)argv);
fail:
	err = errno;
	if (write(errpipe, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

static int spawn(struct plugin *pl, const struct vigild_opts *o)
{
	int sv[2], ep[2], err = 0, childerr;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	pl->pid = fork();
	if (pl->pid == 0)
		child_exec(o, sv[1], ep[1]);
	if (pl->pid < 0)
		err = -errno;
	close(ep[1]);
	if (!err) {
		do {
			n = read(ep[0], &childerr, sizeof(childerr));
		} while (n < 0 && errno == EINTR);
		if (n == sizeof(childerr)) {
			err = -childerr;
			waitpid(pl->pid, NULL, 0);
			pl->pid = -1;
		}
	}
	close(ep[0]);
	if (!err) {
		err = pconn_new(pl, sv[0], NULL, NULL);
		if (!err)
			sv[0] = -1;
	}
out:
	if (sv[0] >= 0)
		close(sv[0]);
	close(sv[1]);
	return err;
}

static int plugin_watch(struct plugin *pl)
{
	pl->pidfd = (int)syscall(SYS_pidfd_open, pl->pid, 0);
	if (pl->pidfd < 0 && errno != ENOSYS)
		return -errno;
	/* Without pidfd_open (Linux < 5.3, valgrind 3.19), SIGCHLD does it. */
	if (pl->pidfd < 0)
		pl->pid_ev = evsignal_new(pl->base, SIGCHLD, pid_cb, pl);
	else
		pl->pid_ev = event_new(pl->base, pl->pidfd, EV_READ | EV_PERSIST, pid_cb, pl);
	if (!pl->pid_ev || event_add(pl->pid_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* Tie each created vCPU to its pvcpu (once). */
static void bind_vcpus(struct plugin *pl)
{
	for (unsigned i = 0; i < pl->vm->nr_vcpus && i < pl->nr_vcpus; i++) {
		struct pvcpu *pv = &pl->vcpus[i];

		if (pv->vcpu)
			continue;
		pv->vcpu = pl->vm->vcpus[i];
		pv->vcpu->priv[VCPU_PRIV_PLUGIN] = pv;
		pv->vcpu->plugin_request = ps_vcpu_plugin_request;
	}
}

int ps_vcpus_create(struct plugin *pl)
{
	char why[160];
	int err = vm_create_vcpus(pl->vm, why, sizeof(why));

	if (err)
		log_debug("plugin: creating the vCPUs: %s", why);
	bind_vcpus(pl);
	return err;
}

/* The vCPUs may not exist yet (plugin_run defers them to Start, so that the
 * plugin can do what KVM refuses once they do); the pvcpus do. */
static int plugin_new(struct plugin **out, struct vm *vm, struct event_base *base)
{
	struct plugin *pl = calloc(1, sizeof(*pl));
	unsigned n = vm->cfg.nr_vcpus;

	if (!pl)
		return -ENOMEM;
	*out = pl;
	pl->vm = vm;
	pl->base = base;
	pl->pid = -1;
	pl->pidfd = -1;
	LIST_INIT(&pl->conns);
	LIST_INIT(&pl->objs);
	LIST_INIT(&pl->reserves);
	LIST_INIT(&pl->hints);
	pl->shutdown_efd = eventfd(0, EFD_CLOEXEC);
	pl->rbuf = malloc(PS_RECV_BUF);
	pl->vcpus = calloc(n, sizeof(*pl->vcpus));
	if (pl->shutdown_efd < 0 || !pl->rbuf || !pl->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct pvcpu *pv = &pl->vcpus[i];

		pv->pl = pl;
		pv->id = i;
		TAILQ_INIT(&pv->asyncq);
		pthread_mutex_init(&pv->lock, NULL);
		pv->grace_ev = evtimer_new(base, grace_cb, pv);
		if (!pv->grace_ev)
			return -ENOMEM;
		pl->nr_vcpus++;
	}
	bind_vcpus(pl);
	vm_set_hyperv_handler(vm, ps_hyperv_handler, pl);
	return 0;
}

static void close_conns(struct plugin *pl)
{
	struct pconn *c;

	pl->tearing_down = true;
	while ((c = LIST_FIRST(&pl->conns)))
		pconn_free(c);
}

/* After the vCPUs are joined: nothing points into @pl any more. */
static void plugin_free(struct plugin *pl)
{
	struct preserve *r;
	struct phint *h;

	if (!pl)
		return;
	close_conns(pl);
	ps_objects_free(pl);
	while ((r = LIST_FIRST(&pl->reserves))) {
		LIST_REMOVE(r, link);
		if (r->active)
			iobus_unregister(r->space == ADDRESS_SPACE__IOPORT ? &pl->vm->pio : &pl->vm->mmio,
					 r->start);
		free(r);
	}
	while ((h = LIST_FIRST(&pl->hints))) {
		LIST_REMOVE(h, link);
		free(h);
	}
	for (unsigned i = 0; i < pl->nr_vcpus; i++) {
		struct pvcpu *pv = &pl->vcpus[i];
		struct pasync *a;

		while ((a = TAILQ_FIRST(&pv->asyncq))) {
			TAILQ_REMOVE(&pv->asyncq, a, link);
			free(a);
		}
		event_free(pv->grace_ev);
		pthread_mutex_destroy(&pv->lock);
		if (pv->vcpu) {
			pv->vcpu->priv[VCPU_PRIV_PLUGIN] = NULL;
			pv->vcpu->plugin_request = NULL;
		}
	}
	if (pl->vm->hyperv.opaque == pl)
		vm_set_hyperv_handler(pl->vm, NULL, NULL);
	if (pl->pid_ev)
		event_free(pl->pid_ev);
	if (pl->pidfd >= 0)
		close(pl->pidfd);
	if (pl->shutdown_efd >= 0)
		close(pl->shutdown_efd);
	free(pl->vcpus);
	free(pl->rbuf);
	free(pl);
}

/* The loop is over: give the plugin PS_GRACE_MS to exit, then kill it. */
static void plugin_finish(struct plugin *pl)
{
	struct pollfd p = { .fd = pl->pidfd, .events = POLLIN };

	if (pl->pid <= 0 || pl->exited)
		return;
	if (pl->pidfd >= 0 && poll(&p, 1, PS_GRACE_MS) > 0 && reap(pl, false))
		return;
	for (int ms = 0; pl->pidfd < 0 && ms < PS_GRACE_MS; ms += 10) {
		if (reap(pl, false))
			return;
		usleep(10 * 1000);
	}
	if (!reap(pl, false)) {
		log_warn("the plugin did not exit within %d ms of the VM stopping: killing it",
			 PS_GRACE_MS);
		kill(pl->pid, SIGKILL);
		reap(pl, true);
	}
}

static int create_vm(const struct vigild_opts *o, struct kvm_host *kvm, struct vm **vmp)
{
	struct vm_config cfg = {
		.mem_size = 0,              /* the plugin creates the memory */
		.nr_vcpus = o->nr_vcpus,
		.irqchip = true,
		.unhandled_read = 0,        /* unreserved reads return zeros */
		.defer_vcpus = true,        /* created at Start (SetIdentityMapAddr before) */
	};
	char why[256];
	int err;

	err = kvm_host_open(kvm, o->kvm_path, why, sizeof(why));
	if (err) {
		log_err("%s", why);
		return VIGILD_EXIT_UNAVAILABLE;
	}
	err = vm_create(vmp, kvm, &cfg, why, sizeof(why));
	if (err) {
		log_err("%s", why);
		return err == -EINVAL ? VIGILD_EXIT_USAGE : VIGILD_EXIT_OSERR;
	}
	return 0;
}

static int serve(struct plugin *pl, const struct vigild_opts *o, struct reactor *reactor)
{
	char why[128];
	struct vm *vm = pl->vm;
	int err;

	err = reactor_attach_vm(reactor, vm);
	if (err)
		return VIGILD_EXIT_OSERR;
	err = vm_on_stop(vm, plugin_on_stop, pl);
	if (err)
		return VIGILD_EXIT_SOFTWARE;
	err = spawn(pl, o);
	if (err) {
		log_err("cannot run the plugin %s: %s", o->plugin, strerror(-err));
		return err == -ENOENT || err == -EACCES || err == -ENOEXEC ? VIGILD_EXIT_USAGE
									  : VIGILD_EXIT_OSERR;
	}
	err = plugin_watch(pl);
	if (err) {
		log_err("cannot watch the plugin process: %s", strerror(-err));
		kill(pl->pid, SIGKILL);
		reap(pl, true);
		return VIGILD_EXIT_OSERR;
	}
	log_debug("plugin %s running as pid %d", o->plugin, (int)pl->pid);
	if (privileges_drop(why, sizeof(why)) < 0) {
		log_err("%s", why);
		kill(pl->pid, SIGKILL);
		reap(pl, true);
		return VIGILD_EXIT_OSERR;
	}
	if (reactor_run(reactor) < 0)
		vm_request_stop(vm, VIGILD_EXIT_SOFTWARE, "event loop failed");
	return -1;
}

int plugin_run(const struct vigild_opts *o, struct kvm_host *kvm, struct reactor *reactor,
	       struct vm **vmp)
{
	struct plugin *pl = NULL;
	int status;

	status = create_vm(o, kvm, vmp);
	if (status)
		return status;
	if (plugin_new(&pl, *vmp, reactor->base) < 0) {
		log_err("cannot set up the plugin server: out of memory");
		plugin_free(pl);
		return VIGILD_EXIT_OSERR;
	}
	status = serve(pl, o, reactor);
	pl->stopping = true;
	close_conns(pl);            /* the plugin sees EOF on every socket */
	vm_shutdown(*vmp);
	plugin_finish(pl);
	if (status < 0) {
		status = (*vmp)->stop.status;
		/* A clean VM stop does not hide a failing plugin. */
		if (status == 0 && pl->exited)
			status = pl->exit_status;
		if (status == 0)
			log_info("%s", (*vmp)->stop.reason);
		else
			log_err("%s (exit status %d)", (*vmp)->stop.reason, status);
	}
	plugin_free(pl);
	return status;
}

int plugin_attach(struct vm *vm, struct event_base *base, int sock, struct plugin **out)
{
	struct plugin *pl = NULL;
	int err;

	*out = NULL;
	err = vm->started ? -EBUSY : plugin_new(&pl, vm, base);
	if (!err)
		err = pconn_new(pl, sock, NULL, NULL);
	if (err) {
		close(sock);
		plugin_free(pl);
		return err;
	}
	*out = pl;
	return 0;
}

void plugin_vm_stopping(struct plugin *pl)
{
	plugin_on_stop(pl->vm, pl);
}

void plugin_detach(struct plugin **pl)
{
	if (!*pl)
		return;
	(*pl)->stopping = true;
	plugin_free(*pl);
	*pl = NULL;
}

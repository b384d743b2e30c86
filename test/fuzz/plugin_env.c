/* The plugin fuzz/fault environment: see plugin_env.h. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "plugin.h"
#include "plugin.pb-c.h"
#include "plugin_env.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

static void mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mailbox_drain(&((struct vm *)arg)->mailbox);
}

static void stop_cb(struct vm *vm, void *opaque)
{
	struct penv *e = opaque;

	(void)vm;
	if (e->pl)
		plugin_vm_stopping(e->pl);
}

int penv_init(struct penv *e)
{
	char why[256];
	int err;

	memset(e, 0, sizeof(*e));
	e->main_fd = -1;
	for (unsigned i = 0; i < PENV_VCPUS; i++)
		e->vcpu_fd[i] = -1;
	err = kvm_host_open(&e->kvm, NULL, why, sizeof(why));
	if (err)
		return err;
	e->base = event_base_new();
	e->reply = malloc(PENV_REPLY);
	if (!e->base || !e->reply)
		return -ENOMEM;
	if (vcpu_signal_setup() < 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	vg_log_set_level(getenv("FUZZ_VERBOSE") ? VG_LOG_DEBUG : VG_LOG_ERR);
	return 0;
}

void penv_fini(struct penv *e)
{
	penv_down(e);
	if (e->base)
		event_base_free(e->base);
	free(e->reply);
	kvm_host_close(&e->kvm);
}

int penv_up(struct penv *e)
{
	struct vm_config cfg = { .mem_size = 0, .nr_vcpus = PENV_VCPUS, .irqchip = true };
	char why[256];
	int sv[2], err;

	err = vm_create(&e->vm, &e->kvm, &cfg, why, sizeof(why));
	if (err)
		return err;
	e->mbox_ev = event_new(e->base, mailbox_fd(&e->vm->mailbox), EV_READ | EV_PERSIST,
			       mbox_cb, e->vm);
	if (!e->mbox_ev || event_add(e->mbox_ev, NULL) < 0)
		return -ENOMEM;
	err = vm_on_stop(e->vm, stop_cb, e);
	if (err)
		return err;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	err = plugin_attach(e->vm, e->base, sv[0], &e->pl);
	if (err) {
		close(sv[1]);
		return err;
	}
	e->main_fd = sv[1];
	return 0;
}

void penv_down(struct penv *e)
{
	if (e->vm)
		vm_shutdown(e->vm);
	plugin_detach(&e->pl);
	if (e->mbox_ev) {
		event_free(e->mbox_ev);
		e->mbox_ev = NULL;
	}
	vm_free(e->vm);
	e->vm = NULL;
	if (e->main_fd >= 0)
		close(e->main_fd);
	e->main_fd = -1;
	for (unsigned i = 0; i < PENV_VCPUS; i++) {
		if (e->vcpu_fd[i] >= 0)
			close(e->vcpu_fd[i]);
		e->vcpu_fd[i] = -1;
	}
}

void penv_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int memfd(size_t size, bool seal)
{
	int fd = memfd_create("penv", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

unsigned penv_pool_fds(unsigned kind, int fds[2])
{
	switch (kind % PENV_POOL) {
	case 1: fds[0] = memfd(64 << 10, true); return 1;
	case 2: fds[0] = memfd(64 << 10, false); return 1;
	case 3: fds[0] = eventfd(0, EFD_CLOEXEC); return 1;
	case 4: fds[0] = open("/dev/null", O_RDWR | O_CLOEXEC); return 1;
	case 5:
		fds[0] = memfd(64 << 10, true);
		fds[1] = memfd(64 << 10, true);
		return 2;
	case 6: fds[0] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); return 1;
	case 7: fds[0] = memfd(4096, true); return 1;
	default: return 0;
	}
}

static int sendpkt(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned n = 0;

	for (unsigned i = 0; i < nfds && i < 4; i++)
		if (fds[i] >= 0)
			n++;
	if (n) {
		struct cmsghdr *cm;
		int *p;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		p = (int *)CMSG_DATA(cm);
		for (unsigned i = 0; i < nfds && i < 4; i++)
			if (fds[i] >= 0)
				*p++ = fds[i];
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

int penv_read(struct penv *e, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = e->reply, .iov_len = PENV_REPLY };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	e->reply_len = (size_t)r;
	e->reply_nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		unsigned n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int f;

		for (unsigned i = 0; i < n; i++) {
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			close(f);
			e->reply_nfds++;
		}
	}
	return r == 0 && !(mh.msg_flags & MSG_TRUNC) && !e->reply_nfds ? -EPIPE : 1;
}

void penv_pump(struct penv *e)
{
	event_base_loop(e->base, EVLOOP_NONBLOCK);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int penv_call(struct penv *e, int fd, const void *buf, size_t len, const int *fds,
	      unsigned nfds, int timeout_ms)
{
	struct timespec t0;
	int r;

	r = sendpkt(fd, buf, len, fds, nfds);
	if (r)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = mailbox_fd(&e->vm->mailbox), .events = POLLIN },
		};

		penv_pump(e);
		r = penv_read(e, fd);
		if (r)
			return r;
		if (ms_since(&t0) >= timeout_ms)
			return 0;
		poll(p, 2, 1);
	}
}

static int main_call(struct penv *e, MainRequest *req, int timeout_ms)
{
	size_t len = main_request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	unsigned rc;
	int r;

	if (!buf)
		return -ENOMEM;
	main_request__pack(req, buf);
	r = penv_call(e, e->main_fd, buf, len, NULL, 0, timeout_ms);
	free(buf);
	if (r <= 0)
		return r ? r : -ETIMEDOUT;
	return penv_main_reply(e, &rc);
}

int penv_get_vcpus(struct penv *e)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * PENV_VCPUS)];
		struct cmsghdr align;
	} ctl;
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__GetVcpus gv = MAIN_REQUEST__GET_VCPUS__INIT;
	uint8_t buf[64], rbuf[256];
	struct iovec iov = { .iov_base = rbuf, .iov_len = sizeof(rbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm;
	size_t len;

	req.message_case = MAIN_REQUEST__MESSAGE_GET_VCPUS;
	req.get_vcpus = &gv;
	len = main_request__pack(&req, buf);
	if (sendpkt(e->main_fd, buf, len, NULL, 0) < 0)
		return -EIO;
	penv_pump(e);
	if (recvmsg(e->main_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
		return -errno;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_len != CMSG_LEN(sizeof(int) * PENV_VCPUS))
		return -EPROTO;
	memcpy(e->vcpu_fd, CMSG_DATA(cm), sizeof(int) * PENV_VCPUS);
	return 0;
}

int penv_start(struct penv *e)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Start st = MAIN_REQUEST__START__INIT;

	req.message_case = MAIN_REQUEST__MESSAGE_START;
	req.start = &st;
	return main_call(e, &req, 1000);
}

int penv_pause(struct penv *e, uint64_t mask, uint64_t user)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__PauseVcpus pv = MAIN_REQUEST__PAUSE_VCPUS__INIT;

	pv.cpu_mask = mask;
	pv.user = user;
	req.message_case = MAIN_REQUEST__MESSAGE_PAUSE_VCPUS;
	req.pause_vcpus = &pv;
	return main_call(e, &req, 1000);
}

int penv_main_reply(struct penv *e, unsigned *resp_case)
{
	MainResponse *m = main_response__unpack(NULL, e->reply_len, e->reply);
	int err;

	if (!m)
		return -EBADMSG;
	*resp_case = m->message_case;
	err = m->error;
	main_response__free_unpacked(m, NULL);
	return err;
}

int penv_vcpu_reply(struct penv *e, unsigned *resp_case)
{
	VcpuResponse *m = vcpu_response__unpack(NULL, e->reply_len, e->reply);
	int err;

	if (!m)
		return -EBADMSG;
	*resp_case = m->message_case;
	err = m->error;
	vcpu_response__free_unpacked(m, NULL);
	return err;
}

int penv_reset(struct penv *e)
{
	int sv[2], err;

	if (!e->vm || e->vm->started || vm_stop_requested(e->vm)) {
		penv_down(e);
		return penv_up(e);
	}
	plugin_detach(&e->pl);
	penv_pump(e);
	close(e->main_fd);
	e->main_fd = -1;
	for (unsigned i = 0; i < PENV_VCPUS; i++) {
		if (e->vcpu_fd[i] >= 0)
			close(e->vcpu_fd[i]);
		e->vcpu_fd[i] = -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	err = plugin_attach(e->vm, e->base, sv[0], &e->pl);
	if (err) {
		close(sv[1]);
		return err;
	}
	e->main_fd = sv[1];
	return 0;
}

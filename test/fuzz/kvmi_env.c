/* The introspection fuzz environment: see kvmi_env.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <vigil/kvmi.h>

#include "guest_loader.h"
#include "kvmi.h"
#include "kvmi_env.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

static const char *guest_path;

static void mbox_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mailbox_drain(&((struct vm *)arg)->mailbox);
}

int kenv_init(struct kenv *e, const char *guest)
{
	char why[256];
	int err;

	memset(e, 0, sizeof(*e));
	e->fd = -1;
	guest_path = guest;
	err = kvm_host_open(&e->kvm, NULL, why, sizeof(why));
	if (err)
		return err;
	e->base = event_base_new();
	e->msg = malloc(KENV_MSG);
	if (!e->base || !e->msg)
		return -ENOMEM;
	if (vcpu_signal_setup() < 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	vg_log_set_level(getenv("FUZZ_VERBOSE") ? VG_LOG_DEBUG : VG_LOG_ERR);
	snprintf(e->path, sizeof(e->path), "/tmp/vigil-fuzz-kvmi.%d", (int)getpid());
	return 0;
}

void kenv_fini(struct kenv *e)
{
	kenv_down(e);
	if (e->base)
		event_base_free(e->base);
	free(e->msg);
	kvm_host_close(&e->kvm);
}

int kenv_up(struct kenv *e)
{
	struct vm_config cfg = { .mem_size = 8 << 20, .nr_vcpus = KENV_VCPUS, .irqchip = true };
	struct kvmi_config kc = { .path = e->path, .answer_timeout_ms = 500 };
	char why[256];
	int err;

	err = vm_create(&e->vm, &e->kvm, &cfg, why, sizeof(why));
	if (!err)
		err = guest_load_elf(e->vm, guest_path, why, sizeof(why));
	if (err) {
		fprintf(stderr, "kenv: %s\n", why);
		return err;
	}
	e->mbox_ev = event_new(e->base, mailbox_fd(&e->vm->mailbox), EV_READ | EV_PERSIST,
			       mbox_cb, e->vm);
	if (!e->mbox_ev || event_add(e->mbox_ev, NULL) < 0)
		return -ENOMEM;
	unlink(e->path);
	err = kvmi_new(&e->k, e->vm, e->base, &kc);
	if (!err)
		err = vm_start(e->vm);
	if (!err)
		err = kenv_connect(e);
	return err;
}

void kenv_down(struct kenv *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	/* As vigild does: the engine goes after the vCPU threads are joined
	 * (a vCPU may still be inside an event). */
	if (e->vm)
		vm_shutdown(e->vm);
	kvmi_free(&e->k);
	if (e->mbox_ev) {
		event_free(e->mbox_ev);
		e->mbox_ev = NULL;
	}
	vm_free(e->vm);
	e->vm = NULL;
}

void kenv_pump(struct kenv *e)
{
	event_base_loop(e->base, EVLOOP_NONBLOCK);
}

int kenv_read(struct kenv *e)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = e->msg, .iov_len = KENV_MSG };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct vigil_kvmi_hdr h;
	ssize_t r;

	if (e->fd < 0)
		return -EPIPE;
	r = recvmsg(e->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		unsigned n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int f;

		for (unsigned i = 0; i < n; i++) {
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			close(f);
		}
	}
	if (r == 0)
		return -EPIPE;
	e->msg_len = (size_t)r;
	if (e->msg_len >= sizeof(h)) {
		memcpy(&h, e->msg, sizeof(h));
		if (h.msg_id == VIGIL_KVMI_EVENT) {
			e->last_event_seq = h.seq;
			e->nr_events++;
		}
	}
	return 1;
}

int kenv_connect(struct kenv *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vigil_kvmi_hdr h;

	strcpy(sa.sun_path, e->path);
	e->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return -errno;
	if (connect(e->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (int i = 0; i < 2000; i++) {
		struct pollfd p = { .fd = e->fd, .events = POLLIN };

		kenv_pump(e);
		if (kenv_read(e) == 1) {
			memcpy(&h, e->msg, sizeof(h));
			return h.msg_id == VIGIL_KVMI_ATTACH ? 0 : -EPROTO;
		}
		poll(&p, 1, 1);
	}
	return -ETIMEDOUT;
}

void kenv_disconnect(struct kenv *e)
{
	if (e->fd < 0)
		return;
	close(e->fd);
	e->fd = -1;
	kenv_pump(e);
}

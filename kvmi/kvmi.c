/* Engine lifetime: listening socket, per-vCPU state, hooks. */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kvmi_int.h"
#include "log.h"
#include "monotonic.h"

void kvmi_accept_cb(evutil_socket_t lfd, short what, void *arg);
int kvmi_hypercall_io(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		      void *data, unsigned len);

static int kvmi_listen(struct kvmi *k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(k->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, k->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0077);  /* the socket is created 0600 */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(k->path, 0600) < 0 || listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	k->listen_fd = fd;
	return 0;
}

static int kvmi_vcpus_init(struct kvmi *k)
{
	unsigned i;

	k->nr_vcpus = k->vm->nr_vcpus;
	k->vcpus = calloc(k->nr_vcpus, sizeof(*k->vcpus));
	if (!k->vcpus)
		return -ENOMEM;
	for (i = 0; i < k->nr_vcpus; i++) {
		struct kvmi_vcpu *kv = &k->vcpus[i];

		kv->k = k;
		kv->vcpu = k->vm->vcpus[i];
		pthread_mutex_init(&kv->lock, NULL);
		kv->vcpu->priv[VCPU_PRIV_KVMI] = kv;
	}
	return 0;
}

static void kvmi_enable_vm_caps(struct kvmi *k)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXCEPTION_PAYLOAD, .args = { 1 } };

	if (k->caps.exception_payload && ioctl(k->vm->fd, KVM_ENABLE_CAP, &cap) < 0) {
		log_debug("kvmi: KVM_CAP_EXCEPTION_PAYLOAD: %s", strerror(errno));
		k->caps.exception_payload = false;
	}
}

int kvmi_new(struct kvmi **out, struct vm *vm, struct event_base *base,
	     const struct kvmi_config *cfg)
{
	struct kvmi *k;
	int r = -ENOMEM;

	if (!cfg->path || !*cfg->path)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->vm = vm;
	k->base = base;
	k->cfg = *cfg;
	k->listen_fd = -1;
	k->conn_fd = -1;
	pthread_rwlock_init(&k->conn_lock, NULL);
	pthread_mutex_init(&k->q_lock, NULL);
	cond_init_monotonic(&k->q_cond);
	if (!k->cfg.answer_timeout_ms)
		k->cfg.answer_timeout_ms = KVMI_DEFAULT_TIMEOUT_MS;
	atomic_store(&k->generation, 1);
	atomic_store(&k->next_seq, 1);
	k->path = strdup(cfg->path);
	if (!k->path || kvmi_pages_init(&k->pages) < 0 || kvmi_vcpus_init(k) < 0)
		goto fail;
	if (kvmi_dma_init(&k->dma) < 0)
		goto fail;
	k->dma_ready = true;
	kvmi_caps_probe(k);
	kvmi_enable_vm_caps(k);
	r = iobus_register(&vm->pio, VIGIL_KVMI_HYPERCALL_PORT, 4, kvmi_hypercall_io, k);
	if (r < 0)
		goto fail;
	k->port_registered = true;
	r = kvmi_listen(k);
	if (r < 0)
		goto fail;
	k->ev_listen = event_new(base, k->listen_fd, EV_READ | EV_PERSIST, kvmi_accept_cb, k);
	if (!k->ev_listen || event_add(k->ev_listen, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	vm_set_hooks(vm, &kvmi_hooks, k);
	*out = k;
	return 0;
fail:
	kvmi_free(&k);
	return r;
}

void kvmi_free(struct kvmi **kp)
{
	struct kvmi *k = *kp;
	unsigned i;

	if (!k)
		return;
	if (k->dma_ready)
		kvmi_dma_shutdown(k);
	kvmi_detach(k, VIGIL_KVMI_UNHOOK_SHUTDOWN);
	if (k->vcpus)
		vm_set_hooks(k->vm, NULL, NULL);
	if (k->port_registered)
		iobus_unregister(&k->vm->pio, VIGIL_KVMI_HYPERCALL_PORT);
	if (k->ev_listen)
		event_free(k->ev_listen);
	if (k->listen_fd >= 0) {
		close(k->listen_fd);
		unlink(k->path);
	}
	for (i = 0; k->vcpus && i < k->nr_vcpus; i++) {
		k->vcpus[i].vcpu->priv[VCPU_PRIV_KVMI] = NULL;
		free(k->vcpus[i].cpuid);
		pthread_mutex_destroy(&k->vcpus[i].lock);
	}
	free(k->vcpus);
	kvmi_pages_fini(&k->pages);
	if (k->dma_ready)
		kvmi_dma_fini(&k->dma);
	pthread_cond_destroy(&k->q_cond);
	pthread_rwlock_destroy(&k->conn_lock);
	pthread_mutex_destroy(&k->q_lock);
	free(k->path);
	free(k);
	*kp = NULL;
}

bool kvmi_attached(const struct kvmi *k)
{
	return k && k->conn;
}

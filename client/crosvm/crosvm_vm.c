/* crosvm.h: connections, VM-wide requests and the vCPU handles. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static struct crosvm *conn_new(int fd, struct crosvm_shared *shared)
{
	struct crosvm *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->shared = shared;
	atomic_fetch_add(&shared->refs, 1);
	return c;
}

static void conn_free(struct crosvm *c)
{
	for (uint32_t i = 0; i < c->nr_vcpus; i++)
		cv_vcpu_free(c->vcpus[i]);
	free(c->vcpus);
	if (atomic_fetch_sub(&c->shared->refs, 1) == 1)
		free(c->shared);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

CV_EXPORT int crosvm_connect(struct crosvm **out)
{
	const char *env = getenv("CROSVM_SOCKET");
	struct crosvm_shared *shared;
	char *end;
	long fd;
	int type;
	socklen_t tl = sizeof(type);

	if (!out)
		return -EINVAL;
	if (!env || !*env)
		return -ENOTCONN;
	errno = 0;
	fd = strtol(env, &end, 10);
	if (errno || *end || fd < 0 || fd > 0x7fffffff)
		return -EINVAL;
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -errno;
	if (type != SOCK_SEQPACKET)
		return -ENOTSOCK;
	shared = calloc(1, sizeof(*shared));
	if (!shared)
		return -ENOMEM;
	atomic_init(&shared->next_id, 1);
	atomic_init(&shared->refs, 0);
	*out = conn_new((int)fd, shared);
	if (!*out) {
		free(shared);
		return -ENOMEM;
	}
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

CV_EXPORT int crosvm_new_connection(struct crosvm *c, struct crosvm **out)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__NewConnection nc = MAIN_REQUEST__NEW_CONNECTION__INIT;
	MainResponse *resp;
	unsigned nin;
	int fd, ret;

	if (!c || !out)
		return -EINVAL;
	req.message_case = MAIN_REQUEST__MESSAGE_NEW_CONNECTION;
	req.new_connection = &nc;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, &fd, 1, &nin, 0);
	if (ret)
		return ret;
	main_response__free_unpacked(resp, NULL);
	if (nin != 1)
		return -EPROTO;
	*out = conn_new(fd, c->shared);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

CV_EXPORT int crosvm_destroy_connection(struct crosvm **c)
{
	if (!c || !*c)
		return -EINVAL;
	conn_free(*c);
	*c = NULL;
	return 0;
}

/* A request whose response carries nothing but the error (and maybe fds). */
static int simple_xfer(struct crosvm *c, MainRequest *req, int *fds, unsigned nfds)
{
	MainResponse *resp;
	unsigned nin = 0;
	int ret;

	ret = cv_main_xfer(c, req, NULL, 0, &resp, fds, nfds, nfds ? &nin : NULL, 0);
	if (ret)
		return ret;
	main_response__free_unpacked(resp, NULL);
	if (nin != nfds) {
		cv_close_fds(fds, nin);
		return -EPROTO;
	}
	return 0;
}

CV_EXPORT int crosvm_get_shutdown_eventfd(struct crosvm *c)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__GetShutdownEventfd m = MAIN_REQUEST__GET_SHUTDOWN_EVENTFD__INIT;
	int fd, ret;

	if (!c)
		return -EINVAL;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD;
	req.get_shutdown_eventfd = &m;
	ret = simple_xfer(c, &req, &fd, 1);
	return ret ? ret : fd;
}

CV_EXPORT int crosvm_check_extension(struct crosvm *c, uint32_t extension, bool *has)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__CheckExtension m = MAIN_REQUEST__CHECK_EXTENSION__INIT;
	MainResponse *resp;
	int ret;

	if (!c || !has)
		return -EINVAL;
	m.extension = extension;
	req.message_case = MAIN_REQUEST__MESSAGE_CHECK_EXTENSION;
	req.check_extension = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL, 0);
	if (ret)
		return ret;
	*has = resp->check_extension->has_extension;
	main_response__free_unpacked(resp, NULL);
	return 0;
}

CV_EXPORT int crosvm_enable_capability(struct crosvm *c, uint32_t capability, uint32_t flags,
				       uint64_t args[4])
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__EnableCapability m = MAIN_REQUEST__ENABLE_CAPABILITY__INIT;
	uint64_t zero[4] = { 0 };

	if (!c)
		return -EINVAL;
	m.capability = capability;
	m.flags = flags;
	m.n_args = 4;
	m.args = args ? args : zero;
	req.message_case = MAIN_REQUEST__MESSAGE_ENABLE_CAPABILITY;
	req.enable_capability = &m;
	return simple_xfer(c, &req, NULL, 0);
}

static int reserve(struct crosvm *c, uint32_t space, uint64_t start, uint64_t length,
		   bool async_write)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__ReserveRange m = MAIN_REQUEST__RESERVE_RANGE__INIT;

	if (!c)
		return -EINVAL;
	if (space != CROSVM_ADDRESS_SPACE_IOPORT && space != CROSVM_ADDRESS_SPACE_MMIO)
		return -EINVAL;
	m.space = space;
	m.start = start;
	m.length = length;
	m.async_write = async_write;
	req.message_case = MAIN_REQUEST__MESSAGE_RESERVE_RANGE;
	req.reserve_range = &m;
	return simple_xfer(c, &req, NULL, 0);
}

CV_EXPORT int crosvm_reserve_range(struct crosvm *c, uint32_t space, uint64_t start,
				   uint64_t length)
{
	return reserve(c, space, start, length, false);
}

CV_EXPORT int crosvm_reserve_async_write_range(struct crosvm *c, uint32_t space,
					       uint64_t start, uint64_t length)
{
	return reserve(c, space, start, length, true);
}

CV_EXPORT int crosvm_set_irq(struct crosvm *c, uint32_t irq_id, bool active)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetIrq m = MAIN_REQUEST__SET_IRQ__INIT;

	if (!c)
		return -EINVAL;
	m.irq_id = irq_id;
	m.active = active;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_IRQ;
	req.set_irq = &m;
	return simple_xfer(c, &req, NULL, 0);
}

CV_EXPORT int crosvm_set_identity_map_addr(struct crosvm *c, uint32_t addr)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetIdentityMapAddr m = MAIN_REQUEST__SET_IDENTITY_MAP_ADDR__INIT;

	if (!c)
		return -EINVAL;
	m.address = addr;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR;
	req.set_identity_map_addr = &m;
	return simple_xfer(c, &req, NULL, 0);
}

CV_EXPORT int crosvm_pause_vcpus(struct crosvm *c, uint64_t cpu_mask, void *user)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__PauseVcpus m = MAIN_REQUEST__PAUSE_VCPUS__INIT;

	if (!c)
		return -EINVAL;
	m.cpu_mask = cpu_mask;
	m.user = (uint64_t)(uintptr_t)user;
	req.message_case = MAIN_REQUEST__MESSAGE_PAUSE_VCPUS;
	req.pause_vcpus = &m;
	return simple_xfer(c, &req, NULL, 0);
}

CV_EXPORT int crosvm_start(struct crosvm *c)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Start m = MAIN_REQUEST__START__INIT;

	if (!c)
		return -EINVAL;
	req.message_case = MAIN_REQUEST__MESSAGE_START;
	req.start = &m;
	return simple_xfer(c, &req, NULL, 0);
}

CV_EXPORT int crosvm_net_get_config(struct crosvm *c, struct crosvm_net_config *cfg)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__GetNetConfig m = MAIN_REQUEST__GET_NET_CONFIG__INIT;
	MainResponse *resp;
	unsigned nin;
	int fd, ret;

	if (!c || !cfg)
		return -EINVAL;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_NET_CONFIG;
	req.get_net_config = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, &fd, 1, &nin, 0);
	if (ret)
		return ret;
	if (nin != 1 || resp->get_net_config->host_mac_address.len != 6) {
		cv_close_fds(&fd, nin);
		main_response__free_unpacked(resp, NULL);
		return -EPROTO;
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->tap_fd = fd;
	cfg->host_ip = resp->get_net_config->host_ip;
	cfg->netmask = resp->get_net_config->netmask;
	memcpy(cfg->host_mac_address, resp->get_net_config->host_mac_address.data, 6);
	main_response__free_unpacked(resp, NULL);
	return 0;
}

int cv_load_vcpus(struct crosvm *c)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__GetVcpus m = MAIN_REQUEST__GET_VCPUS__INIT;
	MainResponse *resp;
	int fds[CROSVM_MAX_FDS];
	unsigned nin;
	int ret;

	if (c->vcpus_loaded)
		return c->vcpus_loaded < 0 ? c->vcpus_loaded : 0;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_VCPUS;
	req.get_vcpus = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, fds, CROSVM_MAX_FDS, &nin, 0);
	if (ret)
		return ret;
	if (resp->get_vcpus->count != nin) {
		ret = -EPROTO;
		goto out;
	}
	c->vcpus = calloc(nin ? nin : 1, sizeof(*c->vcpus));
	if (!c->vcpus) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < nin; i++) {
		struct crosvm_vcpu *v = calloc(1, sizeof(*v));

		if (!v || cv_grow(&v->buf, &v->buf_size, CROSVM_RESP_BUF)) {
			free(v);
			ret = -ENOMEM;
			goto out;
		}
		v->fd = fds[i];
		fds[i] = -1;
		v->id = i;
		c->vcpus[c->nr_vcpus++] = v;
	}
	c->vcpus_loaded = 1;
out:
	cv_close_fds(fds, nin);
	main_response__free_unpacked(resp, NULL);
	return ret;
}

CV_EXPORT int crosvm_get_vcpu(struct crosvm *c, uint32_t cpu_id, struct crosvm_vcpu **out)
{
	int ret;

	if (!c || !out)
		return -EINVAL;
	ret = cv_load_vcpus(c);
	if (ret)
		return ret;
	if (cpu_id >= c->nr_vcpus)
		return -ENOENT;
	*out = c->vcpus[cpu_id];
	return 0;
}

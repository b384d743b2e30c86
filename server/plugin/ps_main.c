/*
 * MainRequest dispatch (reactor): one switch calling a handler per request,
 * then exactly one reply carrying the error and the fds the handler produced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iobus.h"
#include "log.h"
#include "ps.h"
#include "vm.h"

struct mreply {
	MainResponse resp;
	int fds[PS_MAX_FDS];
	unsigned nfds;
	bool close_fds;             /* the fds are ours to close after sending */
	void *heap[2];
	union {
		MainResponse__CheckExtension check;
		MainResponse__GetVcpus vcpus;
		MainResponse__MemoryDirtyLog dlog;
		MainResponse__CpuidResponse cpuid;
		MainResponse__MsrListResponse msrs;
		MainResponse__GetState state;
		MainResponse__Create create;
	} body;
	uint8_t state_buf[4096];
};

static const ProtobufCMessageDescriptor *empty_body(unsigned req_case)
{
	switch (req_case) {
	case MAIN_REQUEST__MESSAGE_CREATE: return &main_response__create__descriptor;
	case MAIN_REQUEST__MESSAGE_DESTROY: return &main_response__destroy__descriptor;
	case MAIN_REQUEST__MESSAGE_NEW_CONNECTION: return &main_response__new_connection__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD:
		return &main_response__get_shutdown_eventfd__descriptor;
	case MAIN_REQUEST__MESSAGE_CHECK_EXTENSION: return &main_response__check_extension__descriptor;
	case MAIN_REQUEST__MESSAGE_RESERVE_RANGE: return &main_response__reserve_range__descriptor;
	case MAIN_REQUEST__MESSAGE_SET_IRQ: return &main_response__set_irq__descriptor;
	case MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING: return &main_response__set_irq_routing__descriptor;
	case MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR:
		return &main_response__set_identity_map_addr__descriptor;
	case MAIN_REQUEST__MESSAGE_PAUSE_VCPUS: return &main_response__pause_vcpus__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_VCPUS: return &main_response__get_vcpus__descriptor;
	case MAIN_REQUEST__MESSAGE_START: return &main_response__start__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID:
	case MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID:
		return &main_response__cpuid_response__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST:
		return &main_response__msr_list_response__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_NET_CONFIG: return &main_response__get_net_config__descriptor;
	case MAIN_REQUEST__MESSAGE_SET_CALL_HINT: return &main_response__set_call_hint__descriptor;
	case MAIN_REQUEST__MESSAGE_GET_STATE: return &main_response__get_state__descriptor;
	case MAIN_REQUEST__MESSAGE_SET_STATE: return &main_response__set_state__descriptor;
	case MAIN_REQUEST__MESSAGE_ENABLE_CAPABILITY:
		return &main_response__enable_capability__descriptor;
	case MAIN_REQUEST__MESSAGE_DIRTY_LOG: return &main_response__memory_dirty_log__descriptor;
	default: return NULL;
	}
}

static unsigned resp_case(unsigned req_case)
{
	return req_case == MAIN_REQUEST__MESSAGE_DIRTY_LOG ? MAIN_RESPONSE__MESSAGE_DIRTY_LOG
							   : req_case + 1;
}

/* Point the reply's oneof at r->body, initialised for @req_case. */
static void *set_body(struct mreply *r, unsigned req_case)
{
	const ProtobufCMessageDescriptor *d = empty_body(req_case);

	if (!d)
		return NULL;
	protobuf_c_message_init(d, &r->body);
	r->resp.message_case = (MainResponse__MessageCase)resp_case(req_case);
	r->resp.create = (MainResponse__Create *)&r->body;
	return &r->body;
}

/* A retired record of exactly this range: a vCPU still in its handler reads
 * the same values whether it serves again or not. */
static struct preserve *retired_match(struct plugin *pl, const MainRequest__ReserveRange *m)
{
	struct preserve *res;

	LIST_FOREACH(res, &pl->reserves, link)
		if (!res->active && res->space == m->space && res->start == m->start &&
		    res->length == m->length && res->async == m->async_write)
			return res;
	return NULL;
}

static int reserve_add(struct plugin *pl, struct iobus *bus, const MainRequest__ReserveRange *m)
{
	struct preserve *res = retired_match(pl, m);
	bool fresh = !res;
	int err;

	if (fresh && pl->nr_reserves >= PS_RESERVE_MAX)
		return -ENOSPC;
	if (fresh) {
		res = calloc(1, sizeof(*res));
		if (!res)
			return -ENOMEM;
		*res = (struct preserve){ .pl = pl, .space = m->space, .start = m->start,
					  .length = m->length, .async = m->async_write };
	}
	err = iobus_register(bus, m->start, m->length, ps_io_handler, res);
	if (err) {
		if (fresh)
			free(res);
		return err;
	}
	res->active = true;
	if (fresh) {
		LIST_INSERT_HEAD(&pl->reserves, res, link);
		pl->nr_reserves++;
	}
	return 0;
}

static int reserve_range(struct plugin *pl, const MainRequest__ReserveRange *m)
{
	struct iobus *bus = m->space == ADDRESS_SPACE__IOPORT ? &pl->vm->pio : &pl->vm->mmio;
	struct preserve *res;
	int err;

	if (m->space != ADDRESS_SPACE__IOPORT && m->space != ADDRESS_SPACE__MMIO)
		return -EINVAL;
	if (m->length == 0) {
		LIST_FOREACH(res, &pl->reserves, link)
			if (res->active && res->space == m->space && res->start == m->start)
				break;
		if (!res)
			return -ENOENT;
		err = iobus_unregister(bus, m->start);
		if (!err)
			res->active = false;  /* kept: a vCPU may still be in its handler */
		return err;
	}
	if (m->start + m->length < m->start ||
	    (m->space == ADDRESS_SPACE__IOPORT && m->start + m->length > 0x10000))
		return -EINVAL;
	return reserve_add(pl, bus, m);
}

static int set_irq_routing(struct plugin *pl, const MainRequest__SetIrqRouting *m)
{
	struct kvm_irq_routing *rt;
	size_t n = m->n_routes;
	int err = 0;

	if (n > 4096)   /* KVM_MAX_IRQ_ROUTES */
		return -EINVAL;
	rt = calloc(1, sizeof(*rt) + n * sizeof(struct kvm_irq_routing_entry));
	if (!rt)
		return -ENOMEM;
	rt->nr = (uint32_t)n;
	for (size_t i = 0; i < n && !err; i++) {
		const MainRequest__SetIrqRouting__Route *r = m->routes[i];
		struct kvm_irq_routing_entry *e = &rt->entries[i];

		e->gsi = r->irq_id;
		if (r->route_case == MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP) {
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = r->irqchip->irqchip;
			e->u.irqchip.pin = r->irqchip->pin;
		} else if (r->route_case == MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI) {
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = (uint32_t)r->msi->address;
			e->u.msi.address_hi = (uint32_t)(r->msi->address >> 32);
			e->u.msi.data = r->msi->data;
		} else {
			err = -EINVAL;
		}
	}
	if (!err && ioctl(pl->vm->fd, KVM_SET_GSI_ROUTING, rt) < 0)
		err = -errno;
	free(rt);
	return err;
}

static int pause_vcpus(struct plugin *pl, const MainRequest__PauseVcpus *m)
{
	for (unsigned i = 0; i < pl->nr_vcpus && i < 64; i++) {
		struct pvcpu *pv = &pl->vcpus[i];

		if (!(m->cpu_mask & (1ULL << i)))
			continue;
		pthread_mutex_lock(&pv->lock);
		if (pv->pause_n == PS_PAUSE_MAX) {
			pthread_mutex_unlock(&pv->lock);
			return -EAGAIN;
		}
		pv->pause_q[(pv->pause_head + pv->pause_n) % PS_PAUSE_MAX] = m->user;
		pv->pause_n++;
		pthread_mutex_unlock(&pv->lock);
		if (pv->vcpu)   /* before Start: Start sets the request */
			vcpu_request(pv->vcpu, VCPU_REQ_PLUGIN);
	}
	return 0;
}

static int start(struct plugin *pl)
{
	int err;

	if (pl->started)
		return -EINVAL;
	err = ps_vcpus_create(pl);
	if (err)
		return err;
	for (unsigned i = 0; i < pl->nr_vcpus; i++)
		atomic_fetch_or(&pl->vcpus[i].vcpu->requests, VCPU_REQ_PLUGIN);
	err = vm_start(pl->vm);
	if (err)
		return err;
	pl->started = true;
	return 0;
}

static bool hint_same(const struct phint *a, const struct phint *b)
{
	if (a->space != b->space || a->address != b->address || a->on_write != b->on_write ||
	    a->nr != b->nr)
		return false;
	for (unsigned i = 0; i < a->nr; i++) {
		const MainRequest__SetCallHint__RegHint *x = &a->d[i], *y = &b->d[i];

		if (x->match_rax != y->match_rax || x->match_rbx != y->match_rbx ||
		    x->match_rcx != y->match_rcx || x->match_rdx != y->match_rdx ||
		    x->rax != y->rax || x->rbx != y->rbx || x->rcx != y->rcx || x->rdx != y->rdx ||
		    x->send_sregs != y->send_sregs || x->send_debugregs != y->send_debugregs)
			return false;
	}
	return true;
}

/* Publish @h, or an identical hint already kept; -ENOSPC past PS_HINTS_MAX. */
static int hint_publish(struct plugin *pl, struct phint *h)
{
	struct phint *old;

	LIST_FOREACH(old, &pl->hints, link) {
		if (hint_same(old, h)) {
			free(h);
			atomic_store(&pl->hint, old);
			return 0;
		}
	}
	if (pl->nr_hints >= PS_HINTS_MAX) {
		free(h);
		return -ENOSPC;
	}
	LIST_INSERT_HEAD(&pl->hints, h, link);   /* freed at the end: vCPUs read it */
	pl->nr_hints++;
	atomic_store(&pl->hint, h);
	return 0;
}

static int set_hint(struct plugin *pl, const MainRequest__SetCallHint *m)
{
	struct phint *h;

	if (m->address == 0) {
		atomic_store(&pl->hint, NULL);
		return 0;
	}
	if (m->n_hints > 32 || (m->space != ADDRESS_SPACE__IOPORT && m->space != ADDRESS_SPACE__MMIO))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->space = m->space;
	h->address = m->address;
	h->on_write = m->on_write;
	h->nr = (unsigned)m->n_hints;
	for (unsigned i = 0; i < h->nr; i++) {
		h->d[i] = *m->hints[i];
		h->d[i].base.n_unknown_fields = 0;
		h->d[i].base.unknown_fields = NULL;
	}
	return hint_publish(pl, h);
}

static int new_connection(struct plugin *pl, struct mreply *r)
{
	int err = pconn_pair(pl, NULL, &r->fds[0]);

	if (!err) {
		r->nfds = 1;
		r->close_fds = true;
	}
	return err;
}

static int get_vcpus(struct plugin *pl, struct mreply *r)
{
	MainResponse__GetVcpus *b = set_body(r, MAIN_REQUEST__MESSAGE_GET_VCPUS);
	int err;

	if (pl->nr_vcpus > PS_MAX_FDS)
		return -E2BIG;
	r->close_fds = true;
	for (unsigned i = 0; i < pl->nr_vcpus; i++) {
		err = pconn_pair(pl, &pl->vcpus[i], &r->fds[i]);
		if (err)
			return err;   /* the peers made so far are closed with r */
		r->nfds++;
	}
	b->count = pl->nr_vcpus;
	return 0;
}

static int dirty_log(struct plugin *pl, const MainRequest__MemoryDirtyLog *m, struct mreply *r)
{
	MainResponse__MemoryDirtyLog *b = set_body(r, MAIN_REQUEST__MESSAGE_DIRTY_LOG);
	uint8_t *bm;
	size_t len;
	int err = ps_dirty_log(pl, m->id, &bm, &len);

	if (err)
		return err;
	r->heap[0] = bm;
	b->bitmap.data = bm;
	b->bitmap.len = len;
	return 0;
}

static int cpuid(struct plugin *pl, unsigned req_case, struct mreply *r)
{
	MainResponse__CpuidResponse *b = set_body(r, req_case);
	unsigned long nr = req_case == MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID ?
			   KVM_GET_SUPPORTED_CPUID : KVM_GET_EMULATED_CPUID;
	int err = ps_cpuid_list(pl, NULL, nr, &b->entries, &b->n_entries);

	if (!err) {
		r->heap[0] = b->entries;
		r->heap[1] = b->n_entries ? b->entries[0] : NULL;
	}
	return err;
}

static int msr_list(struct plugin *pl, struct mreply *r)
{
	MainResponse__MsrListResponse *b = set_body(r, MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST);
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
	int err;

	if (ioctl(pl->vm->kvm->fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	l = calloc(1, sizeof(*l) + (probe.nmsrs + 1) * sizeof(uint32_t));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(pl->vm->kvm->fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		err = -errno;
		free(l);
		return err;
	}
	r->heap[0] = l;
	b->indices = l->indices;
	b->n_indices = l->nmsrs;
	return 0;
}

static int get_state(struct plugin *pl, const MainRequest__GetState *m, struct mreply *r)
{
	MainResponse__GetState *b = set_body(r, MAIN_REQUEST__MESSAGE_GET_STATE);
	size_t len = sizeof(r->state_buf);
	int err = ps_get_vm_state(pl, m->set, r->state_buf, &len);

	if (!err) {
		b->state.data = r->state_buf;
		b->state.len = len;
	}
	return err;
}

static int check_extension(struct plugin *pl, const MainRequest__CheckExtension *m,
			   struct mreply *r)
{
	MainResponse__CheckExtension *b = set_body(r, MAIN_REQUEST__MESSAGE_CHECK_EXTENSION);
	int v = ioctl(pl->vm->fd, KVM_CHECK_EXTENSION, (unsigned long)m->extension);

	if (v < 0)
		return -errno;
	b->has_extension = v > 0;
	return 0;
}

static int enable_vm_cap(const MainRequest__EnableCapability *m)
{
	(void)m;
	return -EINVAL;   /* crosvm.h 0.22: no VM capability may be enabled */
}

/* Handle @req; fill @r. Returns 0 or -errno. @in_fds: fds that came with it. */
static int dispatch(struct plugin *pl, MainRequest *req, int *in_fds, unsigned nin,
		    struct mreply *r)
{
	switch (req->message_case) {
	case MAIN_REQUEST__MESSAGE_CREATE:
		return ps_create(pl, req->create, in_fds, nin, r->fds, &r->nfds);
	case MAIN_REQUEST__MESSAGE_DESTROY:
		return ps_destroy(pl, req->destroy->id);
	case MAIN_REQUEST__MESSAGE_NEW_CONNECTION:
		return new_connection(pl, r);
	case MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD:
		r->fds[0] = pl->shutdown_efd;
		r->nfds = 1;
		return 0;
	case MAIN_REQUEST__MESSAGE_CHECK_EXTENSION:
		return check_extension(pl, req->check_extension, r);
	case MAIN_REQUEST__MESSAGE_RESERVE_RANGE:
		return reserve_range(pl, req->reserve_range);
	case MAIN_REQUEST__MESSAGE_SET_IRQ: {
		struct kvm_irq_level l = { .irq = req->set_irq->irq_id,
					   .level = req->set_irq->active };

		return ioctl(pl->vm->fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
	}
	case MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING:
		return set_irq_routing(pl, req->set_irq_routing);
	case MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR: {
		uint64_t a = req->set_identity_map_addr->address;

		return ioctl(pl->vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &a) < 0 ? -errno : 0;
	}
	case MAIN_REQUEST__MESSAGE_PAUSE_VCPUS:
		return pause_vcpus(pl, req->pause_vcpus);
	case MAIN_REQUEST__MESSAGE_GET_VCPUS:
		return get_vcpus(pl, r);
	case MAIN_REQUEST__MESSAGE_START:
		return start(pl);
	case MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID:
	case MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID:
		return cpuid(pl, req->message_case, r);
	case MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST:
		return msr_list(pl, r);
	case MAIN_REQUEST__MESSAGE_GET_NET_CONFIG:
		return -ENODATA;   /* vigild gives plugins no tap device */
	case MAIN_REQUEST__MESSAGE_SET_CALL_HINT:
		return set_hint(pl, req->set_call_hint);
	case MAIN_REQUEST__MESSAGE_GET_STATE:
		return get_state(pl, req->get_state, r);
	case MAIN_REQUEST__MESSAGE_SET_STATE:
		return ps_set_vm_state(pl, req->set_state->set, req->set_state->state.data,
				       req->set_state->state.len);
	case MAIN_REQUEST__MESSAGE_ENABLE_CAPABILITY:
		return enable_vm_cap(req->enable_capability);
	case MAIN_REQUEST__MESSAGE_DIRTY_LOG:
		return dirty_log(pl, req->dirty_log, r);
	default:
		return -EINVAL;
	}
}

static void reply_done(struct mreply *r)
{
	if (r->close_fds)
		for (unsigned i = 0; i < r->nfds; i++)
			close(r->fds[i]);
	free(r->heap[0]);
	free(r->heap[1]);
}

void ps_main_request(struct pconn *c, const uint8_t *buf, size_t len, int *fds, unsigned nfds)
{
	struct plugin *pl = c->pl;
	MainRequest *req = buf ? main_request__unpack(NULL, len, buf) : NULL;
	struct mreply *r = calloc(1, sizeof(*r));
	unsigned req_case = req ? req->message_case : 0;
	int err;

	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	main_response__init(&r->resp);
	err = req ? dispatch(pl, req, fds, nfds, r) : -EINVAL;
	if (err) {
		reply_done(r);
		r->nfds = 0;
		r->close_fds = false;
		r->heap[0] = r->heap[1] = NULL;
		r->resp.message_case = MAIN_RESPONSE__MESSAGE__NOT_SET;
		log_debug("plugin: main request %u failed: %s", req_case, strerror(-err));
	}
	r->resp.error = err;
	if (r->resp.message_case == MAIN_RESPONSE__MESSAGE__NOT_SET)
		set_body(r, req_case);
	pconn_send(c, &r->resp.base, r->fds, r->nfds);
	reply_done(r);
out:
	free(r);
	/* Memory fds were mapped (the mapping keeps its own reference). */
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (req)
		main_request__free_unpacked(req, NULL);
}

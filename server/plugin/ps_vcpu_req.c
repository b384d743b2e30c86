/*
 * Requests on a per-vCPU socket (reactor). Wait is answered when the vCPU
 * has an event; Resume completes the vCPU's call; state requests are served
 * with ioctls on the vCPU fd, allowed only while the vCPU is parked on an
 * event the plugin has not resumed yet (VCPU_PARKED rule, vcpu.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "ps.h"
#include "vm.h"

static int reply(struct pconn *c, VcpuResponse *resp)
{
	return pconn_send(c, &resp->base, NULL, 0);
}

/* Body descriptors of VcpuResponse's oneof, by request case (response = +1). */
static const ProtobufCMessageDescriptor *resp_body(unsigned req_case)
{
	switch (req_case) {
	case VCPU_REQUEST__MESSAGE_WAIT: return &vcpu_response__wait__descriptor;
	case VCPU_REQUEST__MESSAGE_RESUME: return &vcpu_response__resume__descriptor;
	case VCPU_REQUEST__MESSAGE_GET_STATE: return &vcpu_response__get_state__descriptor;
	case VCPU_REQUEST__MESSAGE_SET_STATE: return &vcpu_response__set_state__descriptor;
	case VCPU_REQUEST__MESSAGE_GET_MSRS: return &vcpu_response__get_msrs__descriptor;
	case VCPU_REQUEST__MESSAGE_SET_MSRS: return &vcpu_response__set_msrs__descriptor;
	case VCPU_REQUEST__MESSAGE_SET_CPUID: return &vcpu_response__set_cpuid__descriptor;
	case VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID:
		return &vcpu_response__cpuid_response__descriptor;
	case VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY:
		return &vcpu_response__enable_capability__descriptor;
	default: return NULL;
	}
}

/* An error (or empty success) reply naming the request's oneof member. */
static void reply_error(struct pconn *c, unsigned req_case, int err)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	const ProtobufCMessageDescriptor *d = resp_body(req_case);
	union {
		VcpuResponse__Wait w;
		VcpuResponse__GetMsrs m;
		VcpuResponse__CpuidResponse c;
		VcpuResponse__GetState s;
	} body;

	resp.error = err;
	if (d) {
		protobuf_c_message_init(d, &body);
		resp.message_case = (VcpuResponse__MessageCase)(req_case + 1);
		resp.wait = (VcpuResponse__Wait *)&body;
	}
	reply(c, &resp);
}

static void send_io(struct pconn *c, const struct pevent *ev, const struct pasync *a)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
	VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;

	if (a) {
		io.space = a->space;
		io.address = a->addr;
		io.is_write = true;
		io.no_resume = true;
		io.data.data = (uint8_t *)a->data;
		io.data.len = a->len;
	} else {
		io.space = ev->space;
		io.address = ev->addr;
		io.is_write = ev->is_write;
		io.data.data = (uint8_t *)ev->data;
		io.data.len = ev->len;
		if (ev->has_regs) {
			io.regs.data = (uint8_t *)&ev->regs;
			io.regs.len = sizeof(ev->regs);
		}
		if (ev->has_sregs) {
			io.sregs.data = (uint8_t *)&ev->sregs;
			io.sregs.len = sizeof(ev->sregs);
		}
		if (ev->has_debugregs) {
			io.debugregs.data = (uint8_t *)&ev->debugregs;
			io.debugregs.len = sizeof(ev->debugregs);
		}
	}
	w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
	w.io = &io;
	resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
	resp.wait = &w;
	reply(c, &resp);
}

static void send_event(struct pconn *c, const struct pevent *ev)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
	VcpuResponse__Wait__Init init = VCPU_RESPONSE__WAIT__INIT__INIT;
	VcpuResponse__Wait__User user = VCPU_RESPONSE__WAIT__USER__INIT;
	VcpuResponse__Wait__HypervCall hc = VCPU_RESPONSE__WAIT__HYPERV_CALL__INIT;
	VcpuResponse__Wait__HypervSynic sy = VCPU_RESPONSE__WAIT__HYPERV_SYNIC__INIT;

	switch (ev->kind) {
	case PEV_IO:
		send_io(c, ev, NULL);
		return;
	case PEV_INIT:
		w.exit_case = VCPU_RESPONSE__WAIT__EXIT_INIT;
		w.init = &init;
		break;
	case PEV_PAUSED:
		user.user = ev->user;
		w.exit_case = VCPU_RESPONSE__WAIT__EXIT_USER;
		w.user = &user;
		break;
	case PEV_HCALL:
		hc.input = ev->hc_input;
		hc.params0 = ev->hc_params[0];
		hc.params1 = ev->hc_params[1];
		w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL;
		w.hyperv_call = &hc;
		break;
	default:
		sy.msr = ev->synic_msr;
		sy.control = ev->synic_control;
		sy.evt_page = ev->synic_evt_page;
		sy.msg_page = ev->synic_msg_page;
		w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC;
		w.hyperv_synic = &sy;
		break;
	}
	resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
	resp.wait = &w;
	reply(c, &resp);
}

static void unthrottle(struct pvcpu *pv)
{
	if (pv->sync == PV_THROTTLED && atomic_load(&pv->async_inflight) < PS_ASYNC_MAX / 2) {
		pv->sync = PV_IDLE;
		vcpu_call_complete(&pv->call, 0);
	}
}

/* Reactor: if the plugin waits and the vCPU has something, hand it over. */
void ps_vcpu_try_deliver(struct pvcpu *pv)
{
	struct pconn *c = pv->waiting;
	struct pasync *a;

	if (!c)
		return;
	a = TAILQ_FIRST(&pv->asyncq);
	if (a) {
		pv->waiting = NULL;
		TAILQ_REMOVE(&pv->asyncq, a, link);
		send_io(c, NULL, a);
		free(a);
		atomic_fetch_sub(&pv->async_inflight, 1);
		unthrottle(pv);
		return;
	}
	if (pv->sync == PV_QUEUED) {
		pv->waiting = NULL;
		pv->sync = PV_DELIVERED;
		send_event(c, &pv->ev);
	}
}

static int do_resume(struct pvcpu *pv, const VcpuRequest__Resume *r)
{
	struct pevent *ev = &pv->ev;

	if (pv->sync != PV_DELIVERED)
		return -EINVAL;
	if (ev->kind == PEV_IO && !ev->is_write) {
		size_t n = r->data.len < ev->len ? r->data.len : ev->len;

		memset(ev->data, 0, sizeof(ev->data));
		if (n)
			memcpy(ev->data, r->data.data, n);
	} else if (ev->kind == PEV_HCALL) {
		ev->hc_result = 0;
		if (r->data.len == sizeof(ev->hc_result))
			memcpy(&ev->hc_result, r->data.data, sizeof(ev->hc_result));
	}
	pv->sync = PV_IDLE;
	return 0;
}

static void handle_wait(struct pconn *c, struct pvcpu *pv)
{
	if (pv->pl->stopping) {
		reply_error(c, VCPU_REQUEST__MESSAGE_WAIT, -ESHUTDOWN);
		return;
	}
	if (pv->waiting || pv->sync == PV_DELIVERED) {
		/* Another connection waits, or the last event was not resumed. */
		reply_error(c, VCPU_REQUEST__MESSAGE_WAIT, -EBUSY);
		return;
	}
	pv->waiting = c;
	ps_vcpu_try_deliver(pv);
}

static void handle_resume(struct pconn *c, struct pvcpu *pv, const VcpuRequest__Resume *m)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__Resume body = VCPU_RESPONSE__RESUME__INIT;
	int err = do_resume(pv, m);

	/* Wake the vCPU first: the reply is only a formality for the plugin. */
	if (!err)
		vcpu_call_complete(&pv->call, 0);
	resp.error = err;
	resp.message_case = VCPU_RESPONSE__MESSAGE_RESUME;
	resp.resume = &body;
	reply(c, &resp);
}

void ps_vcpu_conn_gone(struct pvcpu *pv, struct pconn *c)
{
	if (pv->waiting == c)
		pv->waiting = NULL;
	if (pv->nr_conns)
		pv->nr_conns--;
	if (!pv->nr_conns)
		ps_plugin_gone(pv->pl, pv);
}

void ps_vcpu_fail_waits(struct plugin *pl, int err)
{
	for (unsigned i = 0; i < pl->nr_vcpus; i++) {
		struct pvcpu *pv = &pl->vcpus[i];
		struct pconn *c = pv->waiting;

		pv->waiting = NULL;
		if (c)
			reply_error(c, VCPU_REQUEST__MESSAGE_WAIT, err);
		if (pv->sync != PV_IDLE) {
			pv->sync = PV_IDLE;
			vcpu_call_complete(&pv->call, -ECANCELED);
		}
	}
}

static void handle_get_state(struct pconn *c, struct pvcpu *pv, const VcpuRequest__GetState *m)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__GetState body = VCPU_RESPONSE__GET_STATE__INIT;
	uint8_t buf[sizeof(struct kvm_sregs) > 4096 ? sizeof(struct kvm_sregs) : 4096];
	size_t len = sizeof(buf);
	int err = ps_get_vcpu_state(pv, m->set, buf, &len);

	if (err) {
		reply_error(c, VCPU_REQUEST__MESSAGE_GET_STATE, err);
		return;
	}
	body.state.data = buf;
	body.state.len = len;
	resp.message_case = VCPU_RESPONSE__MESSAGE_GET_STATE;
	resp.get_state = &body;
	reply(c, &resp);
}

static int get_msrs(struct pvcpu *pv, const VcpuRequest__GetMsrs *m, VcpuResponse__GetMsrs *out)
{
	struct kvm_msrs *msrs;
	size_t n = m->n_entry_indices;
	int r;

	if (n > 4096)
		return -E2BIG;
	msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
	out->entry_data = calloc(n ? n : 1, sizeof(uint64_t));
	if (!msrs || !out->entry_data) {
		free(msrs);
		return -ENOMEM;
	}
	msrs->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		msrs->entries[i].index = m->entry_indices[i];
	r = n ? ioctl(pv->vcpu->fd, KVM_GET_MSRS, msrs) : 0;
	if (r < 0) {
		r = -errno;
		free(msrs);
		return r;
	}
	for (int i = 0; i < r; i++)
		out->entry_data[i] = msrs->entries[i].data;
	out->n_entry_data = (size_t)r;
	free(msrs);
	return 0;
}

static int set_msrs(struct pvcpu *pv, const VcpuRequest__SetMsrs *m)
{
	struct kvm_msrs *msrs;
	size_t n = m->n_entries;
	int r;

	if (n > 4096)
		return -E2BIG;
	if (!n)
		return 0;
	msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		msrs->entries[i].index = m->entries[i]->index;
		msrs->entries[i].data = m->entries[i]->data;
	}
	r = ioctl(pv->vcpu->fd, KVM_SET_MSRS, msrs);
	r = r < 0 ? -errno : ((size_t)r == n ? 0 : -EINVAL);
	free(msrs);
	return r;
}

static int set_cpuid(struct pvcpu *pv, const VcpuRequest__SetCpuid *m)
{
	struct kvm_cpuid2 *cpuid;
	size_t n = m->n_entries;
	int r;

	if (n > 256)
		return -E2BIG;
	cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		ps_cpuid_from_wire(m->entries[i], &cpuid->entries[i]);
	r = ioctl(pv->vcpu->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	return r;
}

static int enable_cap(struct pvcpu *pv, const VcpuRequest__EnableCapability *m)
{
	struct kvm_enable_cap cap = { .cap = m->capability };

	if (m->flags)
		return -EINVAL;
	for (size_t i = 0; i < m->n_args; i++)
		if (m->args[i])
			return -EINVAL;
	if (m->capability != KVM_CAP_HYPERV_SYNIC && m->capability != KVM_CAP_HYPERV_SYNIC2)
		return -EINVAL;
	return ioctl(pv->vcpu->fd, KVM_ENABLE_CAP, &cap) < 0 ? -errno : 0;
}

static void handle_hv_cpuid(struct pconn *c, struct pvcpu *pv)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__CpuidResponse body = VCPU_RESPONSE__CPUID_RESPONSE__INIT;
	int err = ps_cpuid_list(pv->pl, pv, KVM_GET_SUPPORTED_HV_CPUID, &body.entries,
				&body.n_entries);

	if (err) {
		reply_error(c, VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID, err);
		return;
	}
	resp.message_case = VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID;
	resp.get_hyperv_cpuid = &body;
	reply(c, &resp);
	ps_cpuid_list_free(body.entries, body.n_entries);
}

static void handle_state_req(struct pconn *c, struct pvcpu *pv, VcpuRequest *req)
{
	VcpuResponse resp = VCPU_RESPONSE__INIT;
	VcpuResponse__GetMsrs msrs = VCPU_RESPONSE__GET_MSRS__INIT;
	int err;

	switch (req->message_case) {
	case VCPU_REQUEST__MESSAGE_GET_STATE:
		handle_get_state(c, pv, req->get_state);
		return;
	case VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID:
		handle_hv_cpuid(c, pv);
		return;
	case VCPU_REQUEST__MESSAGE_GET_MSRS:
		err = get_msrs(pv, req->get_msrs, &msrs);
		if (!err) {
			resp.message_case = VCPU_RESPONSE__MESSAGE_GET_MSRS;
			resp.get_msrs = &msrs;
			reply(c, &resp);
		}
		free(msrs.entry_data);
		break;
	case VCPU_REQUEST__MESSAGE_SET_STATE:
		err = ps_set_vcpu_state(pv, req->set_state->set, req->set_state->state.data,
					req->set_state->state.len);
		break;
	case VCPU_REQUEST__MESSAGE_SET_MSRS:
		err = set_msrs(pv, req->set_msrs);
		break;
	case VCPU_REQUEST__MESSAGE_SET_CPUID:
		err = set_cpuid(pv, req->set_cpuid);
		break;
	default:
		err = enable_cap(pv, req->enable_capability);
		break;
	}
	if (err || req->message_case != VCPU_REQUEST__MESSAGE_GET_MSRS)
		reply_error(c, req->message_case, err);
}

void ps_vcpu_request(struct pconn *c, const uint8_t *buf, size_t len)
{
	struct pvcpu *pv = c->pv;
	VcpuRequest *req = buf ? vcpu_request__unpack(NULL, len, buf) : NULL;

	if (!req || req->message_case == VCPU_REQUEST__MESSAGE__NOT_SET) {
		log_debug("plugin: vCPU %u: undecodable request (%zu bytes)", pv->id, len);
		reply_error(c, VCPU_REQUEST__MESSAGE__NOT_SET, -EINVAL);
		goto out;
	}
	switch (req->message_case) {
	case VCPU_REQUEST__MESSAGE_WAIT:
		handle_wait(c, pv);
		break;
	case VCPU_REQUEST__MESSAGE_RESUME:
		handle_resume(c, pv, req->resume);
		break;
	default:
		/* State is only reachable while the vCPU is parked on an event
		 * the plugin holds (between wait and resume). */
		if (pv->sync != PV_DELIVERED &&
		    !(req->message_case == VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID &&
		      !pv->pl->started))
			reply_error(c, req->message_case, -EBUSY);
		else
			handle_state_req(c, pv, req);
		break;
	}
out:
	if (req)
		vcpu_request__free_unpacked(req, NULL);
}

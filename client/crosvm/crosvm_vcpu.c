/* crosvm.h: vCPU events, resume and register state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void cv_vcpu_free(struct crosvm_vcpu *v)
{
	if (!v)
		return;
	if (v->fd >= 0)
		close(v->fd);
	free(v->buf);
	free(v);
}

static void invalidate_cache(struct crosvm_vcpu *v)
{
	v->regs_valid = v->sregs_valid = v->debugregs_valid = 0;
}

static void cache_state(void *dst, size_t size, const ProtobufCBinaryData *src, int *valid)
{
	if (src->len == size) {
		memcpy(dst, src->data, size);
		*valid = 1;
	}
}

static int fill_io(struct crosvm_vcpu *v, const VcpuResponse__Wait__Io *io,
		   struct crosvm_vcpu_event *ev)
{
	uint32_t len = (uint32_t)io->data.len;

	if (len == 0 || len > CROSVM_IO_DATA_MAX)
		return -EPROTO;
	ev->kind = CROSVM_VCPU_EVENT_KIND_IO_ACCESS;
	ev->io_access.address_space = io->space;
	ev->io_access.address = io->address;
	ev->io_access.length = len;
	ev->io_access.is_write = io->is_write;
	ev->io_access.no_resume = io->no_resume;
	ev->io_access.data = v->io_data;
	if (io->is_write)
		memcpy(v->io_data, io->data.data, len);
	else
		memset(v->io_data, 0, len);
	v->io_len = len;
	v->io_is_read = !io->is_write;
	v->need_resume = !io->no_resume;
	cache_state(&v->regs, sizeof(v->regs), &io->regs, &v->regs_valid);
	cache_state(&v->sregs, sizeof(v->sregs), &io->sregs, &v->sregs_valid);
	cache_state(&v->debugregs, sizeof(v->debugregs), &io->debugregs, &v->debugregs_valid);
	return 0;
}

static int fill_event(struct crosvm_vcpu *v, const VcpuResponse__Wait *w,
		      struct crosvm_vcpu_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	v->io_is_read = 0;
	v->hcall_pending = 0;
	switch (w->exit_case) {
	case VCPU_RESPONSE__WAIT__EXIT_INIT:
		ev->kind = CROSVM_VCPU_EVENT_KIND_INIT;
		break;
	case VCPU_RESPONSE__WAIT__EXIT_IO:
		return fill_io(v, w->io, ev);
	case VCPU_RESPONSE__WAIT__EXIT_USER:
		ev->kind = CROSVM_VCPU_EVENT_KIND_PAUSED;
		ev->user = (void *)(uintptr_t)w->user->user;
		break;
	case VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL:
		ev->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL;
		ev->hyperv_call.input = w->hyperv_call->input;
		ev->hyperv_call.params[0] = w->hyperv_call->params0;
		ev->hyperv_call.params[1] = w->hyperv_call->params1;
		v->hcall_result = 0;
		v->hcall_pending = 1;
		ev->hyperv_call.result = &v->hcall_result;
		break;
	case VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC:
		ev->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC;
		ev->hyperv_synic.msr = w->hyperv_synic->msr;
		ev->hyperv_synic.control = w->hyperv_synic->control;
		ev->hyperv_synic.evt_page = w->hyperv_synic->evt_page;
		ev->hyperv_synic.msg_page = w->hyperv_synic->msg_page;
		break;
	default:
		return -EPROTO;
	}
	v->need_resume = 1;
	return 0;
}

/* An error carried by the reply to the last Resume, reported once. */
static int take_resume_error(struct crosvm_vcpu *v, int ret)
{
	int err = v->resume_error;

	v->resume_error = 0;
	return ret ? ret : err;
}

CV_EXPORT int crosvm_vcpu_wait(struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__Wait m = VCPU_REQUEST__WAIT__INIT;
	VcpuResponse *resp;
	int ret;

	if (!v || !ev)
		return -EINVAL;
	invalidate_cache(v);
	req.message_case = VCPU_REQUEST__MESSAGE_WAIT;
	req.wait = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	if (ret)
		return take_resume_error(v, ret);
	v->resume_error = 0;   /* the vCPU stopped again: the resume happened */
	ret = fill_event(v, resp->wait, ev);
	vcpu_response__free_unpacked(resp, NULL);
	return ret;
}

CV_EXPORT int crosvm_vcpu_resume(struct crosvm_vcpu *v)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__Resume m = VCPU_REQUEST__RESUME__INIT;
	int ret;

	if (!v)
		return -EINVAL;
	if (!v->need_resume)
		return -EINVAL;
	cv_vcpu_collect_resume(v);
	if (v->io_is_read) {
		m.data.data = v->io_data;
		m.data.len = v->io_len;
	} else if (v->hcall_pending) {
		m.data.data = (uint8_t *)&v->hcall_result;
		m.data.len = sizeof(v->hcall_result);
	}
	req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
	req.resume = &m;
	/* Pipelined: the reply is read before the next reply on this socket. */
	ret = cv_send(v->fd, &req.base, NULL, 0);
	if (ret)
		return ret;
	v->resume_reply_pending = 1;
	v->need_resume = 0;
	v->io_is_read = 0;
	v->hcall_pending = 0;
	invalidate_cache(v);
	return 0;
}

static int vcpu_get(struct crosvm_vcpu *v, VcpuRequest__StateSet set, void *out, size_t size)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__GetState m = VCPU_REQUEST__GET_STATE__INIT;
	VcpuResponse *resp;
	int ret;

	if (!v || !out)
		return -EINVAL;
	m.set = set;
	req.message_case = VCPU_REQUEST__MESSAGE_GET_STATE;
	req.get_state = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	if (ret)
		return take_resume_error(v, ret);
	if (resp->get_state->state.len != size)
		ret = -EPROTO;
	else
		memcpy(out, resp->get_state->state.data, size);
	vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

static int vcpu_set(struct crosvm_vcpu *v, VcpuRequest__StateSet set, const void *in, size_t size)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__SetState m = VCPU_REQUEST__SET_STATE__INIT;
	VcpuResponse *resp;
	int ret;

	if (!v || !in)
		return -EINVAL;
	m.set = set;
	m.state.data = (uint8_t *)in;
	m.state.len = size;
	req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	if (!ret)
		vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

#define CACHED_GET(name, type, set, field)                                           \
	CV_EXPORT int crosvm_vcpu_get_##name(struct crosvm_vcpu *v, type *out)      \
	{                                                                            \
		if (v && out && v->field##_valid) {                                  \
			memcpy(out, &v->field, sizeof(*out));                        \
			return 0;                                                    \
		}                                                                    \
		return vcpu_get(v, set, out, sizeof(*out));                          \
	}                                                                            \
	CV_EXPORT int crosvm_vcpu_set_##name(struct crosvm_vcpu *v, const type *in) \
	{                                                                            \
		if (v)                                                               \
			v->field##_valid = 0;                                        \
		return vcpu_set(v, set, in, sizeof(*in));                            \
	}

#define PLAIN_GET(name, type, set)                                                   \
	CV_EXPORT int crosvm_vcpu_get_##name(struct crosvm_vcpu *v, type *out)      \
	{                                                                            \
		return vcpu_get(v, set, out, sizeof(*out));                          \
	}                                                                            \
	CV_EXPORT int crosvm_vcpu_set_##name(struct crosvm_vcpu *v, const type *in) \
	{                                                                            \
		return vcpu_set(v, set, in, sizeof(*in));                            \
	}

CACHED_GET(regs, struct kvm_regs, VCPU_REQUEST__STATE_SET__REGS, regs)
CACHED_GET(sregs, struct kvm_sregs, VCPU_REQUEST__STATE_SET__SREGS, sregs)
CACHED_GET(debugregs, struct kvm_debugregs, VCPU_REQUEST__STATE_SET__DEBUGREGS, debugregs)
PLAIN_GET(fpu, struct kvm_fpu, VCPU_REQUEST__STATE_SET__FPU)
PLAIN_GET(xcrs, struct kvm_xcrs, VCPU_REQUEST__STATE_SET__XCREGS)
PLAIN_GET(lapic_state, struct kvm_lapic_state, VCPU_REQUEST__STATE_SET__LAPIC)
PLAIN_GET(mp_state, struct kvm_mp_state, VCPU_REQUEST__STATE_SET__MP)
PLAIN_GET(vcpu_events, struct kvm_vcpu_events, VCPU_REQUEST__STATE_SET__EVENTS)

CV_EXPORT int crosvm_vcpu_get_msrs(struct crosvm_vcpu *v, uint32_t count,
				   struct kvm_msr_entry *entries, uint32_t *out_count)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__GetMsrs m = VCPU_REQUEST__GET_MSRS__INIT;
	VcpuResponse *resp;
	uint32_t *idx = NULL;
	size_t n;
	int ret;

	if (!v || (count && !entries))
		return -EINVAL;
	if (count) {
		idx = malloc(count * sizeof(*idx));
		if (!idx)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		idx[i] = entries[i].index;
	m.n_entry_indices = count;
	m.entry_indices = idx;
	req.message_case = VCPU_REQUEST__MESSAGE_GET_MSRS;
	req.get_msrs = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	free(idx);
	if (ret)
		return take_resume_error(v, ret);
	n = resp->get_msrs->n_entry_data;
	if (n > count) {
		ret = -EPROTO;
	} else {
		for (size_t i = 0; i < n; i++)
			entries[i].data = resp->get_msrs->entry_data[i];
		if (out_count)
			*out_count = (uint32_t)n;
	}
	vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

/*
 * A repeated protobuf message field: @count zeroed elements of @size bytes
 * and the pointer array protobuf-c wants, pointing at them. Both NULL when
 * @count is 0. Freed by send_array_request.
 */
static int wire_array(uint32_t count, size_t size, void **elems, void ***ptrs)
{
	*elems = NULL;
	*ptrs = NULL;
	if (!count)
		return 0;
	*elems = calloc(count, size);
	*ptrs = calloc(count, sizeof(void *));
	if (!*elems || !*ptrs) {
		free(*elems);
		free(*ptrs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		(*ptrs)[i] = (char *)*elems + (size_t)i * size;
	return 0;
}

/* Send @req (whose answer carries nothing but an errno) and free the arrays. */
static int send_array_request(struct crosvm_vcpu *v, VcpuRequest *req, void *elems, void **ptrs)
{
	VcpuResponse *resp;
	int ret = cv_vcpu_xfer(v, req, &resp);

	free(elems);
	free(ptrs);
	if (!ret)
		vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

CV_EXPORT int crosvm_vcpu_set_msrs(struct crosvm_vcpu *v, uint32_t count,
				   const struct kvm_msr_entry *entries)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__SetMsrs m = VCPU_REQUEST__SET_MSRS__INIT;
	VcpuRequest__MsrEntry *e;
	void **ep;
	int ret;

	if (!v || (count && !entries))
		return -EINVAL;
	ret = wire_array(count, sizeof(*e), (void **)&e, &ep);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < count; i++) {
		vcpu_request__msr_entry__init(&e[i]);
		e[i].index = entries[i].index;
		e[i].data = entries[i].data;
	}
	m.n_entries = count;
	m.entries = (VcpuRequest__MsrEntry **)ep;
	req.message_case = VCPU_REQUEST__MESSAGE_SET_MSRS;
	req.set_msrs = &m;
	return send_array_request(v, &req, e, ep);
}

CV_EXPORT int crosvm_vcpu_set_cpuid(struct crosvm_vcpu *v, uint32_t count,
				    const struct kvm_cpuid_entry2 *entries)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__SetCpuid m = VCPU_REQUEST__SET_CPUID__INIT;
	CpuidEntry *e;
	void **ep;
	int ret;

	if (!v || (count && !entries))
		return -EINVAL;
	ret = wire_array(count, sizeof(*e), (void **)&e, &ep);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < count; i++)
		cv_cpuid_to_wire(&entries[i], &e[i]);
	m.n_entries = count;
	m.entries = (CpuidEntry **)ep;
	req.message_case = VCPU_REQUEST__MESSAGE_SET_CPUID;
	req.set_cpuid = &m;
	return send_array_request(v, &req, e, ep);
}

CV_EXPORT int crosvm_get_hyperv_cpuid(struct crosvm_vcpu *v, uint32_t cap,
				      struct kvm_cpuid_entry2 *out, uint32_t *out_count)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__CpuidRequest m = VCPU_REQUEST__CPUID_REQUEST__INIT;
	VcpuResponse *resp;
	int ret;

	if (!v || !out_count || (cap && !out))
		return -EINVAL;
	req.message_case = VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID;
	req.get_hyperv_cpuid = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	if (ret)
		return take_resume_error(v, ret);
	ret = cv_cpuid_copy_out(resp->get_hyperv_cpuid->entries,
				resp->get_hyperv_cpuid->n_entries, cap, out, out_count);
	vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

CV_EXPORT int crosvm_vcpu_enable_capability(struct crosvm_vcpu *v, uint32_t capability,
					    uint32_t flags, uint64_t args[4])
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__EnableCapability m = VCPU_REQUEST__ENABLE_CAPABILITY__INIT;
	VcpuResponse *resp;
	uint64_t zero[4] = { 0 };
	int ret;

	if (!v)
		return -EINVAL;
	m.capability = capability;
	m.flags = flags;
	m.n_args = 4;
	m.args = args ? args : zero;
	req.message_case = VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY;
	req.enable_capability = &m;
	ret = cv_vcpu_xfer(v, &req, &resp);
	if (!ret)
		vcpu_response__free_unpacked(resp, NULL);
	return take_resume_error(v, ret);
}

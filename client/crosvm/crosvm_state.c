/* crosvm.h: irq routing, hypercall hints, VM state, CPUID and MSR queries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int simple(struct crosvm *c, MainRequest *req)
{
	MainResponse *resp;
	int ret = cv_main_xfer(c, req, NULL, 0, &resp, NULL, 0, NULL, 0);

	if (!ret)
		main_response__free_unpacked(resp, NULL);
	return ret;
}

CV_EXPORT int crosvm_set_irq_routing(struct crosvm *c, uint32_t count,
				     const struct crosvm_irq_route *routes)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetIrqRouting m = MAIN_REQUEST__SET_IRQ_ROUTING__INIT;
	MainRequest__SetIrqRouting__Route *r = NULL, **rp = NULL;
	MainRequest__SetIrqRouting__Route__Irqchip *chip = NULL;
	MainRequest__SetIrqRouting__Route__Msi *msi = NULL;
	int ret = -ENOMEM;

	if (!c || (count && !routes))
		return -EINVAL;
	if (count) {
		r = calloc(count, sizeof(*r));
		rp = calloc(count, sizeof(*rp));
		chip = calloc(count, sizeof(*chip));
		msi = calloc(count, sizeof(*msi));
		if (!r || !rp || !chip || !msi)
			goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		main_request__set_irq_routing__route__init(&r[i]);
		r[i].irq_id = routes[i].irq_id;
		if (routes[i].kind == CROSVM_IRQ_ROUTE_IRQCHIP) {
			main_request__set_irq_routing__route__irqchip__init(&chip[i]);
			chip[i].irqchip = routes[i].irqchip.irqchip;
			chip[i].pin = routes[i].irqchip.pin;
			r[i].route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP;
			r[i].irqchip = &chip[i];
		} else if (routes[i].kind == CROSVM_IRQ_ROUTE_MSI) {
			main_request__set_irq_routing__route__msi__init(&msi[i]);
			msi[i].address = routes[i].msi.address;
			msi[i].data = routes[i].msi.data;
			r[i].route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI;
			r[i].msi = &msi[i];
		} else {
			ret = -EINVAL;
			goto out;
		}
		rp[i] = &r[i];
	}
	m.n_routes = count;
	m.routes = rp;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING;
	req.set_irq_routing = &m;
	ret = simple(c, &req);
out:
	free(r);
	free(rp);
	free(chip);
	free(msi);
	return ret;
}

CV_EXPORT int crosvm_set_hypercall_hint(struct crosvm *c, uint32_t hints_count,
					const struct crosvm_hint *hints)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetCallHint m = MAIN_REQUEST__SET_CALL_HINT__INIT;
	MainRequest__SetCallHint__RegHint d[CROSVM_MAX_HINT_DETAIL_COUNT];
	MainRequest__SetCallHint__RegHint *dp[CROSVM_MAX_HINT_DETAIL_COUNT];

	if (!c || hints_count > CROSVM_MAX_HINT_COUNT || (hints_count && !hints))
		return -EINVAL;
	if (hints_count) {
		const struct crosvm_hint *h = &hints[0];

		if (h->hint_version != 0 || h->_reserved != 0 || h->address == 0 ||
		    h->details_count > CROSVM_MAX_HINT_DETAIL_COUNT ||
		    (h->details_count && !h->details) ||
		    (h->address_flags & ~CROSVM_HINT_ON_WRITE))
			return -EINVAL;
		if (h->address_space != CROSVM_ADDRESS_SPACE_IOPORT &&
		    h->address_space != CROSVM_ADDRESS_SPACE_MMIO)
			return -EINVAL;
		m.space = h->address_space;
		m.address = h->address;
		m.on_write = !!(h->address_flags & CROSVM_HINT_ON_WRITE);
		for (unsigned i = 0; i < h->details_count; i++) {
			const struct crosvm_hint_detail *s = &h->details[i];

			main_request__set_call_hint__reg_hint__init(&d[i]);
			d[i].match_rax = s->match_rax;
			d[i].match_rbx = s->match_rbx;
			d[i].match_rcx = s->match_rcx;
			d[i].match_rdx = s->match_rdx;
			d[i].rax = s->rax;
			d[i].rbx = s->rbx;
			d[i].rcx = s->rcx;
			d[i].rdx = s->rdx;
			d[i].send_sregs = s->send_sregs;
			d[i].send_debugregs = s->send_debugregs;
			dp[i] = &d[i];
		}
		m.n_hints = h->details_count;
		m.hints = dp;
	}
	req.message_case = MAIN_REQUEST__MESSAGE_SET_CALL_HINT;
	req.set_call_hint = &m;
	return simple(c, &req);
}

static int get_state(struct crosvm *c, MainRequest__StateSet set, void *out, size_t size)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__GetState m = MAIN_REQUEST__GET_STATE__INIT;
	MainResponse *resp;
	int ret;

	if (!c || !out)
		return -EINVAL;
	m.set = set;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_STATE;
	req.get_state = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL, 0);
	if (ret)
		return ret;
	if (resp->get_state->state.len != size)
		ret = -EPROTO;
	else
		memcpy(out, resp->get_state->state.data, size);
	main_response__free_unpacked(resp, NULL);
	return ret;
}

static int set_state(struct crosvm *c, MainRequest__StateSet set, const void *in, size_t size)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetState m = MAIN_REQUEST__SET_STATE__INIT;

	if (!c || !in)
		return -EINVAL;
	m.set = set;
	m.state.data = (uint8_t *)in;
	m.state.len = size;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &m;
	return simple(c, &req);
}

CV_EXPORT int crosvm_get_pic_state(struct crosvm *c, bool primary, struct kvm_pic_state *s)
{
	return get_state(c, primary ? MAIN_REQUEST__STATE_SET__PIC0 : MAIN_REQUEST__STATE_SET__PIC1,
			 s, sizeof(*s));
}

CV_EXPORT int crosvm_set_pic_state(struct crosvm *c, bool primary,
				   const struct kvm_pic_state *s)
{
	return set_state(c, primary ? MAIN_REQUEST__STATE_SET__PIC0 : MAIN_REQUEST__STATE_SET__PIC1,
			 s, sizeof(*s));
}

CV_EXPORT int crosvm_get_ioapic_state(struct crosvm *c, struct kvm_ioapic_state *s)
{
	return get_state(c, MAIN_REQUEST__STATE_SET__IOAPIC, s, sizeof(*s));
}

CV_EXPORT int crosvm_set_ioapic_state(struct crosvm *c, const struct kvm_ioapic_state *s)
{
	return set_state(c, MAIN_REQUEST__STATE_SET__IOAPIC, s, sizeof(*s));
}

CV_EXPORT int crosvm_get_pit_state(struct crosvm *c, struct kvm_pit_state2 *s)
{
	return get_state(c, MAIN_REQUEST__STATE_SET__PIT, s, sizeof(*s));
}

CV_EXPORT int crosvm_set_pit_state(struct crosvm *c, const struct kvm_pit_state2 *s)
{
	return set_state(c, MAIN_REQUEST__STATE_SET__PIT, s, sizeof(*s));
}

CV_EXPORT int crosvm_get_clock(struct crosvm *c, struct kvm_clock_data *s)
{
	return get_state(c, MAIN_REQUEST__STATE_SET__CLOCK, s, sizeof(*s));
}

CV_EXPORT int crosvm_set_clock(struct crosvm *c, const struct kvm_clock_data *s)
{
	return set_state(c, MAIN_REQUEST__STATE_SET__CLOCK, s, sizeof(*s));
}

void cv_cpuid_to_wire(const struct kvm_cpuid_entry2 *e, CpuidEntry *w)
{
	cpuid_entry__init(w);
	w->function = e->function;
	w->index = e->index;
	w->flags = e->flags;
	w->has_index = !!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	w->eax = e->eax;
	w->ebx = e->ebx;
	w->ecx = e->ecx;
	w->edx = e->edx;
}

void cv_cpuid_from_wire(const CpuidEntry *w, struct kvm_cpuid_entry2 *e)
{
	memset(e, 0, sizeof(*e));
	e->function = w->function;
	e->index = w->index;
	e->flags = w->flags;
	if (w->has_index)
		e->flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e->eax = w->eax;
	e->ebx = w->ebx;
	e->ecx = w->ecx;
	e->edx = w->edx;
}

/* KVM's convention: too small an array gives -E2BIG and the needed count. */
int cv_cpuid_copy_out(CpuidEntry **entries, size_t n, uint32_t cap,
		      struct kvm_cpuid_entry2 *out, uint32_t *out_count)
{
	*out_count = (uint32_t)n;
	if (n > cap)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		cv_cpuid_from_wire(entries[i], &out[i]);
	return 0;
}

static int get_cpuid(struct crosvm *c, bool emulated, uint32_t cap,
		     struct kvm_cpuid_entry2 *out, uint32_t *out_count)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__CpuidRequest m = MAIN_REQUEST__CPUID_REQUEST__INIT;
	MainResponse *resp;
	MainResponse__CpuidResponse *cr;
	int ret;

	if (!c || !out_count || (cap && !out))
		return -EINVAL;
	if (emulated) {
		req.message_case = MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID;
		req.get_emulated_cpuid = &m;
	} else {
		req.message_case = MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID;
		req.get_supported_cpuid = &m;
	}
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL, 0);
	if (ret)
		return ret;
	cr = emulated ? resp->get_emulated_cpuid : resp->get_supported_cpuid;
	ret = cv_cpuid_copy_out(cr->entries, cr->n_entries, cap, out, out_count);
	main_response__free_unpacked(resp, NULL);
	return ret;
}

CV_EXPORT int crosvm_get_supported_cpuid(struct crosvm *c, uint32_t cap,
					 struct kvm_cpuid_entry2 *out, uint32_t *out_count)
{
	return get_cpuid(c, false, cap, out, out_count);
}

CV_EXPORT int crosvm_get_emulated_cpuid(struct crosvm *c, uint32_t cap,
					struct kvm_cpuid_entry2 *out, uint32_t *out_count)
{
	return get_cpuid(c, true, cap, out, out_count);
}

CV_EXPORT int crosvm_get_msr_index_list(struct crosvm *c, uint32_t cap, uint32_t *out,
					uint32_t *out_count)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__MsrListRequest m = MAIN_REQUEST__MSR_LIST_REQUEST__INIT;
	MainResponse *resp;
	MainResponse__MsrListResponse *ml;
	int ret;

	if (!c || !out_count || (cap && !out))
		return -EINVAL;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST;
	req.get_msr_index_list = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL, 0);
	if (ret)
		return ret;
	ml = resp->get_msr_index_list;
	*out_count = (uint32_t)ml->n_indices;
	if (ml->n_indices > cap)
		ret = -E2BIG;
	else if (ml->n_indices)
		memcpy(out, ml->indices, ml->n_indices * sizeof(uint32_t));
	main_response__free_unpacked(resp, NULL);
	return ret;
}

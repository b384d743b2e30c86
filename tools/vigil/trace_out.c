/* Output of vigil trace / vigil policy (see trace_out.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kvmi_tool.h"
#include "trace_out.h"

#define TL_MAX_VCPUS 256
#define TL_MAX_DEVICES 32
#define TL_DEVICE_TID 10000   /* timeline lane of device N: TL_DEVICE_TID + N */

struct trace_out {
	bool json;
	FILE *tl;                   /* timeline, or NULL */
	bool tl_first;
	uint64_t counts[VIGIL_KVMI_EVENT_MAX + 1];
	uint64_t violations;
	bool header_done;
	struct {                    /* open address-space span per vCPU */
		bool lane, open;
		double since;
		uint64_t cr3;
	} as[TL_MAX_VCPUS];
	bool dev_lane[TL_MAX_DEVICES];
};

static const char *access_name(uint8_t a)
{
	return a == VIGIL_KVMI_PAGE_R ? "r" : a == VIGIL_KVMI_PAGE_W ? "w" :
	       a == VIGIL_KVMI_PAGE_X ? "x" : "?";
}

static const char *access_word(uint8_t a)
{
	return a == VIGIL_KVMI_PAGE_R ? "read" : a == VIGIL_KVMI_PAGE_W ? "write" :
	       a == VIGIL_KVMI_PAGE_X ? "execute" : "access";
}

static uint64_t pf_data(const struct vigil_kvmi_event_pf *pf)
{
	uint64_t v = 0;

	memcpy(&v, pf->data, pf->len < 8 ? pf->len : 8);
	return v;
}

/* ---- device DMA ---- */

static bool is_dma(const struct vigil_kvmi_ev *ev)
{
	return ev->common.event == VIGIL_KVMI_EVENT_DMA;
}

/* "dev0@00:03.0" (the --device index and the PCI address) */
static void dma_device(const struct vigil_kvmi_event_dma *d, char *b, size_t n)
{
	if (d->pci_slot == VIGIL_KVMI_DMA_NO_SLOT)
		snprintf(b, n, "dev%u", d->device);
	else
		snprintf(b, n, "dev%u@00:%02x.0", d->device, d->pci_slot);
}

static void dma_detail(const struct vigil_kvmi_event_dma *d, char *b, size_t n)
{
	char denied[48] = "";

	if (d->flags & VIGIL_KVMI_DMA_DENIED)
		snprintf(denied, sizeof(denied), ", page policy denies 0x%llx",
			 (unsigned long long)d->denied_gpa);
	snprintf(b, n, "device %s %llu bytes at gpa 0x%llx%s",
		 d->direction == VIGIL_KVMI_DMA_WRITE ? "writes" : "reads",
		 (unsigned long long)d->len, (unsigned long long)d->gpa, denied);
}

/* ---- table ---- */

static void table_detail(const struct vigil_kvmi_ev *ev, char *b, size_t n)
{
	const char *name;
	char gva[40];

	switch (ev->common.event) {
	case VIGIL_KVMI_EVENT_CR:
		snprintf(b, n, "cr%u 0x%llx -> 0x%llx", ev->u.cr.cr,
			 (unsigned long long)ev->u.cr.old_value, (unsigned long long)ev->u.cr.new_value);
		break;
	case VIGIL_KVMI_EVENT_MSR:
		name = vk_msr_name(ev->u.msr.msr);
		snprintf(b, n, "%s%s0x%x 0x%llx -> 0x%llx", name ? name : "", name ? " " : "",
			 ev->u.msr.msr, (unsigned long long)ev->u.msr.old_value,
			 (unsigned long long)ev->u.msr.new_value);
		break;
	case VIGIL_KVMI_EVENT_PF:
		if (ev->u.pf.gva != ~0ull)
			snprintf(gva, sizeof(gva), " (gva 0x%llx)", (unsigned long long)ev->u.pf.gva);
		else
			gva[0] = '\0';
		if (ev->u.pf.access == VIGIL_KVMI_PAGE_W)
			snprintf(b, n, "write %u bytes at gpa 0x%llx%s, value 0x%llx", ev->u.pf.len,
				 (unsigned long long)ev->u.pf.gpa, gva,
				 (unsigned long long)pf_data(&ev->u.pf));
		else
			snprintf(b, n, "%s at gpa 0x%llx%s", access_word(ev->u.pf.access),
				 (unsigned long long)ev->u.pf.gpa, gva);
		break;
	case VIGIL_KVMI_EVENT_HYPERCALL:
		snprintf(b, n, "value 0x%x", ev->u.hc.value);
		break;
	case VIGIL_KVMI_EVENT_DMA:
		dma_detail(&ev->u.dma, b, n);
		break;
	default:
		b[0] = '\0';
	}
}

static void table_event(struct trace_out *t, double ts, const struct vigil_kvmi_ev *ev,
			const struct trace_verdict *v)
{
	char detail[160], kind[16];

	if (!t->header_done) {
		printf("%9s %4s %-10s %-16s %s\n", "TIME", "VCPU", "EVENT", "RIP", "DETAILS");
		t->header_done = true;
	}
	table_detail(ev, detail, sizeof(detail));
	if (ev->common.event == VIGIL_KVMI_EVENT_CR)
		snprintf(kind, sizeof(kind), "cr%u", ev->u.cr.cr);
	else
		snprintf(kind, sizeof(kind), "%s", vk_event_name(ev->common.event));
	if (is_dma(ev)) {
		char dev[24];

		/* No vCPU: the RIP column names the device. */
		dma_device(&ev->u.dma, dev, sizeof(dev));
		printf("%9.6f %4s %-10s %-16s %s: %s", ts, "-", kind, dev, detail, v->action);
	} else {
		printf("%9.6f %4u %-10s %016llx %s", ts, ev->common.vcpu, kind,
		       (unsigned long long)ev->common.regs.rip, detail);
	}
	if (v->rule)
		printf("  VIOLATION of '%s' (%s): %s", v->rule, v->on_violation, v->action);
	if (v->note)
		printf("  [%s]", v->note);
	printf("\n");
}

/* ---- JSON ---- */

static json_object *hex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	return json_object_new_string(b);
}

static void json_dma(json_object *o, const struct vigil_kvmi_event_dma *d)
{
	char slot[16];
	bool denied = d->flags & VIGIL_KVMI_DMA_DENIED;

	snprintf(slot, sizeof(slot), "00:%02x.0", d->pci_slot);
	json_object_object_add(o, "device", json_object_new_int64(d->device));
	json_object_object_add(o, "pci", d->pci_slot == VIGIL_KVMI_DMA_NO_SLOT ? NULL :
				  json_object_new_string(slot));
	json_object_object_add(o, "direction", json_object_new_string(
				  d->direction == VIGIL_KVMI_DMA_WRITE ? "write" : "read"));
	json_object_object_add(o, "gpa", hex(d->gpa));
	json_object_object_add(o, "len", json_object_new_int64((int64_t)d->len));
	json_object_object_add(o, "policy", json_object_new_string(denied ? "deny" : "allow"));
	json_object_object_add(o, "denied_gpa", denied ? hex(d->denied_gpa) : NULL);
}

static void json_specific(json_object *o, const struct vigil_kvmi_ev *ev)
{
	const char *name;

	switch (ev->common.event) {
	case VIGIL_KVMI_EVENT_CR:
		json_object_object_add(o, "cr", json_object_new_int(ev->u.cr.cr));
		json_object_object_add(o, "old", hex(ev->u.cr.old_value));
		json_object_object_add(o, "new", hex(ev->u.cr.new_value));
		break;
	case VIGIL_KVMI_EVENT_MSR:
		name = vk_msr_name(ev->u.msr.msr);
		json_object_object_add(o, "msr", hex(ev->u.msr.msr));
		json_object_object_add(o, "name", name ? json_object_new_string(name) : NULL);
		json_object_object_add(o, "old", hex(ev->u.msr.old_value));
		json_object_object_add(o, "new", hex(ev->u.msr.new_value));
		break;
	case VIGIL_KVMI_EVENT_PF:
		json_object_object_add(o, "access", json_object_new_string(access_name(ev->u.pf.access)));
		json_object_object_add(o, "gpa", hex(ev->u.pf.gpa));
		json_object_object_add(o, "gva", ev->u.pf.gva == ~0ull ? NULL : hex(ev->u.pf.gva));
		json_object_object_add(o, "len", json_object_new_int(ev->u.pf.len));
		if (ev->u.pf.access == VIGIL_KVMI_PAGE_W)
			json_object_object_add(o, "data", hex(pf_data(&ev->u.pf)));
		break;
	case VIGIL_KVMI_EVENT_HYPERCALL:
		json_object_object_add(o, "value", hex(ev->u.hc.value));
		break;
	case VIGIL_KVMI_EVENT_DMA:
		json_dma(o, &ev->u.dma);
		break;
	default:
		break;
	}
}

static void json_event(double ts, const struct vigil_kvmi_ev *ev, const struct trace_verdict *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "t", json_object_new_double(ts));
	json_object_object_add(o, "seq", json_object_new_int64(ev->seq));
	json_object_object_add(o, "vcpu", is_dma(ev) ? NULL : json_object_new_int(ev->common.vcpu));
	json_object_object_add(o, "event", json_object_new_string(vk_event_name(ev->common.event)));
	if (!is_dma(ev)) {   /* no vCPU, no registers */
		json_object_object_add(o, "rip", hex(ev->common.regs.rip));
		json_object_object_add(o, "cr3", hex(ev->common.sregs.cr3));
		json_object_object_add(o, "cpl", json_object_new_int(ev->common.sregs.cs.selector & 3));
	}
	json_specific(o, ev);
	json_object_object_add(o, "action", json_object_new_string(v->action));
	if (v->rule) {
		json_object *vi = json_object_new_object();

		json_object_object_add(vi, "rule", json_object_new_string(v->rule));
		json_object_object_add(vi, "on_violation", json_object_new_string(v->on_violation));
		json_object_object_add(o, "violation", vi);
	}
	if (v->note)
		json_object_object_add(o, "note", json_object_new_string(v->note));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* ---- timeline (Chrome trace-event format, JSON object form) ---- */

static void tl_put(struct trace_out *t, json_object *o)
{
	fprintf(t->tl, "%s%s", t->tl_first ? "\n" : ",\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	t->tl_first = false;
	json_object_put(o);
}

static json_object *tl_base(const char *name, const char *ph, double ts, unsigned tid)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "ph", json_object_new_string(ph));
	json_object_object_add(o, "ts", json_object_new_double(ts * 1e6));
	json_object_object_add(o, "pid", json_object_new_int(1));
	json_object_object_add(o, "tid", json_object_new_int((int)tid));
	return o;
}

/* The lane of an event: its vCPU, or TL_DEVICE_TID + device for DMA. */
static unsigned tl_tid(const struct vigil_kvmi_ev *ev)
{
	return is_dma(ev) ? TL_DEVICE_TID + ev->u.dma.device : ev->common.vcpu;
}

static void tl_lane(struct trace_out *t, unsigned tid)
{
	json_object *o = tl_base("thread_name", "M", 0, tid), *a = json_object_new_object();
	char name[32];

	if (tid >= TL_DEVICE_TID)
		snprintf(name, sizeof(name), "device %u", tid - TL_DEVICE_TID);
	else
		snprintf(name, sizeof(name), "vCPU %u", tid);
	json_object_object_add(a, "name", json_object_new_string(name));
	json_object_object_add(o, "args", a);
	tl_put(t, o);
}

/* Close the address-space span of @vcpu at @ts. */
static void tl_span_close(struct trace_out *t, unsigned vcpu, double ts)
{
	json_object *o, *a;
	char name[40];

	if (vcpu >= TL_MAX_VCPUS || !t->as[vcpu].open)
		return;
	snprintf(name, sizeof(name), "CR3 0x%llx", (unsigned long long)t->as[vcpu].cr3);
	o = tl_base(name, "X", t->as[vcpu].since, vcpu);
	a = json_object_new_object();
	json_object_object_add(o, "cat", json_object_new_string("address-space"));
	json_object_object_add(o, "dur", json_object_new_double((ts - t->as[vcpu].since) * 1e6));
	json_object_object_add(a, "cr3", hex(t->as[vcpu].cr3));
	json_object_object_add(o, "args", a);
	tl_put(t, o);
	t->as[vcpu].open = false;
}

static void tl_event(struct trace_out *t, double ts, const struct vigil_kvmi_ev *ev,
		     const struct trace_verdict *v)
{
	unsigned vcpu = ev->common.vcpu;
	char name[64], detail[160];
	json_object *o, *a = json_object_new_object();

	if (is_dma(ev))
		snprintf(name, sizeof(name), "DMA %s%s",
			 ev->u.dma.direction == VIGIL_KVMI_DMA_WRITE ? "write" : "read",
			 ev->u.dma.flags & VIGIL_KVMI_DMA_DENIED ? " (denied by policy)" : "");
	else if (ev->common.event == VIGIL_KVMI_EVENT_CR)
		snprintf(name, sizeof(name), "CR%u write", ev->u.cr.cr);
	else if (v->rule)
		snprintf(name, sizeof(name), "VIOLATION %s", v->rule);
	else if (ev->common.event == VIGIL_KVMI_EVENT_MSR && vk_msr_name(ev->u.msr.msr))
		snprintf(name, sizeof(name), "wrmsr %s", vk_msr_name(ev->u.msr.msr));
	else
		snprintf(name, sizeof(name), "%s", vk_event_name(ev->common.event));
	o = tl_base(name, "i", ts, tl_tid(ev));
	json_object_object_add(o, "s", json_object_new_string("t"));
	json_object_object_add(o, "cat", json_object_new_string(vk_event_name(ev->common.event)));
	table_detail(ev, detail, sizeof(detail));
	json_object_object_add(a, "detail", json_object_new_string(detail));
	if (!is_dma(ev))
		json_object_object_add(a, "rip", hex(ev->common.regs.rip));
	json_object_object_add(a, "action", json_object_new_string(v->action));
	json_object_object_add(o, "args", a);
	tl_put(t, o);
	if (ev->common.event == VIGIL_KVMI_EVENT_CR && ev->u.cr.cr == 3 && vcpu < TL_MAX_VCPUS &&
	    strcmp(v->action, "skip")) {
		tl_span_close(t, vcpu, ts);
		t->as[vcpu].open = true;
		t->as[vcpu].since = ts;
		t->as[vcpu].cr3 = ev->u.cr.new_value;
	}
}

/* ---- public ---- */

int trace_out_open(struct trace_out **out, bool json, const char *timeline)
{
	struct trace_out *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->json = json;
	if (timeline) {
		t->tl = fopen(timeline, "we");
		if (!t->tl) {
			int err = -errno;

			free(t);
			return err;
		}
		fprintf(t->tl, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"vigil trace\"},"
			"\"traceEvents\":[");
		t->tl_first = true;
	}
	*out = t;
	return 0;
}

void trace_out_event(struct trace_out *t, double ts, const struct vigil_kvmi_ev *ev,
		     const struct trace_verdict *v, bool show)
{
	unsigned k = ev->common.event < VIGIL_KVMI_EVENT_MAX ? ev->common.event : VIGIL_KVMI_EVENT_MAX;

	if (t->tl && show && is_dma(ev) && ev->u.dma.device < TL_MAX_DEVICES &&
	    !t->dev_lane[ev->u.dma.device]) {
		tl_lane(t, tl_tid(ev));
		t->dev_lane[ev->u.dma.device] = true;
	} else if (t->tl && show && ev->common.vcpu < TL_MAX_VCPUS &&
		   !t->as[ev->common.vcpu].lane) {
		tl_lane(t, ev->common.vcpu);
		t->as[ev->common.vcpu].lane = true;
	}
	t->counts[k]++;
	if (v->rule)
		t->violations++;
	if (!show)
		return;
	if (t->json)
		json_event(ts, ev, v);
	else
		table_event(t, ts, ev, v);
	if (t->tl)
		tl_event(t, ts, ev, v);
}

void trace_out_note(struct trace_out *t, double ts, const char *text)
{
	json_object *o;

	if (!t->json) {
		printf("# %s\n", text);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_double(ts));
	json_object_object_add(o, "event", json_object_new_string("note"));
	json_object_object_add(o, "text", json_object_new_string(text));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void print_summary(const struct trace_out *t, double ts, const char *reason)
{
	json_object *o, *c;

	if (!t->json) {
		printf("# %s after %.3f s; events:", reason, ts);
		for (unsigned k = 0; k < VIGIL_KVMI_EVENT_MAX; k++)
			if (t->counts[k])
				printf(" %s %llu", vk_event_name(k), (unsigned long long)t->counts[k]);
		printf("%s; policy violations: %llu\n", t->counts[VIGIL_KVMI_EVENT_MAX] ? " other" : "",
		       (unsigned long long)t->violations);
		return;
	}
	o = json_object_new_object();
	c = json_object_new_object();
	json_object_object_add(o, "t", json_object_new_double(ts));
	json_object_object_add(o, "event", json_object_new_string("summary"));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	for (unsigned k = 0; k < VIGIL_KVMI_EVENT_MAX; k++)
		json_object_object_add(c, vk_event_name(k), json_object_new_int64((int64_t)t->counts[k]));
	json_object_object_add(o, "counts", c);
	json_object_object_add(o, "violations", json_object_new_int64((int64_t)t->violations));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

int trace_out_close(struct trace_out **tp, double ts, const char *reason)
{
	struct trace_out *t = *tp;
	int err = 0;

	if (!t)
		return 0;
	if (reason)
		print_summary(t, ts, reason);
	fflush(stdout);
	if (t->tl) {
		for (unsigned v = 0; v < TL_MAX_VCPUS; v++)
			tl_span_close(t, v, ts);
		fprintf(t->tl, "\n]}\n");
		if (ferror(t->tl))
			err = -EIO;
		if (fclose(t->tl))
			err = -errno;
	}
	free(t);
	*tp = NULL;
	return err;
}

uint64_t trace_out_count(const struct trace_out *t, unsigned kind)
{
	return kind <= VIGIL_KVMI_EVENT_MAX ? t->counts[kind] : 0;
}

uint64_t trace_out_violations(const struct trace_out *t)
{
	return t->violations;
}

/*
 * Writes the seed corpora of the plugin fuzz targets (packed protobuf
 * requests framed as the targets read them) into DIR/fuzz_plugin_main and
 * DIR/fuzz_plugin_vcpu, and those of the introspection target into
 * DIR/fuzz_kvmi. Run once after a protocol change:
 *   fuzz_gen_seeds test/fuzz/corpus
 * Regression inputs found by fuzzing are committed next to the seeds and are
 * not written by this program.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vigil/kvmi.h>

#include "plugin.pb-c.h"

static uint8_t seed[1 << 16];
static size_t seed_len;

static void rec_raw(unsigned ctl, const void *buf, size_t len)
{
	seed[seed_len++] = (uint8_t)ctl;
	seed[seed_len++] = (uint8_t)len;
	seed[seed_len++] = (uint8_t)(len >> 8);
	memcpy(seed + seed_len, buf, len);
	seed_len += len;
}

static void rec_main(unsigned ctl, MainRequest *r)
{
	uint8_t buf[8192];

	rec_raw(ctl, buf, main_request__pack(r, buf));
}

static void rec_vcpu(unsigned ctl, VcpuRequest *r)
{
	uint8_t buf[8192];

	rec_raw(ctl, buf, vcpu_request__pack(r, buf));
}

static void save(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(seed, 1, seed_len, f) != seed_len || fclose(f)) {
		perror(path);
		exit(1);
	}
	seed_len = 0;
}

#define MAIN(var, kase, field, ...)                                              \
	MainRequest var = MAIN_REQUEST__INIT;                                     \
	var.message_case = MAIN_REQUEST__MESSAGE_##kase;                          \
	var.field = __VA_ARGS__

static void main_create(const char *d)
{
	MainRequest__Create__IoEvent io = MAIN_REQUEST__CREATE__IO_EVENT__INIT;
	MainRequest__Create__Memory mem = MAIN_REQUEST__CREATE__MEMORY__INIT;
	MainRequest__Create__IrqEvent irq = MAIN_REQUEST__CREATE__IRQ_EVENT__INIT;
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Destroy ds = MAIN_REQUEST__DESTROY__INIT;
	MainRequest__MemoryDirtyLog dl = MAIN_REQUEST__MEMORY_DIRTY_LOG__INIT;
	MAIN(c, CREATE, create, &cr);
	MAIN(x, DESTROY, destroy, &ds);
	MAIN(l, DIRTY_LOG, dirty_log, &dl);

	io.space = ADDRESS_SPACE__IOPORT;
	io.address = 0x100;
	io.length = 1;
	cr.id = 1;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT;
	cr.io_event = &io;
	rec_main(0, &c);
	io.has_datamatch = true;
	io.datamatch = 0x42;
	io.space = ADDRESS_SPACE__MMIO;
	io.address = 0xd0000000;
	io.length = 4;
	cr.id = 2;
	rec_main(0, &c);
	ds.id = 1;
	rec_main(0, &x);
	save(d, "create-ioevent");

	mem.start = 0x100000;
	mem.length = 64 << 10;
	mem.dirty_log = true;
	cr.id = 3;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
	cr.memory = &mem;
	rec_main(1, &c);
	dl.id = 3;
	rec_main(0, &l);
	mem.start = 0x200000;
	mem.read_only = true;
	mem.dirty_log = false;
	cr.id = 4;
	rec_main(1, &c);
	rec_main(0, &l);
	ds.id = 3;
	rec_main(0, &x);
	save(d, "create-memory-dirty-log");

	cr.id = 5;
	rec_main(2, &c);     /* unsealed */
	rec_main(7, &c);     /* too small */
	rec_main(5, &c);     /* two fds */
	rec_main(3, &c);     /* an eventfd */
	rec_main(0, &c);     /* none */
	save(d, "create-memory-bad-fds");

	irq.irq_id = 5;
	irq.resample = true;
	cr.id = 6;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
	cr.irq_event = &irq;
	rec_main(0, &c);
	rec_main(0, &c);     /* EEXIST */
	ds.id = 6;
	rec_main(0, &x);
	rec_main(0, &x);     /* ENOENT */
	save(d, "create-irqevent");
}

static void main_ranges(const char *d)
{
	MainRequest__ReserveRange rr = MAIN_REQUEST__RESERVE_RANGE__INIT;
	MainRequest__SetCallHint h = MAIN_REQUEST__SET_CALL_HINT__INIT;
	MainRequest__SetCallHint__RegHint rh = MAIN_REQUEST__SET_CALL_HINT__REG_HINT__INIT;
	MainRequest__SetCallHint__RegHint *rhs[1] = { &rh };
	MAIN(r, RESERVE_RANGE, reserve_range, &rr);
	MAIN(hc, SET_CALL_HINT, set_call_hint, &h);

	rr.space = ADDRESS_SPACE__IOPORT;
	rr.start = 0x60;
	rr.length = 4;
	rec_main(0, &r);
	rec_main(0, &r);       /* overlap */
	rr.length = 0;
	rec_main(0, &r);       /* remove */
	rec_main(0, &r);       /* nothing to remove */
	rr.space = ADDRESS_SPACE__MMIO;
	rr.start = 0xd0001000;
	rr.length = 0x1000;
	rr.async_write = true;
	rec_main(0, &r);
	rr.space = ADDRESS_SPACE__IOPORT;
	rr.start = 0xfff0;
	rr.length = 0x20;      /* past 0xffff */
	rec_main(0, &r);
	save(d, "reserve-range");

	h.space = ADDRESS_SPACE__IOPORT;
	h.address = 0x60;
	h.on_write = true;
	rh.match_rax = true;
	rh.rax = 7;
	rh.send_sregs = true;
	h.n_hints = 1;
	h.hints = rhs;
	rec_main(0, &hc);
	h.address = 0;
	rec_main(0, &hc);
	save(d, "call-hint");
}

static void main_queries(const char *d)
{
	MainRequest__CpuidRequest cq = MAIN_REQUEST__CPUID_REQUEST__INIT;
	MainRequest__MsrListRequest mq = MAIN_REQUEST__MSR_LIST_REQUEST__INIT;
	MainRequest__CheckExtension ce = MAIN_REQUEST__CHECK_EXTENSION__INIT;
	MainRequest__GetNetConfig nc = MAIN_REQUEST__GET_NET_CONFIG__INIT;
	MainRequest__EnableCapability ec = MAIN_REQUEST__ENABLE_CAPABILITY__INIT;
	MainRequest__NewConnection nco = MAIN_REQUEST__NEW_CONNECTION__INIT;
	MainRequest__GetShutdownEventfd se = MAIN_REQUEST__GET_SHUTDOWN_EVENTFD__INIT;
	MAIN(a, GET_SUPPORTED_CPUID, get_supported_cpuid, &cq);
	MAIN(b, GET_EMULATED_CPUID, get_emulated_cpuid, &cq);
	MAIN(m, GET_MSR_INDEX_LIST, get_msr_index_list, &mq);
	MAIN(c, CHECK_EXTENSION, check_extension, &ce);
	MAIN(n, GET_NET_CONFIG, get_net_config, &nc);
	MAIN(e, ENABLE_CAPABILITY, enable_capability, &ec);
	MAIN(o, NEW_CONNECTION, new_connection, &nco);
	MAIN(s, GET_SHUTDOWN_EVENTFD, get_shutdown_eventfd, &se);

	rec_main(0, &a);
	rec_main(0, &b);
	rec_main(0, &m);
	ce.extension = KVM_CAP_IRQCHIP;
	rec_main(0, &c);
	rec_main(0, &n);
	ec.capability = KVM_CAP_IRQCHIP;
	rec_main(0, &e);
	rec_main(0, &o);
	rec_main(0, &s);
	save(d, "queries");
}

static void main_state(const char *d)
{
	static uint8_t zero[sizeof(struct kvm_pit_state2) + 8];
	static const size_t sizes[] = { sizeof(struct kvm_pic_state), sizeof(struct kvm_pic_state),
		sizeof(struct kvm_ioapic_state), sizeof(struct kvm_pit_state2),
		sizeof(struct kvm_clock_data) };
	MainRequest__GetState gs = MAIN_REQUEST__GET_STATE__INIT;
	MainRequest__SetState ss = MAIN_REQUEST__SET_STATE__INIT;
	MainRequest__SetIrq si = MAIN_REQUEST__SET_IRQ__INIT;
	MainRequest__SetIrqRouting rt = MAIN_REQUEST__SET_IRQ_ROUTING__INIT;
	MainRequest__SetIrqRouting__Route r0 = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__INIT;
	MainRequest__SetIrqRouting__Route r1 = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__INIT;
	MainRequest__SetIrqRouting__Route__Irqchip ic = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__IRQCHIP__INIT;
	MainRequest__SetIrqRouting__Route__Msi msi = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__MSI__INIT;
	MainRequest__SetIrqRouting__Route *routes[2] = { &r0, &r1 };
	MainRequest__SetIdentityMapAddr im = MAIN_REQUEST__SET_IDENTITY_MAP_ADDR__INIT;
	MAIN(g, GET_STATE, get_state, &gs);
	MAIN(s, SET_STATE, set_state, &ss);
	MAIN(q, SET_IRQ, set_irq, &si);
	MAIN(t, SET_IRQ_ROUTING, set_irq_routing, &rt);
	MAIN(i, SET_IDENTITY_MAP_ADDR, set_identity_map_addr, &im);

	for (int set = 0; set < 5; set++) {
		gs.set = set;
		rec_main(0, &g);
		ss.set = set;
		ss.state.data = zero;
		ss.state.len = sizes[set];
		if (set != 3)      /* an all-zero PIT is fine, but keep the real one */
			rec_main(0, &s);
		ss.state.len = sizes[set] - 1;
		rec_main(0, &s);   /* wrong size */
	}
	save(d, "vm-state");

	si.irq_id = 4;
	si.active = true;
	rec_main(0, &q);
	ic.irqchip = KVM_IRQCHIP_IOAPIC;
	ic.pin = 1;
	r0.irq_id = 1;
	r0.route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP;
	r0.irqchip = &ic;
	msi.address = 0xfee00000;
	msi.data = 0x30;
	r1.irq_id = 30;
	r1.route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI;
	r1.msi = &msi;
	rt.n_routes = 2;
	rt.routes = routes;
	rec_main(0, &t);
	im.address = 0xfffbc000;
	rec_main(0, &i);
	save(d, "irq");
}

static void main_vcpus(const char *d)
{
	MainRequest__PauseVcpus pv = MAIN_REQUEST__PAUSE_VCPUS__INIT;
	MainRequest__GetVcpus gv = MAIN_REQUEST__GET_VCPUS__INIT;
	MainRequest__Start st = MAIN_REQUEST__START__INIT;
	MAIN(p, PAUSE_VCPUS, pause_vcpus, &pv);
	MAIN(g, GET_VCPUS, get_vcpus, &gv);
	MAIN(s, START, start, &st);
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08 };

	pv.cpu_mask = 3;
	pv.user = 99;
	rec_main(0, &p);
	rec_main(0, &g);
	rec_main(0, &s);
	rec_main(0, &s);      /* second start */
	save(d, "start");
	rec_raw(0, junk, sizeof(junk));
	rec_raw(0, "", 0);
	rec_raw(0, "\x08\x01", 2);     /* a field that is no oneof member */
	rec_raw(0, "\xaa\x06\x00", 3); /* field 101 (dirty_log) without an id */
	save(d, "malformed");
}

static void vcpu_seeds(const char *d)
{
	static uint8_t zero[4096];
	static const size_t sizes[] = { sizeof(struct kvm_regs), sizeof(struct kvm_sregs),
		sizeof(struct kvm_fpu), sizeof(struct kvm_debugregs),
		sizeof(struct kvm_lapic_state), sizeof(struct kvm_mp_state), sizeof(struct kvm_xcrs),
		sizeof(struct kvm_vcpu_events) };
	VcpuRequest__Wait w = VCPU_REQUEST__WAIT__INIT;
	VcpuRequest__Resume rs = VCPU_REQUEST__RESUME__INIT;
	VcpuRequest__GetState gs = VCPU_REQUEST__GET_STATE__INIT;
	VcpuRequest__SetState ss = VCPU_REQUEST__SET_STATE__INIT;
	VcpuRequest__GetMsrs gm = VCPU_REQUEST__GET_MSRS__INIT;
	VcpuRequest__SetMsrs sm = VCPU_REQUEST__SET_MSRS__INIT;
	VcpuRequest__MsrEntry me = VCPU_REQUEST__MSR_ENTRY__INIT, *mes[1] = { &me };
	VcpuRequest__SetCpuid sc = VCPU_REQUEST__SET_CPUID__INIT;
	CpuidEntry ce = CPUID_ENTRY__INIT, *ces[1] = { &ce };
	VcpuRequest__CpuidRequest hv = VCPU_REQUEST__CPUID_REQUEST__INIT;
	VcpuRequest__EnableCapability ec = VCPU_REQUEST__ENABLE_CAPABILITY__INIT;
	VcpuRequest rw = VCPU_REQUEST__INIT, rr = VCPU_REQUEST__INIT, rg = VCPU_REQUEST__INIT,
		    rsx = VCPU_REQUEST__INIT, rgm = VCPU_REQUEST__INIT, rsm = VCPU_REQUEST__INIT,
		    rsc = VCPU_REQUEST__INIT, rhv = VCPU_REQUEST__INIT, rec = VCPU_REQUEST__INIT;
	uint32_t idx[3] = { 0x10, 0xc0000080, 0x12345678 };
	MainRequest__PauseVcpus pv = MAIN_REQUEST__PAUSE_VCPUS__INIT;
	MAIN(p, PAUSE_VCPUS, pause_vcpus, &pv);

	rw.message_case = VCPU_REQUEST__MESSAGE_WAIT;
	rw.wait = &w;
	rr.message_case = VCPU_REQUEST__MESSAGE_RESUME;
	rr.resume = &rs;
	rg.message_case = VCPU_REQUEST__MESSAGE_GET_STATE;
	rg.get_state = &gs;
	rsx.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
	rsx.set_state = &ss;
	rgm.message_case = VCPU_REQUEST__MESSAGE_GET_MSRS;
	rgm.get_msrs = &gm;
	rsm.message_case = VCPU_REQUEST__MESSAGE_SET_MSRS;
	rsm.set_msrs = &sm;
	rsc.message_case = VCPU_REQUEST__MESSAGE_SET_CPUID;
	rsc.set_cpuid = &sc;
	rhv.message_case = VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID;
	rhv.get_hyperv_cpuid = &hv;
	rec.message_case = VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY;
	rec.enable_capability = &ec;

	rec_vcpu(0, &rw);
	rec_vcpu(0, &rr);
	rec_vcpu(1, &rw);
	rec_vcpu(1, &rr);
	save(d, "wait-resume");

	rec_vcpu(0, &rg);       /* EBUSY: not parked on a delivered event */
	rec_vcpu(0, &rw);
	rec_vcpu(0, &rw);       /* EBUSY: not resumed */
	for (int set = 0; set < 8; set++) {
		gs.set = set;
		rec_vcpu(0, &rg);
		ss.set = set;
		ss.state.data = zero;
		ss.state.len = sizes[set] + 1;
		rec_vcpu(0, &rsx);  /* wrong size */
	}
	rec_vcpu(0, &rr);
	rec_vcpu(0, &rr);       /* nothing to resume */
	save(d, "state");

	rec_vcpu(1, &rw);
	gm.n_entry_indices = 3;
	gm.entry_indices = idx;
	rec_vcpu(1, &rgm);
	me.index = 0x10;
	me.data = 1234;
	sm.n_entries = 1;
	sm.entries = mes;
	rec_vcpu(1, &rsm);
	ce.function = 1;
	ce.eax = 0x306a9;
	sc.n_entries = 1;
	sc.entries = ces;
	rec_vcpu(1, &rsc);
	rec_vcpu(1, &rhv);
	ec.capability = KVM_CAP_HYPERV_SYNIC;
	rec_vcpu(1, &rec);
	ss.set = 5;      /* MP state, right size */
	ss.state.len = sizes[5];
	rec_vcpu(1, &rsx);
	rec_vcpu(1, &rr);
	save(d, "msrs-cpuid");

	pv.cpu_mask = 1;
	pv.user = 7;
	rec_main(0x80, &p);
	rec_vcpu(0, &rw);
	rec_vcpu(0, &rr);
	rec_vcpu(0, &rw);
	rec_vcpu(0, &rr);
	rec_raw(0, "\xff\xff\xff", 3);
	rec_raw(1, "", 0);
	save(d, "pause-and-junk");
}


/* Introspection: [ctl][len][hdr + body]; ctl 2 = fix the size, 3 = also
 * answer the last event. */
static void kmsg(unsigned ctl, uint16_t id, uint32_t seq, const void *body, size_t len)
{
	uint8_t buf[512];
	struct vigil_kvmi_hdr h = { .msg_id = id, .size = (uint16_t)len, .seq = seq };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	rec_raw(ctl, buf, sizeof(h) + len);
}

static void kvmi_seeds(const char *d)
{
	struct vigil_kvmi_vcpu_req v0 = { 0 };
	struct { struct vigil_kvmi_get_regs g; uint32_t msrs[2]; } gr = {
		{ .vcpu = 0, .nmsrs = 2 }, { 0xc0000080, 0x10 } };
	struct vigil_kvmi_get_cpuid cq = { .function = 0 };
	struct vigil_kvmi_translate tr = { .gva = 0x400000 };
	struct vigil_kvmi_event_reply er = { .action = VIGIL_KVMI_ACTION_ALLOW,
					     .event = VIGIL_KVMI_EVENT_PAUSE };
	struct vigil_kvmi_read_phys rp = { .gpa = 0x400000, .size = 64 };
	struct { struct vigil_kvmi_write_phys w; uint8_t data[8]; } wp = {
		{ .gpa = 0x600000, .size = 8 }, { 1, 2, 3, 4, 5, 6, 7, 8 } };
	struct { struct vigil_kvmi_page_access a; struct vigil_kvmi_page_entry e[2]; } pa = {
		{ .count = 2 }, { { .gpa = 0x600000, .access = VIGIL_KVMI_PAGE_R },
				  { .gpa = 0x601000, .access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X } } };
	struct vigil_kvmi_control_events ce = { .vcpu = VIGIL_KVMI_ALL_VCPUS,
		.op = VIGIL_KVMI_EVENTS_ENABLE,
		.events = VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PF) | VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MSR) };
	struct vigil_kvmi_control_cr cc = { .cr = 3, .enable = 1 };
	struct vigil_kvmi_control_msr cm = { .enable = 1, .msr = 0xc0000080 };
	struct vigil_kvmi_control_singlestep cs = { .enable = 0 };
	struct vigil_kvmi_set_breakpoint bp = { .index = 1, .enable = 1, .type = VIGIL_KVMI_BP_EXEC,
						.len = 1, .gva = 0x400000 };
	struct vigil_kvmi_inject_exception ie = { .vector = 14, .has_error = 1, .cr2 = 0x1234 };
	struct vigil_kvmi_set_regs sr = { .vcpu = 0 };

	kmsg(2, VIGIL_KVMI_GET_VERSION, 1, NULL, 0);
	kmsg(2, VIGIL_KVMI_GET_GUEST_INFO, 2, NULL, 0);
	save(d, "version-info");

	kmsg(2, VIGIL_KVMI_PAUSE_VCPU, 1, &v0, sizeof(v0));
	kmsg(2, VIGIL_KVMI_GET_REGISTERS, 2, &gr, sizeof(gr));
	kmsg(2, VIGIL_KVMI_GET_CPUID, 3, &cq, sizeof(cq));
	kmsg(2, VIGIL_KVMI_GET_XCR, 4, &v0, sizeof(v0));
	kmsg(2, VIGIL_KVMI_GET_XSAVE, 5, &v0, sizeof(v0));
	kmsg(2, VIGIL_KVMI_TRANSLATE_GVA, 6, &tr, sizeof(tr));
	kmsg(3, VIGIL_KVMI_EVENT_REPLY, 0, &er, sizeof(er));
	save(d, "pause-inspect-reply");

	kmsg(2, VIGIL_KVMI_READ_PHYSICAL, 1, &rp, sizeof(rp));
	kmsg(2, VIGIL_KVMI_GET_MEMFD, 2, NULL, 0);
	kmsg(2, VIGIL_KVMI_SET_PAGE_ACCESS, 3, &pa, sizeof(pa));
	pa.e[0].access = 0;
	pa.e[1].access = 0;
	kmsg(2, VIGIL_KVMI_GET_PAGE_ACCESS, 4, &pa, sizeof(pa));
	pa.e[0].access = VIGIL_KVMI_PAGE_RWX;
	pa.e[1].access = VIGIL_KVMI_PAGE_RWX;
	kmsg(2, VIGIL_KVMI_SET_PAGE_ACCESS, 5, &pa, sizeof(pa));
	save(d, "memory");

	kmsg(2, VIGIL_KVMI_WRITE_PHYSICAL, 1, &wp, sizeof(wp));
	kmsg(2, VIGIL_KVMI_CONTROL_EVENTS, 2, &ce, sizeof(ce));
	kmsg(2, VIGIL_KVMI_CONTROL_CR, 3, &cc, sizeof(cc));
	kmsg(2, VIGIL_KVMI_CONTROL_MSR, 4, &cm, sizeof(cm));
	kmsg(2, VIGIL_KVMI_CONTROL_SINGLESTEP, 5, &cs, sizeof(cs));
	kmsg(2, VIGIL_KVMI_SET_BREAKPOINT, 6, &bp, sizeof(bp));
	kmsg(2, VIGIL_KVMI_PAUSE_VCPU, 7, &v0, sizeof(v0));
	kmsg(2, VIGIL_KVMI_INJECT_EXCEPTION, 8, &ie, sizeof(ie));
	kmsg(2, VIGIL_KVMI_GET_REGISTERS, 9, &gr, sizeof(gr.g));
	kmsg(2, VIGIL_KVMI_SET_REGISTERS, 10, &sr, sizeof(sr));
	kmsg(3, VIGIL_KVMI_EVENT_REPLY, 0, &er, sizeof(er));
	save(d, "controls");

	rec_raw(0, "\x02\x00\x00\x00", 4);              /* truncated header */
	kmsg(0, VIGIL_KVMI_GET_VERSION, 2, "\0\0\0\0", 0); /* size says 0 ... */
	seed[seed_len - 11 + 2 + 3] = 4;                  /* ... now 4, datagram 8 */
	v0.padding[1] = 1;
	kmsg(2, VIGIL_KVMI_PAUSE_VCPU, 3, &v0, sizeof(v0)); /* padding */
	v0.padding[1] = 0;
	v0.vcpu = 7;
	kmsg(2, VIGIL_KVMI_PAUSE_VCPU, 4, &v0, sizeof(v0)); /* no such vCPU */
	kmsg(2, 99, 5, NULL, 0);                            /* unknown id */
	kmsg(2, VIGIL_KVMI_EVENT_REPLY, 6, &er, sizeof(er)); /* a reply to nothing */
	kmsg(2, VIGIL_KVMI_EVENT_REPLY, 7, &er, 4);          /* a short one */
	v0.vcpu = 0;
	kmsg(2, VIGIL_KVMI_UNHOOK, 8, &v0, sizeof(v0));
	kmsg(2, VIGIL_KVMI_GET_VERSION, 9, NULL, 0);         /* after a new attach */
	save(d, "malformed");
}

int main(int argc, char **argv)
{
	char dm[512], dv[512], dk[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	snprintf(dm, sizeof(dm), "%s/fuzz_plugin_main", argv[1]);
	snprintf(dv, sizeof(dv), "%s/fuzz_plugin_vcpu", argv[1]);
	snprintf(dk, sizeof(dk), "%s/fuzz_kvmi", argv[1]);
	if ((mkdir(dm, 0755) < 0 && errno != EEXIST) || (mkdir(dv, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(dk, 0755) < 0 && errno != EEXIST)) {
		perror("mkdir");
		return 1;
	}
	main_create(dm);
	main_ranges(dm);
	main_queries(dm);
	main_state(dm);
	main_vcpus(dm);
	vcpu_seeds(dv);
	kvmi_seeds(dk);
	return 0;
}

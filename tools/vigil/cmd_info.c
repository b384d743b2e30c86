/*
 * vigil info SOCKET: the introspection protocol version, what this host can
 * intercept (GET_VERSION), the guest (GET_GUEST_INFO) and the registers of
 * every vCPU, read while all of them are paused (PAUSE_VCPU), then resumed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kvmi_tool.h"
#include "vigil.h"

#define INFO_MAX_VCPUS 256

static const uint32_t info_msrs[] = {
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0x174, 0x175, 0x176, 0x277,
};
#define NR_INFO_MSRS (sizeof(info_msrs) / sizeof(info_msrs[0]))

struct vcpu_state {
	struct vigil_kvmi_ev pause;   /* the PAUSE event holding the vCPU */
	bool paused;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t msrs[NR_INFO_MSRS];
	unsigned mode;
};

static void info_usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil info [--json] [--timeout MS] SOCKET\n"
		"\n"
		"Attach to the introspection SOCKET of a running vigild (vigild run\n"
		"--introspect SOCKET) and show the protocol version, what this host can\n"
		"intercept, the guest's vCPUs and the registers of each vCPU (every vCPU is\n"
		"paused while they are read, then resumed).\n"
		"\n"
		"Options:\n"
		"  -j, --json        one JSON object instead of text (docs/cli.md)\n"
		"  -t, --timeout MS  how long to wait for vigild (default 5000)\n"
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 ok, 64 usage, 66 no such socket, 69 vigild unavailable or\n"
		"another tool attached, 74 connection lost, 76 not a vigil socket.\n");
}

/* Pause every vCPU and collect their PAUSE events. */
static int pause_all(struct vigil_kvmi *c, struct vcpu_state *st, unsigned n)
{
	struct vigil_kvmi_ev ev;
	unsigned got = 0, v;
	int r;

	for (v = 0; v < n; v++) {
		r = vigil_kvmi_pause_vcpu(c, v);
		if (r < 0)
			return vk_fail("PAUSE_VCPU", r);
	}
	while (got < n) {
		r = vigil_kvmi_wait_event(c, 10000);
		if (r < 0)
			return vk_fail("waiting for the vCPUs to pause", r);
		while (vigil_kvmi_pop_event(c, &ev) == 0) {
			if (ev.common.event != VIGIL_KVMI_EVENT_PAUSE || ev.common.vcpu >= n ||
			    st[ev.common.vcpu].paused) {
				vigil_kvmi_reply_event(c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
				continue;
			}
			st[ev.common.vcpu].pause = ev;
			st[ev.common.vcpu].paused = true;
			got++;
		}
	}
	return VIGIL_EXIT_OK;
}

static void resume_all(struct vigil_kvmi *c, struct vcpu_state *st, unsigned n)
{
	for (unsigned v = 0; v < n; v++)
		if (st[v].paused)
			vigil_kvmi_reply_event(c, &st[v].pause, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
}

static int read_regs(struct vigil_kvmi *c, struct vcpu_state *st, unsigned n)
{
	char what[64];
	int r;

	for (unsigned v = 0; v < n; v++) {
		r = vigil_kvmi_get_registers(c, v, &st[v].regs, &st[v].sregs, info_msrs,
					     NR_INFO_MSRS, st[v].msrs, &st[v].mode);
		if (r < 0) {
			snprintf(what, sizeof(what), "GET_REGISTERS of vCPU %u", v);
			return vk_fail(what, r);
		}
	}
	return VIGIL_EXIT_OK;
}

/* ---- text ---- */

static void print_caps(const struct vigil_kvmi_version_reply *ver)
{
	printf("vigil introspection protocol %u (largest message %u bytes)\n", ver->version,
	       ver->max_msg);
	printf("host can intercept:\n");
	for (unsigned e = 0; e < VIGIL_KVMI_EVENT_MAX; e++) {
		bool has = ver->events & VIGIL_KVMI_EVBIT(e);
		bool cav = ver->events_caveat & VIGIL_KVMI_EVBIT(e);

		printf("  %-14s %s%s%s\n", vk_event_name(e), has ? "yes" : "no",
		       has && cav ? ", caveat: " : "", has && cav ? vk_event_caveat(e) : "");
	}
	printf("hardware breakpoints: %u\n", ver->nr_hw_breakpoints);
	printf("features:%s%s%s%s\n",
	       ver->features & VIGIL_KVMI_FEAT_EXCEPTION_PAYLOAD ? " exception-payload" : "",
	       ver->features & VIGIL_KVMI_FEAT_MEMFD ? " memfd" : "",
	       ver->features & VIGIL_KVMI_FEAT_STEP_BLOCKIRQ ? " step-blockirq" : "",
	       ver->features ? "" : " none");
}

static void print_seg(const char *name, const struct kvm_segment *s)
{
	printf("  %-3s %04x base %016llx limit %08x dpl %u%s\n", name, s->selector,
	       (unsigned long long)s->base, s->limit, s->dpl, s->l ? " 64-bit" : "");
}

static void print_vcpu(unsigned v, const struct vcpu_state *s)
{
	const struct kvm_regs *r = &s->regs;
	const uint64_t g[16] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rsp, r->rbp,
				 r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
	static const char *const gn[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp",
					    "rbp", "r8", "r9", "r10", "r11", "r12", "r13",
					    "r14", "r15" };

	printf("vCPU %u: %u-bit mode, CPL %u\n", v, s->mode * 8, s->sregs.cs.selector & 3);
	printf("  rip %016llx  rflags %08llx\n", (unsigned long long)r->rip,
	       (unsigned long long)r->rflags);
	for (unsigned i = 0; i < 16; i++)
		printf("%s%-3s %016llx%s", i % 4 ? "  " : "  ", gn[i], (unsigned long long)g[i],
		       i % 4 == 3 ? "\n" : "");
	printf("  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx\n",
	       (unsigned long long)s->sregs.cr0, (unsigned long long)s->sregs.cr2,
	       (unsigned long long)s->sregs.cr3, (unsigned long long)s->sregs.cr4);
	print_seg("cs", &s->sregs.cs);
	print_seg("ss", &s->sregs.ss);
	print_seg("tr", &s->sregs.tr);
	printf("  gdt %016llx/%04x  idt %016llx/%04x\n", (unsigned long long)s->sregs.gdt.base,
	       s->sregs.gdt.limit, (unsigned long long)s->sregs.idt.base, s->sregs.idt.limit);
	for (unsigned i = 0; i < NR_INFO_MSRS; i++)
		printf("%s%-14s %016llx%s", i % 2 ? "  " : "  ", vk_msr_name(info_msrs[i]),
		       (unsigned long long)s->msrs[i], i % 2 ? "\n" : "");
	if (NR_INFO_MSRS % 2)
		printf("\n");
}

/* ---- JSON ---- */

static json_object *hex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	return json_object_new_string(b);
}

static json_object *json_caps(const struct vigil_kvmi_version_reply *ver)
{
	json_object *o = json_object_new_object(), *ev = json_object_new_object();

	json_object_object_add(o, "version", json_object_new_int64(ver->version));
	json_object_object_add(o, "max_msg", json_object_new_int64(ver->max_msg));
	for (unsigned e = 0; e < VIGIL_KVMI_EVENT_MAX; e++) {
		const char *s = !(ver->events & VIGIL_KVMI_EVBIT(e)) ? "absent" :
				(ver->events_caveat & VIGIL_KVMI_EVBIT(e)) ? "caveat" : "available";

		json_object_object_add(ev, vk_event_name(e), json_object_new_string(s));
	}
	json_object_object_add(o, "events", ev);
	json_object_object_add(o, "commands", hex(ver->commands));
	json_object_object_add(o, "hw_breakpoints", json_object_new_int64(ver->nr_hw_breakpoints));
	json_object_object_add(o, "features", hex(ver->features));
	return o;
}

static json_object *json_vcpu(unsigned v, const struct vcpu_state *s)
{
	json_object *o = json_object_new_object(), *m = json_object_new_object();
	const struct kvm_regs *r = &s->regs;

	json_object_object_add(o, "vcpu", json_object_new_int64(v));
	json_object_object_add(o, "mode", json_object_new_int64(s->mode * 8));
	json_object_object_add(o, "cpl", json_object_new_int64(s->sregs.cs.selector & 3));
#define REG(name, val) json_object_object_add(o, name, hex(val))
	REG("rip", r->rip); REG("rflags", r->rflags); REG("rax", r->rax); REG("rbx", r->rbx);
	REG("rcx", r->rcx); REG("rdx", r->rdx); REG("rsi", r->rsi); REG("rdi", r->rdi);
	REG("rsp", r->rsp); REG("rbp", r->rbp); REG("r8", r->r8); REG("r9", r->r9);
	REG("r10", r->r10); REG("r11", r->r11); REG("r12", r->r12); REG("r13", r->r13);
	REG("r14", r->r14); REG("r15", r->r15);
	REG("cr0", s->sregs.cr0); REG("cr2", s->sregs.cr2); REG("cr3", s->sregs.cr3);
	REG("cr4", s->sregs.cr4); REG("efer", s->sregs.efer);
#undef REG
	for (unsigned i = 0; i < NR_INFO_MSRS; i++)
		json_object_object_add(m, vk_msr_name(info_msrs[i]), hex(s->msrs[i]));
	json_object_object_add(o, "msrs", m);
	return o;
}

static void print_json(const struct vigil_kvmi_version_reply *ver,
		       const struct vigil_kvmi_guest_info_reply *gi, const struct vcpu_state *st,
		       unsigned n)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "protocol", json_caps(ver));
	json_object_object_add(o, "nr_vcpus", json_object_new_int64(gi->vcpu_count));
	json_object_object_add(o, "mem_size", json_object_new_int64((int64_t)gi->mem_size));
	json_object_object_add(o, "tsc_khz", json_object_new_int64((int64_t)gi->tsc_khz));
	for (unsigned v = 0; v < n; v++)
		json_object_array_add(a, json_vcpu(v, &st[v]));
	json_object_object_add(o, "vcpus", a);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static int info_run(struct vigil_kvmi *c, bool json)
{
	struct vigil_kvmi_version_reply ver;
	struct vigil_kvmi_guest_info_reply gi;
	struct vcpu_state *st;
	unsigned n;
	int r, status;

	r = vigil_kvmi_get_version(c, &ver);
	if (r < 0)
		return vk_fail("GET_VERSION", r);
	r = vigil_kvmi_get_guest_info(c, &gi);
	if (r < 0)
		return vk_fail("GET_GUEST_INFO", r);
	n = gi.vcpu_count < INFO_MAX_VCPUS ? gi.vcpu_count : INFO_MAX_VCPUS;
	st = calloc(n ? n : 1, sizeof(*st));
	if (!st)
		return vk_fail("info", -ENOMEM);
	status = pause_all(c, st, n);
	if (status == VIGIL_EXIT_OK)
		status = read_regs(c, st, n);
	resume_all(c, st, n);
	if (status == VIGIL_EXIT_OK && json) {
		print_json(&ver, &gi, st, n);
	} else if (status == VIGIL_EXIT_OK) {
		print_caps(&ver);
		printf("guest: %u vCPU(s), %llu MiB of RAM", gi.vcpu_count,
		       (unsigned long long)(gi.mem_size >> 20));
		if (gi.tsc_khz)
			printf(", TSC %llu kHz", (unsigned long long)gi.tsc_khz);
		printf("\n");
		for (unsigned v = 0; v < n; v++)
			print_vcpu(v, &st[v]);
	}
	free(st);
	return status;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vigil_kvmi *c = NULL;
	uint64_t tmo = 5000;
	bool json = false;
	int o, status;

	while ((o = getopt_long(argc, argv, "jt:h", opts, NULL)) != -1) {
		switch (o) {
		case 'j': json = true; break;
		case 't':
			if (vk_parse_u64(optarg, false, &tmo) < 0 || tmo > 3600000) {
				vigil_err("--timeout: '%s' is not a number of milliseconds", optarg);
				return vigil_usage_error("info");
			}
			break;
		case 'h': info_usage(stdout); return VIGIL_EXIT_OK;
		default: return vigil_usage_error("info");
		}
	}
	if (argc - optind != 1) {
		vigil_err(argc - optind < 1 ? "info: missing SOCKET" : "info: too many arguments");
		return vigil_usage_error("info");
	}
	status = vk_attach(argv[optind], (int)tmo, &c);
	if (status)
		return status;
	status = info_run(c, json);
	vigil_kvmi_close(&c);
	return status;
}

/* The attached session of vigil trace / vigil policy (see trace_run.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kvmi_tool.h"
#include "trace_out.h"
#include "trace_run.h"
#include "vigil.h"

/* #PF error code for an instruction fetch from a present page. */
#define PF_ERR_PRESENT 0x1u
#define PF_ERR_USER    0x4u
#define PF_ERR_FETCH   0x10u

struct session {
	const struct trace_opts *o;
	struct vigil_kvmi *c;
	struct trace_out *out;
	int sigfd;
	double t0;
	unsigned nr_vcpus;
	struct vigil_kvmi_page_entry *pages;
	size_t nr_pages;
	char reason[64];
	bool vm_gone;
	struct {                  /* last fetch answered ALLOW (see allow_fetch) */
		unsigned vcpu;
		uint64_t rip, gpa;
		bool valid;
	} last_fetch;
};

/* ---- options ---- */

const struct option trace_long_opts[] = {
	{ "cr", required_argument, NULL, 'c' },
	{ "msr", required_argument, NULL, 'm' },
	{ "pages", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, 'j' },
	{ "dma", no_argument, NULL, 'D' },
	{ "duration", required_argument, NULL, 'd' },
	{ "timeline", required_argument, NULL, 'T' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const char trace_opts_help[] =
	"Options:\n"
	"  -c, --cr LIST         control registers whose writes to report: any of 0,3,4\n"
	"                        (single-steps the guest's kernel code while attached)\n"
	"  -m, --msr LIST|all    MSRs whose writes to report, by name (LSTAR, EFER...)\n"
	"                        or number; 'all' is every MSR vigil knows by name\n"
	"  -p, --pages RANGES    guest-physical ranges to watch, comma-separated\n"
	"                        START[-END|+LEN][:ACCESS], ACCESS letters of rwx\n"
	"                        (default w), e.g. 0x200000+4K:w\n"
	"      --dma             device accesses to guest memory (vfio-user devices\n"
	"                        attached with trace-dma=on), reads and writes\n"
	"  -j, --json            JSON lines instead of a table (schema: docs/cli.md)\n"
	"  -d, --duration S      detach after S seconds (default: until the VM stops)\n"
	"  -T, --timeline FILE   also write Chrome trace-event JSON (open in Perfetto)\n"
	"  -t, --timeout MS      how long to wait for vigild to accept (default 5000)\n"
	"  -h, --help            show this help\n";

static int parse_cr(struct trace_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *n = !strncasecmp(tok, "cr", 2) ? tok + 2 : tok;

		if (strcmp(n, "0") && strcmp(n, "3") && strcmp(n, "4")) {
			vigil_err("--cr: '%s' is not one of 0, 3, 4", tok);
			r = -EINVAL;
			break;
		}
		o->cr_mask |= 1u << (n[0] - '0');
	}
	free(copy);
	return r;
}

static int add_msr(struct trace_opts *o, uint32_t msr)
{
	for (unsigned i = 0; i < o->nr_msrs; i++)
		if (o->msrs[i] == msr)
			return 0;
	if (o->nr_msrs == TRACE_MAX_MSRS) {
		vigil_err("--msr: at most %u MSRs", TRACE_MAX_MSRS);
		return -E2BIG;
	}
	o->msrs[o->nr_msrs++] = msr;
	return 0;
}

static int parse_msr(struct trace_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	const uint32_t *all;
	uint32_t msr;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "all")) {
			unsigned n = vk_msr_all(&all);

			for (unsigned i = 0; i < n && !r; i++)
				r = add_msr(o, all[i]);
		} else if (vk_msr_parse(tok, &msr) < 0) {
			vigil_err("--msr: '%s' is neither a known MSR name nor a number", tok);
			r = -EINVAL;
		} else {
			r = add_msr(o, msr);
		}
	}
	free(copy);
	return r;
}

static int parse_access(const char *s, uint8_t *out)
{
	*out = 0;
	for (; *s; s++) {
		uint8_t b = *s == 'r' ? VIGIL_KVMI_PAGE_R : *s == 'w' ? VIGIL_KVMI_PAGE_W :
			    *s == 'x' ? VIGIL_KVMI_PAGE_X : 0;

		if (!b)
			return -EINVAL;
		*out |= b;
	}
	return *out ? 0 : -EINVAL;
}

/* START[-END|+LEN][:ACCESS] */
static int parse_range(const char *tok, struct trace_range *r)
{
	char buf[128], *acc, *sep, kind = 0;
	uint64_t a, b = 0;

	if (strlen(tok) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, tok);
	r->watch = VIGIL_KVMI_PAGE_W;
	acc = strchr(buf, ':');
	if (acc) {
		*acc++ = '\0';
		if (parse_access(acc, &r->watch))
			return -EINVAL;
	}
	sep = strpbrk(buf, "-+");
	if (sep) {
		kind = *sep;
		*sep++ = '\0';
		if (vk_parse_u64(sep, kind == '+', &b) < 0)
			return -EINVAL;
	}
	if (vk_parse_u64(buf, false, &a) < 0)
		return -EINVAL;
	r->start = a;
	r->end = kind == '+' ? a + b : kind == '-' ? b : (a & ~0xfffull) + 4096;
	if (r->end <= r->start || r->end > (1ull << 52) ||
	    ((r->end - r->start) >> 12) > POLICY_MAX_PAGES)
		return -EINVAL;
	return 0;
}

static int parse_pages(struct trace_opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		if (o->nr_ranges == TRACE_MAX_RANGES) {
			vigil_err("--pages: at most %u ranges", TRACE_MAX_RANGES);
			r = -E2BIG;
		} else if (parse_range(tok, &o->ranges[o->nr_ranges]) < 0) {
			vigil_err("--pages: '%s' is not START[-END|+LEN][:ACCESS] (ACCESS of rwx)", tok);
			r = -EINVAL;
		} else {
			o->nr_ranges++;
		}
	}
	free(copy);
	return r;
}

int trace_parse_opt(struct trace_opts *o, int opt, const char *arg, const char *cmd)
{
	uint64_t v;
	char *end;

	switch (opt) {
	case 'c': return parse_cr(o, arg);
	case 'm': return parse_msr(o, arg);
	case 'p': return parse_pages(o, arg);
	case 'j': o->json = true; return 0;
	case 'D': o->dma = true; return 0;
	case 'T': o->timeline = arg; return 0;
	case 'd':
		o->duration = strtod(arg, &end);
		if (*end || end == arg || !(o->duration > 0) || o->duration > 1e7) {
			vigil_err("%s: --duration: '%s' is not a positive number of seconds", cmd, arg);
			return -EINVAL;
		}
		return 0;
	case 't':
		if (vk_parse_u64(arg, false, &v) < 0 || v > 3600000) {
			vigil_err("%s: --timeout: '%s' is not a number of milliseconds", cmd, arg);
			return -EINVAL;
		}
		o->timeout_ms = (int)v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- set-up ---- */

static double now_rel(const struct session *s)
{
	return vk_now() - s->t0;
}

static void note(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct session *s, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	trace_out_note(s->out, now_rel(s), text);
}

static int check_caps(struct session *s, uint64_t *events)
{
	const struct trace_opts *o = s->o;
	struct vigil_kvmi_version_reply v;
	int r = vigil_kvmi_get_version(s->c, &v);

	if (r < 0)
		return vk_fail("GET_VERSION", r);
	*events = VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_HYPERCALL);
	if (o->cr_mask)
		*events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_CR);
	if (o->nr_msrs)
		*events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MSR);
	if (o->nr_ranges || o->policy)
		*events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PF);
	/* A policy also rules device DMA, when the VM has traced devices. */
	if (o->dma || (o->policy && (v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA))))
		*events |= VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA);
	for (unsigned e = 0; e < VIGIL_KVMI_EVENT_MAX; e++) {
		if (!(*events & VIGIL_KVMI_EVBIT(e)) || e == VIGIL_KVMI_EVENT_HYPERCALL)
			continue;
		if (!(v.events & VIGIL_KVMI_EVBIT(e)) && e == VIGIL_KVMI_EVENT_DMA) {
			vigil_err("%s: --dma: this VM has no device attached with trace-dma=on",
				  o->socket);
			return VIGIL_EXIT_UNAVAILABLE;
		}
		if (!(v.events & VIGIL_KVMI_EVBIT(e))) {
			vigil_err("%s: this host cannot intercept %s events (see vigil info)",
				  o->socket, vk_event_name(e));
			return VIGIL_EXIT_UNAVAILABLE;
		}
	}
	if (!(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_HYPERCALL)))
		*events &= ~VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_HYPERCALL);
	return VIGIL_EXIT_OK;
}

/* Page restrictions: the policy's rights ANDed with "not what --pages watches". */
static int build_pages(struct session *s)
{
	const struct trace_opts *o = s->o;
	char err[512];
	int r;

	if (o->policy) {
		r = policy_translate(o->policy, s->c, err, sizeof(err));
		if (r == -EFAULT) {
			vigil_err("%s: %s; nothing applied", o->policy->file, err);
			return VIGIL_EXIT_DATAERR;
		}
		if (r < 0)
			return vk_fail(o->policy->file, r);
		if (policy_pages(o->policy, &s->pages, &s->nr_pages) < 0)
			return vk_fail("policy", -ENOMEM);
	}
	for (unsigned i = 0; i < o->nr_ranges; i++) {
		const struct trace_range *tr = &o->ranges[i];
		size_t n = (size_t)(((tr->end + 4095) >> 12) - (tr->start >> 12));
		struct vigil_kvmi_page_entry *e = realloc(s->pages, (s->nr_pages + n) * sizeof(*e));

		if (!e)
			return vk_fail("--pages", -ENOMEM);
		s->pages = e;
		for (size_t j = 0; j < n; j++) {
			memset(&e[s->nr_pages], 0, sizeof(*e));
			e[s->nr_pages].gpa = (tr->start & ~0xfffull) + j * 4096;
			e[s->nr_pages++].access = VIGIL_KVMI_PAGE_RWX & ~tr->watch;
		}
	}
	policy_pages_normalize(s->pages, &s->nr_pages);
	return VIGIL_EXIT_OK;
}

static int handle_event(struct session *s, const struct vigil_kvmi_ev *ev);

/*
 * Page restrictions change KVM memslots, and vigild replaces a slot by
 * deleting it before creating its pieces: a vCPU running in that window
 * finds no RAM (seen here as triple faults). So every vCPU is held in a
 * PAUSE event while they change; other events are answered meanwhile.
 */
static int pause_all(struct session *s, struct vigil_kvmi_ev *held, bool *got)
{
	struct vigil_kvmi_ev ev;
	unsigned n = 0;
	int r;

	for (unsigned v = 0; v < s->nr_vcpus; v++) {
		r = vigil_kvmi_pause_vcpu(s->c, v);
		if (r < 0)
			return r;
	}
	while (n < s->nr_vcpus) {
		r = vigil_kvmi_wait_event(s->c, 10000);
		if (r < 0)
			return r;
		while (vigil_kvmi_pop_event(s->c, &ev) == 0) {
			if (ev.common.event != VIGIL_KVMI_EVENT_PAUSE || ev.common.vcpu >= s->nr_vcpus ||
			    got[ev.common.vcpu]) {
				r = handle_event(s, &ev);
				if (r < 0)
					return r;
				continue;
			}
			held[ev.common.vcpu] = ev;
			got[ev.common.vcpu] = true;
			n++;
		}
	}
	return 0;
}

static void resume_all(struct session *s, const struct vigil_kvmi_ev *held, const bool *got)
{
	for (unsigned v = 0; v < s->nr_vcpus; v++)
		if (got[v])
			vigil_kvmi_reply_event(s->c, &held[v], VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
}

/* Set page rights with every vCPU paused. */
static int set_pages_paused(struct session *s, unsigned *slots)
{
	struct vigil_kvmi_ev *held = calloc(s->nr_vcpus + 1, sizeof(*held));
	bool *got = calloc(s->nr_vcpus + 1, sizeof(*got));
	int r = held && got ? pause_all(s, held, got) : -ENOMEM;

	if (r == 0)
		r = vigil_kvmi_set_page_access(s->c, s->pages, s->nr_pages, slots);
	if (held && got)
		resume_all(s, held, got);
	free(held);
	free(got);
	return r;
}

/* Install the page restrictions all at once; undo everything if any batch fails. */
static int apply_pages(struct session *s)
{
	unsigned slots = 0;
	int r;

	if (!s->nr_pages)
		return VIGIL_EXIT_OK;
	r = set_pages_paused(s, &slots);
	if (r == 0)
		return VIGIL_EXIT_OK;
	for (size_t i = 0; i < s->nr_pages; i++)
		s->pages[i].access = VIGIL_KVMI_PAGE_RWX;
	set_pages_paused(s, NULL);
	if (r == -EFAULT || r == -EINVAL) {
		vigil_err("%s: a page is outside guest RAM; nothing applied",
			  s->o->policy ? s->o->policy->file : "--pages");
		return VIGIL_EXIT_DATAERR;
	}
	return vk_fail("SET_PAGE_ACCESS (nothing applied)", r);
}

static int enable_intercepts(struct session *s)
{
	const struct trace_opts *o = s->o;
	char what[64];
	int r;

	for (unsigned v = 0; v < s->nr_vcpus; v++)
		for (unsigned cr = 0; cr < 5; cr++) {
			if (!(o->cr_mask & (1u << cr)))
				continue;
			r = vigil_kvmi_control_cr(s->c, v, cr, 1);
			if (r < 0) {
				snprintf(what, sizeof(what), "CONTROL_CR cr%u vCPU %u", cr, v);
				return vk_fail(what, r);
			}
		}
	for (unsigned i = 0; i < o->nr_msrs; i++) {
		r = vigil_kvmi_control_msr(s->c, o->msrs[i], 1);
		if (r == -EPERM) {
			vigil_err("--msr: MSR 0x%x cannot be intercepted on this host", o->msrs[i]);
			return VIGIL_EXIT_UNAVAILABLE;
		}
		if (r < 0) {
			snprintf(what, sizeof(what), "CONTROL_MSR 0x%x", o->msrs[i]);
			return vk_fail(what, r);
		}
	}
	return VIGIL_EXIT_OK;
}

static int setup(struct session *s)
{
	uint64_t events = 0;
	int status;

	status = check_caps(s, &events);
	if (!status)
		status = build_pages(s);
	if (!status)
		status = apply_pages(s);
	if (!status)
		status = enable_intercepts(s);
	if (status)
		return status;
	/* Last: a guest waiting with HELLO is released only now. */
	status = vigil_kvmi_control_events(s->c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_ENABLE,
					   events, NULL);
	if (status < 0)
		return vk_fail("CONTROL_EVENTS", status);
	if (s->o->policy)
		note(s, "policy %s: %zu rule(s) on %zu page(s) enforced", s->o->policy->file,
		     s->o->policy->nr, s->nr_pages);
	note(s, "attached to %s (%u vCPU(s))", s->o->socket, s->nr_vcpus);
	return VIGIL_EXIT_OK;
}

/* ---- events ---- */

static int reply(struct session *s, const struct vigil_kvmi_ev *ev, unsigned action)
{
	int r = vigil_kvmi_reply_event(s->c, ev, action, 0, 0, NULL, 0);

	return r == -ENOENT ? 0 : r;   /* too late: vigild already went on */
}

/* HELLO from a guest waiting for a tool: answer READY in its RAX. */
static int on_hypercall(struct session *s, const struct vigil_kvmi_ev *ev, double ts)
{
	struct trace_verdict v = { .action = "allow" };
	struct kvm_regs regs = ev->common.regs;
	char text[96];

	if (ev->u.hc.value == VIGIL_CLI_HELLO) {
		regs.rax = VIGIL_CLI_READY;
		if (vigil_kvmi_set_registers(s->c, ev->common.vcpu, &regs) == 0) {
			snprintf(text, sizeof(text), "vCPU %u waited for a tool (hello): released",
				 ev->common.vcpu);
			trace_out_note(s->out, ts, text);
		}
		trace_out_event(s->out, ts, ev, &v, false);
	} else {
		trace_out_event(s->out, ts, ev, &v, true);
	}
	return reply(s, ev, VIGIL_KVMI_ACTION_ALLOW);
}

static bool range_watched(const struct trace_opts *o, uint64_t gpa, uint8_t access)
{
	for (unsigned i = 0; i < o->nr_ranges; i++)
		if (gpa >= o->ranges[i].start && gpa < o->ranges[i].end &&
		    (o->ranges[i].watch & access))
			return true;
	return false;
}

/* deny of an instruction fetch: the guest gets the page fault an NX page
 * would give (skipping instructions one by one is no denial). */
static unsigned deny_fetch(struct session *s, const struct vigil_kvmi_ev *ev,
			   struct trace_verdict *v)
{
	uint32_t code = PF_ERR_PRESENT | PF_ERR_FETCH;
	int r;

	if ((ev->common.sregs.cs.selector & 3) == 3)
		code |= PF_ERR_USER;
	r = vigil_kvmi_inject_exception(s->c, ev->common.vcpu, 14, 1, code, ev->u.pf.gva);
	if (r == 0) {
		v->action = "page fault injected";
		return VIGIL_KVMI_ACTION_RETRY;
	}
	v->action = "skip";
	v->note = "could not inject a page fault: instruction skipped";
	return VIGIL_KVMI_ACTION_SKIP;
}

/*
 * ALLOW of a fetch from a page without X must let the instruction run; if
 * the same vCPU comes back at the same RIP, it did not (seen on kvm_pvm at
 * CPL3), so X is lifted for that page to let the guest go on, and said so.
 */
static unsigned allow_fetch(struct session *s, const struct vigil_kvmi_ev *ev,
			    struct trace_verdict *v)
{
	struct vigil_kvmi_page_entry e = { .gpa = ev->u.pf.gpa & ~0xfffull };
	bool again = s->last_fetch.valid && s->last_fetch.vcpu == ev->common.vcpu &&
		     s->last_fetch.rip == ev->common.regs.rip && s->last_fetch.gpa == ev->u.pf.gpa;

	s->last_fetch.valid = true;
	s->last_fetch.vcpu = ev->common.vcpu;
	s->last_fetch.rip = ev->common.regs.rip;
	s->last_fetch.gpa = ev->u.pf.gpa;
	if (!again || vigil_kvmi_get_page_access(s->c, e.gpa, &e.access) < 0)
		return VIGIL_KVMI_ACTION_ALLOW;
	e.access |= VIGIL_KVMI_PAGE_X;
	if (vigil_kvmi_set_page_access(s->c, &e, 1, NULL) < 0)
		return VIGIL_KVMI_ACTION_ALLOW;
	for (size_t i = 0; i < s->nr_pages; i++)
		if (s->pages[i].gpa == e.gpa)
			s->pages[i].access = e.access;
	v->note = "no progress under ALLOW: execute protection lifted for this page";
	s->last_fetch.valid = false;
	return VIGIL_KVMI_ACTION_RETRY;
}

static int on_pf(struct session *s, const struct vigil_kvmi_ev *ev, double ts)
{
	const struct vigil_kvmi_event_pf *pf = &ev->u.pf;
	const struct policy_rule *rule = policy_check(s->o->policy, pf->gpa, pf->len, pf->access);
	struct trace_verdict v = { .action = "allow" };
	unsigned action = VIGIL_KVMI_ACTION_ALLOW;

	if (rule) {
		v.rule = rule->name;
		v.on_violation = policy_action_name(rule->on_violation);
		if (rule->on_violation == POLICY_CRASH) {
			v.action = "crash";
			action = VIGIL_KVMI_ACTION_CRASH;
		} else if (rule->on_violation == POLICY_DENY && pf->access == VIGIL_KVMI_PAGE_X) {
			action = deny_fetch(s, ev, &v);
		} else if (rule->on_violation == POLICY_DENY) {
			v.action = pf->access == VIGIL_KVMI_PAGE_R ? "skip (reads zeros)" : "skip";
			action = VIGIL_KVMI_ACTION_SKIP;
		}
	}
	if (action == VIGIL_KVMI_ACTION_ALLOW && pf->access == VIGIL_KVMI_PAGE_X)
		action = allow_fetch(s, ev, &v);
	trace_out_event(s->out, ts, ev, &v, rule || range_watched(s->o, pf->gpa, pf->access));
	return reply(s, ev, action);
}

static int handle_event(struct session *s, const struct vigil_kvmi_ev *ev)
{
	struct trace_verdict v = { .action = "allow" };
	double ts = now_rel(s);

	switch (ev->common.event) {
	case VIGIL_KVMI_EVENT_HYPERCALL:
		return on_hypercall(s, ev, ts);
	case VIGIL_KVMI_EVENT_PF:
		return on_pf(s, ev, ts);
	case VIGIL_KVMI_EVENT_DMA:
		return trace_dma_event(s->out, s->o, s->c, ev, ts);
	default:
		trace_out_event(s->out, ts, ev, &v, true);
		return reply(s, ev, VIGIL_KVMI_ACTION_ALLOW);
	}
}

/* Handle every queued event; -errno if the connection failed. */
static int drain(struct session *s)
{
	struct vigil_kvmi_ev ev;
	int r;

	while (vigil_kvmi_pop_event(s->c, &ev) == 0) {
		r = handle_event(s, &ev);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the loop ---- */

static int poll_once(struct session *s, double deadline)
{
	struct pollfd p[2] = {
		{ .fd = vigil_kvmi_fd(s->c), .events = POLLIN },
		{ .fd = s->sigfd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	int tmo = -1, r;

	if (deadline > 0) {
		double left = deadline - vk_now();

		if (left <= 0) {
			snprintf(s->reason, sizeof(s->reason), "duration elapsed");
			return 1;
		}
		tmo = (int)(left * 1000) + 1;
	}
	r = poll(p, 2, tmo);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[1].revents & POLLIN) {
		if (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
			snprintf(s->reason, sizeof(s->reason), "interrupted by %s",
				 strsignal((int)si.ssi_signo));
		return 1;
	}
	if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	r = vigil_kvmi_wait_event(s->c, 0);
	if (r == -ESHUTDOWN || r == -ECONNRESET) {
		s->vm_gone = true;
		snprintf(s->reason, sizeof(s->reason), r == -ESHUTDOWN ? "the VM stopped" :
			 "vigild closed the connection");
		return r == -ESHUTDOWN ? 1 : r;
	}
	return r == -ETIMEDOUT ? 0 : r;
}

static int loop(struct session *s)
{
	double deadline = s->o->duration > 0 ? vk_now() + s->o->duration : 0;
	int r;

	for (;;) {
		r = drain(s);
		if (r < 0)
			return r;
		r = poll_once(s, deadline);
		if (r)
			return r < 0 ? r : 0;
	}
}

/* Answer what is still queued, lift the page restrictions (vCPUs paused,
 * see pause_all), then remove every other intercept and detach. */
static void detach(struct session *s)
{
	if (!s->vm_gone) {
		drain(s);
		for (size_t i = 0; i < s->nr_pages; i++)
			s->pages[i].access = VIGIL_KVMI_PAGE_RWX;
		if (s->nr_pages)
			set_pages_paused(s, NULL);
		vigil_kvmi_unhook(s->c);
	}
	vigil_kvmi_close(&s->c);
}

static int signals_block(sigset_t *old)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		sigprocmask(SIG_SETMASK, old, NULL);
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

static int session_run(struct session *s)
{
	int status, r;

	status = vk_attach(s->o->socket, s->o->timeout_ms, &s->c);
	if (status)
		return status;
	s->t0 = vk_now();
	s->nr_vcpus = vigil_kvmi_nr_vcpus(s->c);
	status = setup(s);
	if (status) {
		vigil_kvmi_close(&s->c);   /* vigild removes whatever was set up */
		return status;
	}
	r = loop(s);
	if (r < 0 && !s->vm_gone)
		snprintf(s->reason, sizeof(s->reason), "error: %s", strerror(-r));
	detach(s);
	if (r == -ECONNRESET) {
		vigil_err("%s: vigild closed the connection", s->o->socket);
		return VIGIL_EXIT_IOERR;
	}
	return r < 0 ? vk_fail(s->o->socket, r) : VIGIL_EXIT_OK;
}

int trace_run(const struct trace_opts *o)
{
	struct session s = { .o = o, .sigfd = -1 };
	sigset_t old;
	int status, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	r = trace_out_open(&s.out, o->json, o->timeline);
	if (r < 0) {
		vigil_err("--timeline %s: %s", o->timeline, strerror(-r));
		return VIGIL_EXIT_IOERR;
	}
	s.sigfd = signals_block(&old);
	if (s.sigfd < 0) {
		trace_out_close(&s.out, 0, NULL);
		return vk_fail("signalfd", s.sigfd);
	}
	snprintf(s.reason, sizeof(s.reason), "stopped");
	status = session_run(&s);
	if (s.t0 > 0)
		r = trace_out_close(&s.out, now_rel(&s), s.reason);
	else
		r = trace_out_close(&s.out, 0, NULL);
	if (r < 0 && status == VIGIL_EXIT_OK) {
		vigil_err("--timeline %s: %s", o->timeline, strerror(-r));
		status = VIGIL_EXIT_IOERR;
	}
	close(s.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(s.pages);
	return status;
}

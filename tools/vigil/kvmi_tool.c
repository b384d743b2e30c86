/* Helpers for vigil's introspection subcommands (see kvmi_tool.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kvmi_tool.h"
#include "vigil.h"

int vk_attach(const char *path, int timeout_ms, struct vigil_kvmi **c)
{
	struct stat st;
	int r;

	if (stat(path, &st) < 0) {
		vigil_err("%s: %s", path, strerror(errno));
		return errno == ENOENT ? VIGIL_EXIT_NOINPUT : VIGIL_EXIT_UNAVAILABLE;
	}
	if (!S_ISSOCK(st.st_mode)) {
		vigil_err("%s: not a socket (expected the path given to vigild --introspect)", path);
		return VIGIL_EXIT_NOINPUT;
	}
	r = vigil_kvmi_connect(path, timeout_ms, c);
	switch (r) {
	case 0:
		return VIGIL_EXIT_OK;
	case -ECONNREFUSED:
		vigil_err("%s: nobody listens on this socket (is vigild running?)", path);
		return VIGIL_EXIT_UNAVAILABLE;
	case -EBUSY:
		vigil_err("%s: another tool is attached to this VM (one at a time)", path);
		return VIGIL_EXIT_UNAVAILABLE;
	case -EACCES:
	case -EPERM:
		vigil_err("%s: %s", path, strerror(-r));
		return VIGIL_EXIT_UNAVAILABLE;
	case -EPROTOTYPE:
		vigil_err("%s: not a vigil introspection socket (it is not SOCK_SEQPACKET)", path);
		return VIGIL_EXIT_PROTOCOL;
	case -EPROTONOSUPPORT:
		vigil_err("%s: vigild speaks another introspection protocol version (this tool: %u)",
			  path, VIGIL_KVMI_VERSION);
		return VIGIL_EXIT_PROTOCOL;
	case -ECONNRESET:
	case -EPROTO:
	case -ETIMEDOUT:
		vigil_err("%s: not a vigil introspection socket (no valid ATTACH message within "
			  "%d ms)", path, timeout_ms);
		return VIGIL_EXIT_PROTOCOL;
	default:
		vigil_err("%s: cannot attach: %s", path, strerror(-r));
		return VIGIL_EXIT_UNAVAILABLE;
	}
}

int vk_fail(const char *what, int err)
{
	switch (err) {
	case -ECONNRESET:
		vigil_err("%s: vigild closed the connection", what);
		return VIGIL_EXIT_IOERR;
	case -ESHUTDOWN:
		vigil_err("%s: the VM is stopping", what);
		return VIGIL_EXIT_UNAVAILABLE;
	case -ETIMEDOUT:
		vigil_err("%s: vigild did not answer in time", what);
		return VIGIL_EXIT_UNAVAILABLE;
	case -ENOSYS:
		vigil_err("%s: not supported by this host", what);
		return VIGIL_EXIT_UNAVAILABLE;
	case -EPROTO:
		vigil_err("%s: malformed reply from vigild", what);
		return VIGIL_EXIT_PROTOCOL;
	case -ENOMEM:
		vigil_err("%s: out of memory", what);
		return VIGIL_EXIT_OSERR;
	default:
		vigil_err("%s: %s", what, strerror(-err));
		return VIGIL_EXIT_DATAERR;
	}
}

int vk_parse_u64(const char *s, bool suffix, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -ERANGE;
	if (suffix && *end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return -EINVAL;
		}
		end++;
	}
	if (*end || end == s)
		return -EINVAL;
	if (shift && v > (~0ull >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static const struct {
	uint32_t index;
	const char *name;
} msr_table[] = {
	{ 0x10, "TSC" }, { 0x1b, "APIC_BASE" }, { 0x3a, "FEATURE_CONTROL" },
	{ 0x48, "SPEC_CTRL" }, { 0x49, "PRED_CMD" }, { 0x174, "SYSENTER_CS" },
	{ 0x175, "SYSENTER_ESP" }, { 0x176, "SYSENTER_EIP" }, { 0x1a0, "MISC_ENABLE" },
	{ 0x1d9, "DEBUGCTL" }, { 0x277, "PAT" }, { 0x6a0, "U_CET" }, { 0x6a2, "S_CET" },
	{ 0x6a4, "PL0_SSP" }, { 0x6e0, "TSC_DEADLINE" }, { 0xda0, "XSS" },
	{ 0xc0000080, "EFER" }, { 0xc0000081, "STAR" }, { 0xc0000082, "LSTAR" },
	{ 0xc0000083, "CSTAR" }, { 0xc0000084, "SFMASK" }, { 0xc0000100, "FS_BASE" },
	{ 0xc0000101, "GS_BASE" }, { 0xc0000102, "KERNEL_GS_BASE" }, { 0xc0000103, "TSC_AUX" },
};
#define NR_MSRS (sizeof(msr_table) / sizeof(msr_table[0]))

const char *vk_msr_name(uint32_t index)
{
	for (size_t i = 0; i < NR_MSRS; i++)
		if (msr_table[i].index == index)
			return msr_table[i].name;
	return NULL;
}

int vk_msr_parse(const char *s, uint32_t *index)
{
	uint64_t v;

	for (size_t i = 0; i < NR_MSRS; i++) {
		if (!strcasecmp(s, msr_table[i].name) ||
		    (!strncasecmp(s, "MSR_", 4) && !strcasecmp(s + 4, msr_table[i].name))) {
			*index = msr_table[i].index;
			return 0;
		}
	}
	if (vk_parse_u64(s, false, &v) < 0 || v > 0xffffffffull)
		return -EINVAL;
	*index = (uint32_t)v;
	return 0;
}

unsigned vk_msr_all(const uint32_t **list)
{
	static uint32_t all[NR_MSRS];

	for (size_t i = 0; i < NR_MSRS; i++)
		all[i] = msr_table[i].index;
	*list = all;
	return NR_MSRS;
}

const char *vk_event_name(unsigned event)
{
	static const char *const names[VIGIL_KVMI_EVENT_MAX] = {
		"pause", "cr", "msr", "xsetbv", "descriptor", "breakpoint", "sw-breakpoint",
		"singlestep", "hypercall", "pf", "trap", "dma",
	};

	return event < VIGIL_KVMI_EVENT_MAX ? names[event] : "unknown";
}

const char *vk_event_caveat(unsigned event)
{
	switch (event) {
	case VIGIL_KVMI_EVENT_CR:
	case VIGIL_KVMI_EVENT_XSETBV:
	case VIGIL_KVMI_EVENT_DESCRIPTOR:
		return "single-steps kernel code while enabled (slow)";
	case VIGIL_KVMI_EVENT_SINGLESTEP:
	case VIGIL_KVMI_EVENT_BREAKPOINT:
		return "kernel mode (CPL0) only on this host";
	case VIGIL_KVMI_EVENT_PF:
		return "execute-ALLOW in user mode keeps the page open until the next exit";
	default:
		return "see docs/introspection-protocol.md";
	}
}

#define PTE_P    0x1ull
#define PTE_PS   0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

int vk_walk(struct vigil_kvmi *c, uint64_t cr3, uint64_t gva, uint64_t *gpa)
{
	uint64_t table = cr3 & PTE_ADDR, e;
	int level, r;

	if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
		return -EFAULT;   /* not canonical */
	for (level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t idx = (gva >> shift) & 511;

		r = vigil_kvmi_read_physical(c, table + idx * 8, &e, sizeof(e), NULL);
		if (r < 0)
			return r;
		if (!(e & PTE_P))
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;

			*gpa = ((e & PTE_ADDR) & ~mask) | (gva & mask);
			return 0;
		}
		table = e & PTE_ADDR;
	}
	return -EFAULT;
}

double vk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

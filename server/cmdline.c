/* getopt_long parsing for vigild. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "log.h"

#define DEFAULT_MEM (64ULL << 20)

enum {
	OPT_GUEST = 0x100, OPT_MEM, OPT_VCPUS, OPT_KVM, OPT_CONSOLE, OPT_LOG,
	OPT_PLUGIN, OPT_PLUGIN_ARG, OPT_INTROSPECT, OPT_INTROSPECT_TIMEOUT,
	OPT_DEVICE, OPT_CAPS, OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "kvm-device", required_argument, NULL, OPT_KVM },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "log-level", required_argument, NULL, OPT_LOG },
	{ "plugin", required_argument, NULL, OPT_PLUGIN },
	{ "plugin-arg", required_argument, NULL, OPT_PLUGIN_ARG },
	{ "introspect", required_argument, NULL, OPT_INTROSPECT },
	{ "introspect-timeout", required_argument, NULL, OPT_INTROSPECT_TIMEOUT },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};

/* Does @arg name a long option that takes a separate value ("--opt VALUE")? */
static bool takes_value(const char *arg)
{
	const struct option *o;

	if (strncmp(arg, "--", 2) || strchr(arg, '='))
		return false;
	for (o = long_opts; o->name; o++)
		if (!strcmp(arg + 2, o->name))
			return o->has_arg == required_argument;
	return false;
}

bool cmdline_wants_capabilities(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--print-capabilities"))
			return true;
		if (takes_value(argv[i]))
			i++;
	}
	return false;
}

void cmdline_usage(FILE *out)
{
	fputs(
"Usage: vigild run --guest FILE.elf [--mem SIZE] [--vcpus N] [options]\n"
"       vigild run --plugin PATH [--plugin-arg ARG]... [--vcpus N] [options]\n"
"       vigild --print-capabilities | --help | --version\n"
"\n"
"Runs a KVM guest and serves the sockets that drive and watch it.\n"
"\n"
"Guest:\n"
"  --guest FILE.elf       freestanding x86-64 ELF (non-PIE, loads at >= 1 MiB)\n"
"  --mem SIZE             guest RAM, e.g. 64M, 1G (default 64M)\n"
"  --vcpus N              number of vCPUs, 1-32 (default 1)\n"
"  --console FILE         write the guest's serial console to FILE ('-' = stdout,\n"
"                         the default; 'log' = vigild's log)\n"
"Plugin (crosvm plugin API 0.22):\n"
"  --plugin PATH          spawn PATH with CROSVM_SOCKET set; it sets the VM up\n"
"  --plugin-arg ARG       argument for the plugin (repeatable)\n"
"Introspection:\n"
"  --introspect PATH      listen for one introspection tool on UNIX socket PATH\n"
"  --introspect-timeout MS  answer time allowed per event (default 5000)\n"
"Devices:\n"
"  --device vfio-user,socket=PATH[,OPT...]  attach a vfio-user device server as\n"
"                         a PCI function (up to 8; docs/vfio-user.md). OPT:\n"
"                         dma=fd|msg  map guest RAM with its fd (default) or\n"
"                                     serve every device access by message\n"
"                         trace-dma=on  check every device access against the\n"
"                                     introspection page policy (implies dma=msg)\n"
"                         timeout=MS  reply wait per request (default 5000)\n"
"Other:\n"
"  --kvm-device PATH      KVM device node (default /dev/kvm)\n"
"  --log-level LEVEL      error, warning, info (default) or debug; -v, -q\n"
"  --print-capabilities   print this build's and host's features as JSON, exit 0\n"
"\n"
"Exit status: the guest's status (0-63) from its exit port or the plugin's\n"
"status; 64 usage, 65 bad guest image, 69 KVM unavailable, 70 internal error,\n"
"71 host resource error, 80 triple fault, 81 KVM could not run the guest,\n"
"82 crashed by the introspection tool, 83 plugin failed, 128+N signal N.\n"
"\n"
"Privileges: vigild needs /dev/kvm and nothing else. Once the VM is set up it\n"
"drops every capability (bounding set included) and sets no_new_privs, so a\n"
"plugin or anything else it starts runs with none. Sockets are created mode\n"
"0600 and the introspection socket also checks each tool's SO_PEERCRED: only\n"
"the user vigild runs as, or root, may attach.\n", out);
}

int cmdline_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	/* strtoull would skip white space and accept a sign: only digits. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	/* Decimal, or hex with 0x: "010M" is ten megabytes, not eight. */
	v = strtoull(s, &end, (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if ((*end == 'i' && end[1] == 'B' && !end[2]) || (*end == 'B' && !end[1]))
		end += *end == 'i' ? 2 : 1;
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_level(const char *s, int *level)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*level = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "vigild: invalid %s '%s': %s\n", opt, val, why);
	return -EINVAL;
}

static int parse_one(int c, const char *arg, struct vigild_opts *o)
{
	unsigned n;

	switch (c) {
	case OPT_GUEST: o->guest = arg; return 0;
	case OPT_MEM:
		if (cmdline_parse_size(arg, &o->mem_size) < 0 || !o->mem_size)
			return bad("--mem", arg, "expected a size such as 64M or 1G");
		return 0;
	case OPT_VCPUS:
		if (parse_uint(arg, 1024, &o->nr_vcpus) < 0 || !o->nr_vcpus)
			return bad("--vcpus", arg, "expected a number from 1 to 32");
		return 0;
	case OPT_KVM: o->kvm_path = arg; return 0;
	case OPT_CONSOLE: o->console = arg; return 0;
	case OPT_LOG:
		if (parse_level(arg, &o->log_level) < 0)
			return bad("--log-level", arg, "expected error, warning, info or debug");
		return 0;
	case OPT_PLUGIN: o->plugin = arg; return 0;
	case OPT_PLUGIN_ARG:
		if (o->nr_plugin_args == VIGILD_MAX_PLUGIN_ARGS)
			return bad("--plugin-arg", arg, "too many plugin arguments");
		o->plugin_args[o->nr_plugin_args++] = arg;
		return 0;
	case OPT_INTROSPECT: o->introspect = arg; return 0;
	case OPT_INTROSPECT_TIMEOUT:
		if (parse_uint(arg, 3600000, &n) < 0)
			return bad("--introspect-timeout", arg, "expected milliseconds");
		o->introspect_timeout_ms = (int)n;
		return 0;
	case OPT_DEVICE:
		if (o->nr_devices == VIGILD_MAX_DEVICES)
			return bad("--device", arg, "too many devices");
		o->devices[o->nr_devices++] = arg;
		return 0;
	case OPT_CAPS: o->print_caps = true; return 0;
	case OPT_VERSION: o->version = true; return 0;
	case 'h': o->help = true; return 0;
	case 'v': o->log_level = VG_LOG_DEBUG; return 0;
	case 'q': o->log_level = VG_LOG_ERR; return 0;
	default: return -EINVAL;
	}
}

static int check_mode(struct vigild_opts *o, bool saw_run)
{
	if (o->help || o->version || o->print_caps)
		return 0;
	if (!saw_run) {
		fprintf(stderr, "vigild: missing command: try 'vigild run --guest FILE.elf' or --help\n");
		return -EINVAL;
	}
	if (!o->guest == !o->plugin) {
		fprintf(stderr, "vigild: run needs exactly one of --guest FILE.elf or --plugin PATH\n");
		return -EINVAL;
	}
	if (o->plugin && o->mem_size) {
		fprintf(stderr, "vigild: --mem applies to --guest only: a plugin creates its own memory\n");
		return -EINVAL;
	}
	if (!o->plugin && o->nr_plugin_args) {
		fprintf(stderr, "vigild: --plugin-arg needs --plugin\n");
		return -EINVAL;
	}
	if (o->guest && !o->mem_size)
		o->mem_size = DEFAULT_MEM;
	return 0;
}

int cmdline_parse(int argc, char **argv, struct vigild_opts *o)
{
	bool saw_run = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->nr_vcpus = 1;
	o->log_level = VG_LOG_INFO;
	o->introspect_timeout_ms = 5000;
	opterr = 0;
	optind = 1;
	if (argc > 1 && !strcmp(argv[1], "run")) {
		saw_run = true;
		optind = 2;
	}
	while ((c = getopt_long(argc, argv, "+hvq", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			if (optopt && optopt < 0x100)
				fprintf(stderr, "vigild: unknown option '-%c' (see --help)\n", optopt);
			else
				fprintf(stderr, "vigild: unknown or incomplete option '%s' (see --help)\n",
					argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_one(c, optarg, o) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "vigild: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	return check_mode(o, saw_run);
}

/* vigild's command line. */
#ifndef VIGIL_CMDLINE_H
#define VIGIL_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#define VIGILD_MAX_PLUGIN_ARGS 64
#define VIGILD_MAX_DEVICES 8

struct vigild_opts {
	bool help, version, print_caps;
	const char *guest;            /* --guest FILE.elf */
	uint64_t mem_size;            /* --mem SIZE */
	unsigned nr_vcpus;            /* --vcpus N */
	const char *kvm_path;         /* --kvm-device PATH (default /dev/kvm) */
	const char *console;          /* --console FILE|-: serial output (default stdout) */
	int log_level;                /* --log-level / -v / -q */
	/* PLUGIN: --plugin PATH, --plugin-arg ARG... */
	const char *plugin;
	const char *plugin_args[VIGILD_MAX_PLUGIN_ARGS];
	unsigned nr_plugin_args;
	/* KVMI: --introspect PATH, --introspect-timeout MS */
	const char *introspect;
	int introspect_timeout_ms;
	/* VFIO: --device vfio-user,socket=PATH[,trace-dma=on]... */
	const char *devices[VIGILD_MAX_DEVICES];
	unsigned nr_devices;
};

/* Parse argv. Returns 0, or -EINVAL after printing one line naming the
 * problem to stderr. */
int cmdline_parse(int argc, char **argv, struct vigild_opts *o);
void cmdline_usage(FILE *out);
/* Is --print-capabilities given as an option (not as the value of an option
 * such as --plugin-arg, not after "--")? Checked before anything else. */
bool cmdline_wants_capabilities(int argc, char **argv);
/* "64M", "1G", "4096K", "65536": bytes. -EINVAL for junk, -ERANGE overflow. */
int cmdline_parse_size(const char *s, uint64_t *out);

#endif

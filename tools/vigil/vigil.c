/*
 * vigil: the command-line tool. This file is the dispatcher: global options,
 * then a subcommand from the table in commands.def.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"

struct vigil_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct vigil_command commands[] = {
#define VIGIL_COMMAND(name, summary) { #name, summary, cmd_##name },
#include "commands.def"
#undef VIGIL_COMMAND
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

void vigil_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vigil: %s\n", line);
}

void vigil_warn(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vigil: warning: %s\n", line);
}

int vigil_usage_error(const char *cmd)
{
	if (cmd)
		fprintf(stderr, "Try 'vigil %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try 'vigil --help'.\n");
	return VIGIL_EXIT_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil [--help] [--version] COMMAND [ARGS...]\n"
		"\n"
		"Drive and watch virtual machines run by vigild.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"  %-12s %s\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"'vigil COMMAND --help' describes each command.\n"
		"\n"
		"Exit status:\n"
		"   0  success\n"
		"   1  the command ran, but nothing matched (e.g. no backend of that type)\n"
		"  64  bad command line\n"
		"  65  bad input data (a file or a reply that cannot be used)\n"
		"  66  an input file or socket does not exist\n"
		"  69  the service is unavailable (vigild, KVM)\n"
		"  70  internal error\n"
		"  71  the system refused a resource (memory, file descriptors)\n"
		"  74  input/output error\n"
		"  76  the peer broke the protocol\n",
		"help", "show the help of a command");
}

static const struct vigil_command *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

/* Run @cmd with @argv[0] == its name, getopt state reset for it. */
static int run_command(const struct vigil_command *cmd, int argc, char **argv)
{
	optind = 0;     /* glibc: full re-initialisation for the next getopt_long */
	return cmd->run(argc, argv);
}

/* "vigil help [CMD]": the same as "vigil CMD --help". */
static int help_command(int argc, char **argv)
{
	const struct vigil_command *cmd;
	char *hargv[3];

	if (argc < 2) {
		usage(stdout);
		return VIGIL_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		vigil_err("unknown command '%s'", argv[1]);
		return vigil_usage_error(NULL);
	}
	hargv[0] = argv[1];
	hargv[1] = (char *)"--help";
	hargv[2] = NULL;
	return run_command(cmd, 2, hargv);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct vigil_command *cmd;
	int c;

	/* '+': stop at the first non-option, which is the subcommand. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return VIGIL_EXIT_OK;
		case 'V':
			printf("vigil %s\n", VIGIL_VERSION);
			return VIGIL_EXIT_OK;
		default:
			return vigil_usage_error(NULL);
		}
	}
	if (optind >= argc) {
		vigil_err("missing command");
		usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help"))
		return help_command(argc - optind, argv + optind);
	cmd = find_command(argv[optind]);
	if (!cmd) {
		vigil_err("unknown command '%s'", argv[optind]);
		return vigil_usage_error(NULL);
	}
	return run_command(cmd, argc - optind, argv + optind);
}

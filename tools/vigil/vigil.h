/* The vigil command-line tool: exit codes and helpers shared by subcommands. */
#ifndef VIGIL_TOOL_H
#define VIGIL_TOOL_H

/*
 * Exit statuses of vigil (documented in `vigil --help` and the man page).
 * The values above 1 follow <sysexits.h>.
 */
#define VIGIL_EXIT_OK           0   /* success */
#define VIGIL_EXIT_NOTFOUND     1   /* ran fine, but nothing matched */
#define VIGIL_EXIT_USAGE        64  /* bad command line */
#define VIGIL_EXIT_DATAERR      65  /* bad input data (file, reply) */
#define VIGIL_EXIT_NOINPUT      66  /* an input file or socket does not exist */
#define VIGIL_EXIT_UNAVAILABLE  69  /* the service (vigild, KVM) is unavailable */
#define VIGIL_EXIT_SOFTWARE     70  /* internal error */
#define VIGIL_EXIT_OSERR        71  /* the system refused a resource (memory, fds) */
#define VIGIL_EXIT_IOERR        74  /* an I/O error */
#define VIGIL_EXIT_PROTOCOL     76  /* the peer broke the protocol */

/* Subcommand handlers, one per line of commands.def. */
#define VIGIL_COMMAND(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef VIGIL_COMMAND

/* "vigil: " + message + newline on stderr. */
void vigil_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "vigil: warning: " + message + newline on stderr. */
void vigil_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Try 'vigil CMD --help'." on stderr; returns VIGIL_EXIT_USAGE. */
int vigil_usage_error(const char *cmd);

#endif

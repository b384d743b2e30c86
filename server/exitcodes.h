/* vigild's exit statuses (documented in docs/vigild.md and the man page). */
#ifndef VIGIL_EXITCODES_H
#define VIGIL_EXITCODES_H

/* 0..63: the status the guest wrote to VIGIL_PORT_EXIT (larger values clamp to 63),
 * or the plugin's exit status when a plugin drives the VM. */
#define VIGILD_EXIT_GUEST_MAX    63
#define VIGILD_EXIT_USAGE        64  /* bad command line */
#define VIGILD_EXIT_DATAERR      65  /* bad guest image or config file */
#define VIGILD_EXIT_UNAVAILABLE  69  /* KVM missing or lacks a required capability */
#define VIGILD_EXIT_SOFTWARE     70  /* internal error */
#define VIGILD_EXIT_OSERR        71  /* the host refused a resource (memory, fds) */
#define VIGILD_EXIT_TRIPLE_FAULT 80  /* the guest triple-faulted (KVM_EXIT_SHUTDOWN) */
#define VIGILD_EXIT_GUEST_ERROR  81  /* KVM could not run the guest (internal error, bad exit) */
#define VIGILD_EXIT_CRASHED      82  /* an introspection tool answered CRASH */
#define VIGILD_EXIT_PLUGIN       83  /* the plugin failed, died or was killed */
#define VIGILD_EXIT_SIGNAL_BASE 128  /* stopped by signal N: 128 + N */

#endif

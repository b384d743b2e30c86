/*
 * Least privilege. vigild needs privileges only to open /dev/kvm and create
 * its sockets; once the VM is set up it drops every capability (effective,
 * permitted, inheritable, bounding) and sets no_new_privs, so nothing it
 * runs later — plugins, device servers — can regain any.
 */
#ifndef VIGIL_PRIVILEGES_H
#define VIGIL_PRIVILEGES_H

#include <stddef.h>

/* Drop everything; -errno and a reason on failure. */
int privileges_drop(char *why, size_t why_len);
/* Raise the soft open-file limit to the hard one (each vCPU, device vector
 * and socket is a descriptor). Returns the new soft limit or -errno. */
long privileges_raise_nofile(void);
/* In a child between fork and exec: no capabilities, no_new_privs.
 * Async-signal-safe enough for that spot (no allocation). */
int privileges_drop_child(void);

#endif

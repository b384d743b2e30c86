/*
 * Helpers shared by the introspection subcommands of vigil (info, mem,
 * trace, policy): attaching with clear errors, number parsing, MSR names and
 * a guest page-table walk done through READ_PHYSICAL.
 */
#ifndef VIGIL_KVMI_TOOL_H
#define VIGIL_KVMI_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil_kvmi.h"

/* Attach to SOCKET, waiting at most timeout_ms for the server's ATTACH.
 * Returns VIGIL_EXIT_OK and *c, or prints why not (naming @path) and returns
 * the exit status for it. */
int vk_attach(const char *path, int timeout_ms, struct vigil_kvmi **c);

/* Exit status for a failed command (-errno from libvigil_kvmi), after
 * printing "@what: reason". */
int vk_fail(const char *what, int err);

/* Parse an unsigned number (decimal, 0x hex, 0 octal), optionally with a
 * K/M/G (binary) suffix when @suffix is set. 0 or -EINVAL/-ERANGE. */
int vk_parse_u64(const char *s, bool suffix, uint64_t *out);

/* MSR table: name for an index (NULL if not in the table), index for a
 * name or number, and the whole table ("--msr all"). */
const char *vk_msr_name(uint32_t index);
int vk_msr_parse(const char *s, uint32_t *index);
unsigned vk_msr_all(const uint32_t **list);

/* Event kind names (cr, msr, pf, ...) and the event's caveat text. */
const char *vk_event_name(unsigned event);
const char *vk_event_caveat(unsigned event);

/* Translate @gva through the 4-level page tables at @cr3, reading guest
 * memory. 0, -EFAULT (not mapped / not canonical) or a transport error. */
int vk_walk(struct vigil_kvmi *c, uint64_t cr3, uint64_t gva, uint64_t *gpa);

/* Monotonic seconds. */
double vk_now(void);

#endif

/* Put a standalone guest ELF into a VM: long-mode structures, segments, vCPUs. */
#ifndef VIGIL_GUEST_LOADER_H
#define VIGIL_GUEST_LOADER_H

#include <stddef.h>

struct vm;

/*
 * Read @path, build page tables/GDT/IDT/TSS in low RAM, load the segments and
 * point every vCPU at the entry. Returns 0 or -errno with a reason in @why:
 * -ENOEXEC and friends for a bad file, -E2BIG when it does not fit in RAM.
 */
int guest_load_elf(struct vm *vm, const char *path, char *why, size_t why_len);

#endif

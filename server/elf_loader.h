/* Loader for freestanding, statically linked x86-64 ELF executables. */
#ifndef VIGIL_ELF_LOADER_H
#define VIGIL_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct elf_image {
	uint64_t entry;
	uint64_t lo, hi;          /* lowest and highest+1 physical address loaded */
	unsigned nr_segments;
};

/*
 * Validate the ELF in @buf and copy its PT_LOAD segments into @mem, a flat
 * guest-physical window [0, mem_size). Segments must lie inside
 * [min_addr, mem_size) and be identity-mapped (p_vaddr == p_paddr); the entry
 * point must be in an executable segment. Every header field is checked
 * against the buffer: a malformed file gives -ENOEXEC (or -EINVAL / -E2BIG /
 * -ERANGE) and a reason in @why, never a crash. @mem is only written once
 * the whole file has been validated.
 */
int elf_load(const void *buf, size_t len, uint8_t *mem, uint64_t mem_size,
	     uint64_t min_addr, struct elf_image *out, char *why, size_t why_len);

/* Read @path (at most @max bytes) into a malloc'ed buffer. */
int elf_read_file(const char *path, size_t max, void **buf, size_t *len);

#endif

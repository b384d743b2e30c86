/*
 * Fuzz target: the guest ELF loader (server/elf_loader.h) on a buffer, the
 * same call vigild makes for --guest FILE. The guest window has an
 * inaccessible page on each side, so a write outside it crashes; a success
 * must report bounds inside the window and above min_addr, and a failure
 * must come with an errno and a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vigil/guest_abi.h>

#include "elf_loader.h"
#include "fuzz_check.h"

#define PG        4096UL
#define MEM_SIZE  (8UL << 20)
#define MIN_ADDR  VIGIL_GUEST_LOAD_MIN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *window(void)
{
	static uint8_t *mem;
	uint8_t *base;

	if (mem)
		return mem;
	base = mmap(NULL, MEM_SIZE + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FUZZ_CHECK(base != MAP_FAILED, "mmap");
	FUZZ_CHECK(mprotect(base + PG, MEM_SIZE, PROT_READ | PROT_WRITE) == 0, "mprotect");
	mem = base + PG;
	return mem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img;
	char why[256] = "";
	uint8_t *mem = window();
	/* A private copy: the loader must not rely on more than @size bytes. */
	uint8_t *copy = malloc(size ? size : 1);
	int r;

	FUZZ_CHECK(copy, "malloc");
	memcpy(copy, data, size);
	r = elf_load(copy, size, mem, MEM_SIZE, MIN_ADDR, &img, why, sizeof(why));
	if (r == 0) {
		FUZZ_CHECK(img.lo >= MIN_ADDR && img.lo <= img.hi && img.hi <= MEM_SIZE,
			   "bounds [%#lx, %#lx)", (unsigned long)img.lo, (unsigned long)img.hi);
		FUZZ_CHECK(img.entry >= img.lo && img.entry < img.hi, "entry %#lx",
			   (unsigned long)img.entry);
		FUZZ_CHECK(img.nr_segments > 0, "no segment loaded");
	} else {
		FUZZ_CHECK(r < 0 && why[0], "failure %d without a reason", r);
	}
	free(copy);
	return 0;
}

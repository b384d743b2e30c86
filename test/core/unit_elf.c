/*
 * Unit tests of the ELF loader (server/elf_loader.h): a valid minimal ELF
 * built in memory loads with the right entry, bounds and zeroed BSS; every
 * malformed variant fails with an errno and a reason without writing guest
 * memory; a fixed-seed mutation loop never crashes and never writes outside
 * the guest window (guard pages on both sides) or below min_addr.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vigil/guest_abi.h>

#include "elf_loader.h"

#define PG 0x1000UL
#define FILL 0xa5
#define TEXT_OFF 0x1000UL
#define TEXT_LEN 0x80UL
#define DATA_OFF 0x1080UL
#define DATA_LEN 0x40UL
#define BSS_END  0x2000UL     /* memsz of the data segment */
#define FILE_LEN 0x10c0UL

/* The file under test: 8-byte aligned, with room to grow. */
static union {
	uint8_t b[0x3000];
	uint64_t align;
} file;
static size_t file_len;

/* Guest window with an inaccessible page on each side. */
static uint8_t *guard_base, *mem;
static uint64_t mem_size, min_addr, base;
static char why[256];

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)file.b;
}

static Elf64_Phdr *ph(unsigned i)
{
	return (Elf64_Phdr *)(file.b + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

/* text: [base, +0x80) R-X from TEXT_OFF; data: [base+0x2000, +0x2000) RW-
 * with 0x40 bytes from DATA_OFF and the rest BSS. Entry base + 0x10. */
static void build_valid(uint64_t at)
{
	Elf64_Ehdr *e = eh();
	unsigned i;

	memset(file.b, 0, sizeof(file.b));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = at + 0x10;
	e->e_phoff = sizeof(Elf64_Ehdr);
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 2;
	*ph(0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = TEXT_OFF,
			       .p_vaddr = at, .p_paddr = at, .p_filesz = TEXT_LEN,
			       .p_memsz = TEXT_LEN, .p_align = PG };
	*ph(1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = DATA_OFF,
			       .p_vaddr = at + 0x2000, .p_paddr = at + 0x2000,
			       .p_filesz = DATA_LEN, .p_memsz = BSS_END, .p_align = PG };
	for (i = 0; i < TEXT_LEN + DATA_LEN; i++)
		file.b[TEXT_OFF + i] = (uint8_t)(i * 7 + 3);
	file_len = FILE_LEN;
	base = at;
}

static void window(uint64_t size, uint64_t min)
{
	guard_base = mmap(NULL, size + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(guard_base, MAP_FAILED);
	mem = guard_base + PG;
	cr_assert_eq(mprotect(mem, size, PROT_READ | PROT_WRITE), 0);
	memset(mem, FILL, size);
	mem_size = size;
	min_addr = min;
}

static void setup(void)
{
	window(2UL << 20, VIGIL_GUEST_LOAD_MIN);
	build_valid(VIGIL_GUEST_LOAD_MIN);
}

static void setup_small(void)
{
	window(0x10000, 0x1000);
	build_valid(0x1000);
}

static void teardown(void)
{
	munmap(guard_base, mem_size + 2 * PG);
}

/* First offset in [from, to) of the window that is not FILL, or -1. */
static long first_written(uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i < to; i++)
		if (mem[i] != FILL)
			return (long)i;
	return -1;
}

static int load(struct elf_image *img)
{
	memset(why, 0, sizeof(why));
	return elf_load(file.b, file_len, mem, mem_size, min_addr, img, why, sizeof(why));
}

/* Loading the current file fails with @err, says why, writes nothing. */
static void expect_reject(int err, const char *what)
{
	struct elf_image img;
	int r = load(&img);
	long w;

	cr_assert_eq(r, err, "%s: elf_load = %d (%s), expected %d", what, r, why, err);
	cr_assert_neq(why[0], '\0', "%s: no reason given", what);
	w = first_written(0, mem_size);
	cr_assert_eq(w, -1, "%s: guest memory written at 0x%lx", what, w);
}

TestSuite(elf, .init = setup, .fini = teardown, .timeout = 10);

Test(elf, valid_file_loads_with_entry_bounds_and_contents)
{
	struct elf_image img;
	int r = load(&img);

	cr_assert_eq(r, 0, "elf_load: %d (%s)", r, why);
	cr_assert_eq(img.entry, base + 0x10);
	cr_assert_eq(img.lo, base);
	cr_assert_eq(img.hi, base + 0x2000 + BSS_END);
	cr_assert_eq(img.nr_segments, 2);
	cr_assert_eq(memcmp(mem + base, file.b + TEXT_OFF, TEXT_LEN), 0, "text not copied");
	cr_assert_eq(memcmp(mem + base + 0x2000, file.b + DATA_OFF, DATA_LEN), 0,
		     "data not copied");
	for (uint64_t i = DATA_LEN; i < BSS_END; i++)
		cr_assert_eq(mem[base + 0x2000 + i], 0, "BSS byte 0x%lx not zeroed", (unsigned long)i);
	/* Nothing outside the segments. */
	cr_assert_eq(first_written(0, base), -1);
	cr_assert_eq(first_written(base + TEXT_LEN, base + 0x2000), -1);
	cr_assert_eq(first_written(base + 0x2000 + BSS_END, mem_size), -1);
}

Test(elf, program_headers_at_an_unaligned_offset_load)
{
	struct elf_image img;

	memmove(file.b + 0x201, ph(0), 2 * sizeof(Elf64_Phdr));
	eh()->e_phoff = 0x201;
	cr_assert_eq(load(&img), 0, "%s", why);
	cr_assert_eq(img.nr_segments, 2);
}

Test(elf, non_load_headers_are_ignored)
{
	struct elf_image img;

	eh()->e_phnum = 3;
	*ph(2) = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W,
			       .p_offset = 0xffffffffffffULL, .p_filesz = 0x12345678 };
	cr_assert_eq(load(&img), 0, "%s", why);
	cr_assert_eq(img.nr_segments, 2);
}

Test(elf, segment_ending_exactly_at_the_end_of_memory_loads)
{
	struct elf_image img;

	ph(1)->p_paddr = ph(1)->p_vaddr = mem_size - BSS_END;
	cr_assert_eq(load(&img), 0, "%s", why);
	cr_assert_eq(img.hi, mem_size);
}

Test(elf, reason_is_truncated_to_the_given_length)
{
	struct elf_image img;
	char small[16];

	memset(small, 'X', sizeof(small));
	eh()->e_machine = EM_386;
	cr_assert_eq(elf_load(file.b, file_len, mem, mem_size, min_addr, &img, small, 8),
		     -ENOEXEC);
	cr_assert_eq(small[7], '\0');
	for (unsigned i = 8; i < sizeof(small); i++)
		cr_assert_eq(small[i], 'X', "reason overflowed its buffer at %u", i);
}

Test(elf, null_buffer_is_einval)
{
	struct elf_image img;

	cr_assert_eq(elf_load(NULL, 100, mem, mem_size, min_addr, &img, why, sizeof(why)), -EINVAL);
	cr_assert_neq(why[0], '\0');
}

Test(elf, short_file_is_rejected)
{
	file_len = sizeof(Elf64_Ehdr) - 1;
	expect_reject(-ENOEXEC, "63-byte file");
	file_len = 0;
	expect_reject(-ENOEXEC, "empty file");
}

Test(elf, file_cut_inside_program_headers_is_rejected)
{
	file_len = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 10;
	expect_reject(-ENOEXEC, "truncated phdrs");
}

Test(elf, file_cut_inside_segment_data_is_rejected)
{
	file_len = FILE_LEN - 1;
	expect_reject(-ENOEXEC, "truncated data");
}

Test(elf, bad_magic_is_rejected)
{
	file.b[1] = 'e';
	expect_reject(-ENOEXEC, "bad magic");
}

Test(elf, class32_is_rejected)
{
	file.b[EI_CLASS] = ELFCLASS32;
	expect_reject(-ENOEXEC, "ELFCLASS32");
}

Test(elf, big_endian_is_rejected)
{
	file.b[EI_DATA] = ELFDATA2MSB;
	expect_reject(-ENOEXEC, "ELFDATA2MSB");
}

Test(elf, wrong_machine_is_rejected)
{
	eh()->e_machine = EM_AARCH64;
	expect_reject(-ENOEXEC, "EM_AARCH64");
	eh()->e_machine = EM_386;
	expect_reject(-ENOEXEC, "EM_386");
}

Test(elf, position_independent_executable_is_rejected)
{
	eh()->e_type = ET_DYN;
	expect_reject(-ENOEXEC, "ET_DYN");
	eh()->e_type = ET_REL;
	expect_reject(-ENOEXEC, "ET_REL");
}

Test(elf, bad_version_is_rejected)
{
	eh()->e_version = 2;
	expect_reject(-ENOEXEC, "e_version 2");
	eh()->e_version = EV_CURRENT;
	file.b[EI_VERSION] = EV_NONE;
	expect_reject(-ENOEXEC, "EI_VERSION 0");
}

Test(elf, small_header_size_is_rejected)
{
	eh()->e_ehsize = 52;
	expect_reject(-ENOEXEC, "e_ehsize 52");
}

Test(elf, wrong_phentsize_is_rejected)
{
	eh()->e_phentsize = 32;
	expect_reject(-ENOEXEC, "e_phentsize 32");
	eh()->e_phentsize = 64;
	expect_reject(-ENOEXEC, "e_phentsize 64");
}

Test(elf, zero_or_huge_phnum_is_rejected)
{
	eh()->e_phnum = 0;
	expect_reject(-ENOEXEC, "phnum 0");
	eh()->e_phnum = 0xffff;
	expect_reject(-ENOEXEC, "phnum 0xffff");
	eh()->e_phnum = PN_XNUM;
	expect_reject(-ENOEXEC, "phnum PN_XNUM");
}

Test(elf, phoff_beyond_the_file_is_rejected)
{
	eh()->e_phoff = file_len;
	expect_reject(-ENOEXEC, "phoff = len");
	eh()->e_phoff = 1ULL << 40;
	expect_reject(-ENOEXEC, "phoff 1 TiB");
}

Test(elf, phoff_plus_size_overflowing_is_rejected)
{
	eh()->e_phoff = UINT64_MAX - 10;
	expect_reject(-ENOEXEC, "phoff near 2^64");
	eh()->e_phoff = UINT64_MAX - 2 * sizeof(Elf64_Phdr) + 1;
	expect_reject(-ENOEXEC, "phoff + size = 2^64");
}

Test(elf, filesz_larger_than_memsz_is_rejected)
{
	ph(0)->p_memsz = TEXT_LEN - 1;
	expect_reject(-ENOEXEC, "filesz > memsz");
}

Test(elf, segment_data_beyond_the_file_is_rejected)
{
	ph(1)->p_offset = FILE_LEN - DATA_LEN + 1;
	expect_reject(-ENOEXEC, "offset + filesz = len + 1");
	ph(1)->p_offset = 1ULL << 40;
	expect_reject(-ENOEXEC, "offset 1 TiB");
}

Test(elf, segment_offset_plus_filesz_overflowing_is_rejected)
{
	ph(1)->p_offset = UINT64_MAX - 0x10;
	expect_reject(-ENOEXEC, "offset + filesz wraps");
	ph(1)->p_offset = DATA_OFF;
	ph(1)->p_filesz = UINT64_MAX - DATA_OFF + 1;
	ph(1)->p_memsz = UINT64_MAX;
	expect_reject(-ENOEXEC, "filesz wraps to 0");
}

Test(elf, segment_below_min_addr_is_erange)
{
	ph(0)->p_paddr = ph(0)->p_vaddr = min_addr - PG;
	eh()->e_entry = min_addr - PG;
	expect_reject(-ERANGE, "text below min_addr");
	ph(0)->p_paddr = ph(0)->p_vaddr = 0;
	eh()->e_entry = 0;
	expect_reject(-ERANGE, "text at 0");
}

Test(elf, segment_beyond_memory_is_e2big)
{
	ph(1)->p_paddr = ph(1)->p_vaddr = mem_size - BSS_END + 1;
	expect_reject(-E2BIG, "data one byte past the end");
	ph(1)->p_paddr = ph(1)->p_vaddr = mem_size;
	expect_reject(-E2BIG, "data at mem_size");
	ph(1)->p_paddr = ph(1)->p_vaddr = 1ULL << 40;
	expect_reject(-E2BIG, "data at 1 TiB");
}

Test(elf, segment_paddr_plus_memsz_overflowing_is_e2big)
{
	ph(1)->p_memsz = UINT64_MAX - ph(1)->p_paddr + 1;
	expect_reject(-E2BIG, "paddr + memsz = 2^64");
	ph(1)->p_memsz = UINT64_MAX;
	expect_reject(-E2BIG, "memsz 2^64-1");
}

Test(elf, vaddr_different_from_paddr_is_rejected)
{
	ph(1)->p_vaddr = 0xffffffff80000000ULL + ph(1)->p_paddr;
	expect_reject(-ENOEXEC, "higher-half vaddr");
}

Test(elf, dynamic_linking_headers_are_rejected)
{
	eh()->e_phnum = 3;
	*ph(2) = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = 0x100, .p_filesz = 0x10 };
	expect_reject(-ENOEXEC, "PT_INTERP");
	ph(2)->p_type = PT_DYNAMIC;
	expect_reject(-ENOEXEC, "PT_DYNAMIC");
}

Test(elf, entry_outside_executable_segments_is_rejected)
{
	eh()->e_entry = base + 0x2000 + 0x10;
	expect_reject(-ENOEXEC, "entry in the data segment");
	eh()->e_entry = base + TEXT_LEN;
	expect_reject(-ENOEXEC, "entry one past the text");
	eh()->e_entry = base - 1;
	expect_reject(-ENOEXEC, "entry just below the text");
	eh()->e_entry = 0;
	expect_reject(-ENOEXEC, "entry 0");
	eh()->e_entry = base + 0x10;
	ph(0)->p_flags = PF_R;
	expect_reject(-ENOEXEC, "text not executable");
}

Test(elf, no_loadable_segment_is_rejected)
{
	ph(0)->p_type = PT_NOTE;
	ph(1)->p_type = PT_NOTE;
	expect_reject(-ENOEXEC, "only PT_NOTE");
	ph(0)->p_type = PT_LOAD;
	ph(0)->p_memsz = ph(0)->p_filesz = 0;
	expect_reject(-ENOEXEC, "only an empty PT_LOAD");
}

Test(elf, a_bad_later_segment_prevents_loading_earlier_ones)
{
	/* The text is fine but the data is not: nothing may be written. */
	ph(1)->p_paddr = ph(1)->p_vaddr = mem_size;
	expect_reject(-E2BIG, "second segment out of range");
}

/* ---- mutation loop ---- */

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint64_t interesting[] = {
	0, 1, 0x38, 0x40, 0x7f, 0x80, 0xff, 0x1000, 0xfff, 0x10000, 0xffff,
	0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL, FILE_LEN, FILE_LEN + 1,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX, UINT64_MAX - 0x37,
	UINT64_MAX - 0xfff,
};

static void mutate_once(void)
{
	uint64_t r = next_rand();
	/* Mostly the headers, sometimes anywhere in the file. */
	size_t hdr = sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr);
	size_t span = ((r & 3) || !file_len) ? hdr : file_len;
	size_t off = (size_t)(next_rand() % span);

	switch ((r >> 2) % 5) {
	case 0:                 /* one random byte */
		file.b[off] = (uint8_t)next_rand();
		break;
	case 1:                 /* flip one bit */
		file.b[off] ^= (uint8_t)(1u << (next_rand() % 8));
		break;
	case 2: {               /* an interesting 8/4/2-byte value at an aligned spot */
		uint64_t v = interesting[next_rand() % (sizeof(interesting) / sizeof(interesting[0]))];
		size_t w = (size_t)1 << (1 + next_rand() % 3);

		off &= ~(w - 1);
		if (off + w <= sizeof(file.b))
			memcpy(file.b + off, &v, w);
		break;
	}
	case 3:                 /* small delta on a 64-bit field */
		off &= ~7UL;
		{
			uint64_t v;

			memcpy(&v, file.b + off, 8);
			v += (uint64_t)(int64_t)((int)(next_rand() % 0x2001) - 0x1000);
			memcpy(file.b + off, &v, 8);
		}
		break;
	default:                /* truncate */
		file_len = (size_t)(next_rand() % (file_len + 1));
		break;
	}
}

Test(elf_fuzz, mutated_files_never_crash_or_write_outside_the_window,
     .init = setup_small, .fini = teardown, .timeout = 30)
{
	unsigned iter, ok = 0, bad = 0;

	for (iter = 0; iter < 20000; iter++) {
		struct elf_image img;
		unsigned n = 1 + (unsigned)(next_rand() % 4);
		int r;

		build_valid(0x1000);
		/* A third of the files also get a third program header to play with. */
		if (iter % 3 == 0) {
			eh()->e_phnum = 3;
			*ph(2) = *ph(1);
		}
		while (n--)
			mutate_once();
		memset(why, 0, sizeof(why));
		r = elf_load(file.b, file_len, mem, mem_size, min_addr, &img, why, sizeof(why));
		if (r == 0) {
			ok++;
			cr_assert_geq(img.lo, min_addr, "iter %u: loaded below min_addr", iter);
			cr_assert_leq(img.hi, mem_size, "iter %u", iter);
			cr_assert_lt(img.lo, img.hi, "iter %u", iter);
			cr_assert(img.entry >= img.lo && img.entry < img.hi,
				  "iter %u: entry 0x%llx outside [0x%llx, 0x%llx)", iter,
				  (unsigned long long)img.entry, (unsigned long long)img.lo,
				  (unsigned long long)img.hi);
			cr_assert_eq(first_written(0, img.lo), -1, "iter %u: write below lo", iter);
			cr_assert_eq(first_written(img.hi, mem_size), -1, "iter %u: write above hi",
				     iter);
			memset(mem, FILL, mem_size);
		} else {
			bad++;
			cr_assert(r == -ENOEXEC || r == -E2BIG || r == -ERANGE || r == -EINVAL,
				  "iter %u: unexpected error %d", iter, r);
			cr_assert_neq(why[0], '\0', "iter %u: error %d without a reason", iter, r);
			cr_assert_eq(first_written(0, mem_size), -1,
				     "iter %u: failed load (%s) wrote guest memory", iter, why);
		}
	}
	cr_log_info("%u mutated files loaded, %u rejected", ok, bad);
	/* Both outcomes must actually be exercised. */
	cr_assert_gt(ok, 100, "only %u mutated files loaded", ok);
	cr_assert_gt(bad, 1000, "only %u mutated files were rejected", bad);
}

/* ---- elf_read_file ---- */

static char tmpdir[] = "/tmp/vigil-elf-XXXXXX";

static const char *write_tmp(const char *name, const void *data, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static void tmp_setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
	build_valid(VIGIL_GUEST_LOAD_MIN);
}

static void tmp_teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

TestSuite(elf_read, .init = tmp_setup, .fini = tmp_teardown, .timeout = 10);

Test(elf_read, reads_the_whole_file)
{
	const char *p = write_tmp("ok.elf", file.b, file_len);
	void *buf;
	size_t len = 0;

	cr_assert_eq(elf_read_file(p, 1 << 20, &buf, &len), 0);
	cr_assert_eq(len, file_len);
	cr_assert_eq(memcmp(buf, file.b, len), 0);
	free(buf);
}

Test(elf_read, file_larger_than_max_is_efbig)
{
	const char *p = write_tmp("big.elf", file.b, file_len);
	void *buf = (void *)1;
	size_t len;

	cr_assert_eq(elf_read_file(p, file_len - 1, &buf, &len), -EFBIG);
	cr_assert_null(buf);
}

Test(elf_read, missing_file_is_enoent)
{
	void *buf;
	size_t len;

	cr_assert_eq(elf_read_file("/nonexistent/vigil.elf", 1 << 20, &buf, &len), -ENOENT);
	cr_assert_null(buf);
}

Test(elf_read, directory_is_einval)
{
	void *buf;
	size_t len;

	cr_assert_eq(elf_read_file(tmpdir, 1 << 20, &buf, &len), -EINVAL);
	cr_assert_null(buf);
}

Test(elf_read, empty_file_reads_and_then_fails_to_load)
{
	const char *p = write_tmp("empty.elf", "", 0);
	struct elf_image img;
	uint8_t m[16];
	void *buf;
	size_t len = 99;

	cr_assert_eq(elf_read_file(p, 1 << 20, &buf, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(elf_load(buf, len, m, sizeof(m), 0, &img, why, sizeof(why)), -ENOEXEC);
	free(buf);
}

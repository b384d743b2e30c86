/* ELF64 validation and loading. Nothing is trusted: every offset, size and
 * address is checked for overflow against the file and the guest window. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_loader.h"

#define ELF_MAX_PHNUM 64

static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return err;
}

static bool add_ok(uint64_t a, uint64_t b, uint64_t limit)
{
	return a + b >= a && a + b <= limit;
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, char *why, size_t why_len)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return fail(why, why_len, -ENOEXEC, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(why, why_len, -ENOEXEC, "not a 64-bit ELF (class %u)", eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(why, why_len, -ENOEXEC, "not a little-endian ELF");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(why, why_len, -ENOEXEC, "unknown ELF version");
	if (eh->e_machine != EM_X86_64)
		return fail(why, why_len, -ENOEXEC, "not an x86-64 ELF (machine %u)", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return fail(why, why_len, -ENOEXEC,
			    "not a static executable (type %u): build the guest non-PIE", eh->e_type);
	if (eh->e_ehsize < sizeof(*eh))
		return fail(why, why_len, -ENOEXEC, "ELF header size %u too small", eh->e_ehsize);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(why, why_len, -ENOEXEC, "program header size %u, expected %zu",
			    eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return fail(why, why_len, -ENOEXEC, "%u program headers (1 to %d allowed)",
			    eh->e_phnum, ELF_MAX_PHNUM);
	if (!add_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return fail(why, why_len, -ENOEXEC, "program headers lie outside the file");
	return 0;
}

static int check_phdr(const Elf64_Phdr *ph, unsigned i, size_t len, uint64_t mem_size,
		      uint64_t min_addr, char *why, size_t why_len)
{
	if (ph->p_type == PT_INTERP || ph->p_type == PT_DYNAMIC)
		return fail(why, why_len, -ENOEXEC, "dynamically linked ELF is not supported");
	if (ph->p_type != PT_LOAD)
		return 0;
	if (ph->p_filesz > ph->p_memsz)
		return fail(why, why_len, -ENOEXEC, "segment %u: file size exceeds memory size", i);
	if (!add_ok(ph->p_offset, ph->p_filesz, len))
		return fail(why, why_len, -ENOEXEC, "segment %u: data lies outside the file", i);
	if (ph->p_vaddr != ph->p_paddr)
		return fail(why, why_len, -ENOEXEC,
			    "segment %u: virtual 0x%llx != physical 0x%llx (must be identity-mapped)",
			    i, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_paddr);
	if (ph->p_paddr < min_addr)
		return fail(why, why_len, -ERANGE, "segment %u: loads at 0x%llx, below 0x%llx", i,
			    (unsigned long long)ph->p_paddr, (unsigned long long)min_addr);
	if (!add_ok(ph->p_paddr, ph->p_memsz, mem_size))
		return fail(why, why_len, -E2BIG,
			    "segment %u: [0x%llx, +0x%llx) does not fit in guest memory (%llu MiB)",
			    i, (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			    (unsigned long long)(mem_size >> 20));
	return 0;
}

/* Program headers may sit at any offset: copy, never cast. */
static void get_phdr(const uint8_t *file, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, file + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int check_all(const uint8_t *file, size_t len, uint64_t mem_size, uint64_t min_addr,
		     struct elf_image *img, char *why, size_t why_len)
{
	Elf64_Ehdr ehdr, *eh = &ehdr;
	Elf64_Phdr ph;
	bool entry_ok = false;
	unsigned i;
	int err;

	if (len < sizeof(ehdr))
		return fail(why, why_len, -ENOEXEC, "not an ELF file (%zu bytes)", len);
	memcpy(&ehdr, file, sizeof(ehdr));
	err = check_ehdr(eh, len, why, why_len);
	if (err)
		return err;
	memset(img, 0, sizeof(*img));
	img->lo = UINT64_MAX;
	for (i = 0; i < eh->e_phnum; i++) {
		get_phdr(file, eh, i, &ph);
		err = check_phdr(&ph, i, len, mem_size, min_addr, why, why_len);
		if (err)
			return err;
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		img->nr_segments++;
		if (ph.p_paddr < img->lo)
			img->lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > img->hi)
			img->hi = ph.p_paddr + ph.p_memsz;
		if ((ph.p_flags & PF_X) && eh->e_entry >= ph.p_vaddr &&
		    eh->e_entry < ph.p_vaddr + ph.p_memsz)
			entry_ok = true;
	}
	if (!img->nr_segments)
		return fail(why, why_len, -ENOEXEC, "no loadable segment");
	if (!entry_ok)
		return fail(why, why_len, -ENOEXEC, "entry point 0x%llx is not in an executable segment",
			    (unsigned long long)eh->e_entry);
	img->entry = eh->e_entry;
	return 0;
}

int elf_load(const void *buf, size_t len, uint8_t *mem, uint64_t mem_size,
	     uint64_t min_addr, struct elf_image *out, char *why, size_t why_len)
{
	const uint8_t *file = buf;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned i;
	int err;

	if (!buf)
		return fail(why, why_len, -EINVAL, "no file");
	err = check_all(file, len, mem_size, min_addr, out, why, why_len);
	if (err)
		return err;
	memcpy(&eh, file, sizeof(eh));
	for (i = 0; i < eh.e_phnum; i++) {
		get_phdr(file, &eh, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		memcpy(mem + ph.p_paddr, file + ph.p_offset, ph.p_filesz);
		memset(mem + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return 0;
}

int elf_read_file(const char *path, size_t max, void **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, err = 0;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
		goto out;
	}
	*buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, (uint8_t *)*buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return err;
}

/*
 * vigil mem SOCKET ADDR LEN [--cr3 CR3]: hex dump of guest memory. ADDR is a
 * guest-physical address, or with --cr3 a guest-virtual one translated page
 * by page through the page tables at CR3 (read from guest memory, so no vCPU
 * needs to be paused).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmi_tool.h"
#include "vigil.h"

#define MEM_MAX_LEN (16ull << 20)

struct mem_opts {
	uint64_t addr, len, cr3;
	bool virt, raw;
	int timeout_ms;
};

static void mem_usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil mem [--cr3 CR3] [--raw] SOCKET ADDR LEN\n"
		"\n"
		"Dump LEN bytes of guest memory from ADDR (hex, with ASCII). ADDR is\n"
		"guest-physical unless --cr3 is given: then it is guest-virtual, translated\n"
		"through the 4-level page tables at CR3. LEN takes K/M suffixes (at most\n"
		"16M). Numbers are decimal or 0x hex.\n"
		"\n"
		"Options:\n"
		"  -c, --cr3 CR3     translate ADDR with the page tables at CR3\n"
		"  -r, --raw         write the bytes unformatted to stdout\n"
		"  -t, --timeout MS  how long to wait for vigild (default 5000)\n"
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 ok, 64 usage, 65 address not guest RAM or not mapped,\n"
		"66 no such socket, 69 vigild unavailable, 74 connection lost, 76 not a\n"
		"vigil socket.\n");
}

static void dump_line(uint64_t addr, const uint8_t *b, size_t n)
{
	char text[17];
	size_t i;

	printf("%016llx ", (unsigned long long)addr);
	for (i = 0; i < 16; i++) {
		if (i < n)
			printf("%s%02x", i == 8 ? "  " : " ", b[i]);
		else
			printf("%s  ", i == 8 ? "  " : " ");
		text[i] = i < n ? (b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '.') : '\0';
	}
	text[16] = '\0';
	printf("  |%s|\n", text);
}

/* Read [addr, addr+len) that lies within one page into buf. */
static int read_piece(struct vigil_kvmi *c, const struct mem_opts *o, uint64_t addr,
		      uint8_t *buf, size_t len)
{
	uint64_t gpa = addr;
	char what[96];
	int r;

	if (o->virt) {
		r = vk_walk(c, o->cr3, addr, &gpa);
		if (r == -EFAULT) {
			vigil_err("0x%llx is not mapped by the page tables at CR3 0x%llx",
				  (unsigned long long)addr, (unsigned long long)o->cr3);
			return VIGIL_EXIT_DATAERR;
		}
		if (r < 0)
			return vk_fail("walking the page tables", r);
		if (!o->raw && (addr == o->addr || !(addr & 0xfff)))
			printf("# virtual 0x%llx -> physical 0x%llx\n", (unsigned long long)addr,
			       (unsigned long long)gpa);
	}
	r = vigil_kvmi_read_physical(c, gpa, buf, len, NULL);
	if (r == -EFAULT) {
		vigil_err("physical 0x%llx is not guest RAM", (unsigned long long)gpa);
		return VIGIL_EXIT_DATAERR;
	}
	if (r < 0) {
		snprintf(what, sizeof(what), "READ_PHYSICAL 0x%llx", (unsigned long long)gpa);
		return vk_fail(what, r);
	}
	return VIGIL_EXIT_OK;
}

static int mem_run(struct vigil_kvmi *c, const struct mem_opts *o)
{
	uint8_t buf[4096];
	uint64_t addr = o->addr, end = o->addr + o->len;
	int status;

	while (addr < end) {
		size_t n = 4096 - (addr & 0xfff);

		if (n > end - addr)
			n = (size_t)(end - addr);
		status = read_piece(c, o, addr, buf, n);
		if (status)
			return status;
		if (o->raw) {
			if (fwrite(buf, 1, n, stdout) != n)
				return VIGIL_EXIT_IOERR;
		} else {
			for (size_t i = 0; i < n; i += 16)
				dump_line(addr + i, buf + i, n - i < 16 ? n - i : 16);
		}
		addr += n;
	}
	return fflush(stdout) ? VIGIL_EXIT_IOERR : VIGIL_EXIT_OK;
}

static int parse_arg(const char *name, const char *s, bool suffix, uint64_t *v)
{
	if (vk_parse_u64(s, suffix, v) == 0)
		return 0;
	vigil_err("mem: %s '%s' is not a number", name, s);
	return -EINVAL;
}

int cmd_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cr3", required_argument, NULL, 'c' },
		{ "raw", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mem_opts o = { .timeout_ms = 5000 };
	struct vigil_kvmi *c = NULL;
	uint64_t tmo;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "c:rt:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_arg("--cr3", optarg, false, &o.cr3))
				return vigil_usage_error("mem");
			o.virt = true;
			break;
		case 'r': o.raw = true; break;
		case 't':
			if (parse_arg("--timeout", optarg, false, &tmo) || tmo > 3600000)
				return vigil_usage_error("mem");
			o.timeout_ms = (int)tmo;
			break;
		case 'h': mem_usage(stdout); return VIGIL_EXIT_OK;
		default: return vigil_usage_error("mem");
		}
	}
	if (argc - optind != 3) {
		vigil_err("mem: expected SOCKET ADDR LEN");
		return vigil_usage_error("mem");
	}
	if (parse_arg("ADDR", argv[optind + 1], false, &o.addr) ||
	    parse_arg("LEN", argv[optind + 2], true, &o.len))
		return vigil_usage_error("mem");
	if (!o.len || o.len > MEM_MAX_LEN || o.addr + o.len < o.addr) {
		vigil_err("mem: LEN must be 1 to 16M and ADDR+LEN must not wrap");
		return vigil_usage_error("mem");
	}
	status = vk_attach(argv[optind], o.timeout_ms, &c);
	if (status)
		return status;
	status = mem_run(c, &o);
	vigil_kvmi_close(&c);
	return status;
}

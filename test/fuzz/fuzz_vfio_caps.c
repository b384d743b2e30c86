/*
 * Fuzz target: a vfio-user server's PCI configuration space and BAR sizes,
 * through what vigild builds from them (server/vfio/vfio_msi_cap.c,
 * vfio_msix.c): the capability walk, MSI/MSI-X parsing and validation
 * against the BARs, then guest accesses to the emulated capabilities, the
 * chain as the guest sees it, the MSI-X table and PBA, and which BAR pages
 * may be mapped.
 *
 * Input (zero-padded to the fixed part):
 *   [0, 256)    the server's configuration space
 *   [256, 304)  6 x u64 BAR: bit 0 I/O, bit 1 64-bit (the next BAR is its
 *               upper half), bits 2.. region size (at most 1 TiB, as
 *               vu_parse_region_info allows)
 *   [304, 312)  u32 MSI and u32 MSI-X vector counts (GET_IRQ_INFO; 0: none);
 *               bit 31 of the MSI count: enumeration failed after the probe,
 *               so the setup never ran (the hooks still serve the guest)
 *   [312, ...)  guest operations, 8 bytes each: op, a, b, c, u32 value
 *
 * The device is failed and its client a failed one, as for a server that
 * died: mode switches (the guest enabling MSI/MSI-X) run their real code and
 * their SET_IRQS fails with -ENOTCONN. There is no VM: no MSI routing (rt is
 * NULL), so no vector binds. Checked for every input: the chain the guest
 * walks ends, visits exactly the kept capabilities in list order and reads
 * their ids; a usable MSI-X table and PBA lie inside memory BARs and do not
 * overlap; mappable BAR pieces stay inside the asked range, page granular,
 * off the table and PBA pages; no descriptor is left open.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_util.h"
#include "log.h"
#include "vfio_int.h"
#include "vfio_msi.h"
#include "vu_client.h"

#define CFG_SIZE   256u
#define FIXED_SIZE (CFG_SIZE + 6 * 8 + 8)
#define PAGE       4096ull

static struct vu_client *dead_client;
static int fd_baseline;

/* A client whose server is gone: every call returns -ENOTCONN at once. */
static void make_dead_client(void)
{
	struct vu_client_config cfg = { .name = "fuzz-caps" };
	struct vu_tran *t;
	int sv[2];

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	FUZZ_CHECK(vu_tran_fd_new(&t, sv[0], sv[0]) == 0, "transport");
	FUZZ_CHECK(vu_client_new(&dead_client, t, &cfg) == 0, "client");
	close(sv[1]);
	vu_client_fail(dead_client, -ENOTCONN, "fuzz: no server");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_dead_client();
	vg_log_set_level(getenv("FUZZ_VERBOSE") ? VG_LOG_DEBUG : VG_LOG_ERR);
	fd_baseline = fuzz_count_fds(-1);
	return 0;
}

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint64_t pow2_at_least(uint64_t v, uint64_t min)
{
	uint64_t p = min;

	while (p < v)
		p <<= 1;
	return p;
}

/* The BARs as vfio_pci_setup_bars leaves them. */
static void setup_bars(struct vfio_dev *d, const uint8_t *in)
{
	for (unsigned i = 0; i < VFIO_NR_BARS; i++) {
		struct vfio_bar *b = &d->bar[i];
		uint64_t v = rd64(in + 8 * i), size = v >> 2;

		b->dev = d;
		b->idx = i;
		if (b->is_upper)
			continue;
		if (size > (1ULL << 40))
			size = 1ULL << 40;
		if (!size)
			continue;
		b->is_io = v & 1;
		b->is_64 = !b->is_io && (v & 2);
		b->region_size = size;
		b->size = pow2_at_least(size, b->is_io ? 4 : 4096);
		if (b->is_64 && i + 1 < VFIO_NR_BARS)
			d->bar[i + 1].is_upper = true;
	}
}

/* ---- the configuration space as the guest reads it (vfio_pci.c's cfg_read
 * without the BAR and ROM registers, which never reach these hooks) ---- */

static void guest_cfg_read(struct vfio_dev *d, const uint8_t *cfg, unsigned off,
			   void *data, unsigned len)
{
	if (vfio_irqs_cfg_read(d, off, data, len))
		return;
	memcpy(data, cfg + off, len);
	vfio_irqs_cfg_patch(d, off, data, len);
}

static uint8_t guest_rd8(struct vfio_dev *d, const uint8_t *cfg, unsigned off)
{
	uint8_t v;

	guest_cfg_read(d, cfg, off, &v, 1);
	return v;
}

static int cap_index(const struct vfio_irqs *q, unsigned off)
{
	for (unsigned i = 0; i < q->nr_caps; i++)
		if (q->caps[i].off == off)
			return (int)i;
	return -1;
}

/* The chain the guest walks: kept capabilities only, in list order, each
 * reading its own id, ending. */
static void check_chain(struct vfio_dev *d, const uint8_t *cfg)
{
	const struct vfio_irqs *q = d->irqs;
	unsigned kept = 0, visited = 0;
	uint16_t status;
	int last = -1;

	for (unsigned i = 0; i < q->nr_caps; i++)
		kept += q->caps[i].keep;
	guest_cfg_read(d, cfg, 0x06, &status, 2);
	if (!(status & 0x10)) {
		FUZZ_CHECK(!q->have_cap_list || kept == 0,
			   "status hides a list with %u kept capabilities", kept);
		return;
	}
	FUZZ_CHECK(q->have_cap_list, "status shows a list the server did not have");
	for (unsigned at = guest_rd8(d, cfg, 0x34); at; at = guest_rd8(d, cfg, at + 1)) {
		int i = cap_index(q, at);

		FUZZ_CHECK(at >= 0x40 && at <= 0xfc && !(at & 3), "chain points at %#x", at);
		FUZZ_CHECK(i > last, "chain goes to %#x (index %d after %d)", at, i, last);
		FUZZ_CHECK(q->caps[i].keep, "chain shows dropped capability at %#x", at);
		FUZZ_CHECK(guest_rd8(d, cfg, at) == q->caps[i].id,
			   "capability at %#x reads id %#x, parsed %#x", at,
			   guest_rd8(d, cfg, at), q->caps[i].id);
		last = i;
		visited++;
	}
	FUZZ_CHECK(visited == kept, "chain visits %u of %u kept capabilities", visited, kept);
}

/* A usable MSI-X table and PBA lie in memory BARs that hold them. */
static void check_msix(const struct vfio_dev *d)
{
	const struct vfio_irqs *q = d->irqs;
	uint64_t tlen = (uint64_t)q->msix_server_nr * 16;
	uint64_t plen = ((uint64_t)q->msix_server_nr + 63) / 64 * 8;
	const struct vfio_bar *tb, *pb;

	if (q->msi_present)
		FUZZ_CHECK(q->msi_max >= 1 && q->msi_max <= VFIO_MSI_MAX_VECTORS &&
			   !(q->msi_max & (q->msi_max - 1)), "MSI with %u vectors", q->msi_max);
	if (!q->msix_present)
		return;
	FUZZ_CHECK(q->msix_claimed, "MSI-X present but not claimed");
	FUZZ_CHECK(q->table_bar < VFIO_NR_BARS && q->pba_bar < VFIO_NR_BARS, "BIR %u/%u",
		   q->table_bar, q->pba_bar);
	tb = &d->bar[q->table_bar];
	pb = &d->bar[q->pba_bar];
	FUZZ_CHECK(tb->size && !tb->is_io && pb->size && !pb->is_io, "table/PBA BAR unusable");
	FUZZ_CHECK(q->table_off + tlen <= tb->region_size, "table past its BAR");
	FUZZ_CHECK(q->pba_off + plen <= pb->region_size, "PBA past its BAR");
	FUZZ_CHECK(q->table_bar != q->pba_bar || q->table_off >= q->pba_off + plen ||
		   q->pba_off >= q->table_off + tlen, "table and PBA overlap");
	FUZZ_CHECK(q->msix_nr >= 1 && q->msix_nr <= q->msix_server_nr &&
		   q->msix_nr <= VFIO_MSIX_MAX_VECTORS && q->msix_vec, "MSI-X with %u vectors",
		   q->msix_nr);
}

/* vfio_msix_mappable: pieces inside [off, off+len), page granular for page
 * granular input, off the table and PBA pages. */
static void check_mappable(const struct vfio_dev *d, unsigned bar, uint64_t off, uint64_t len)
{
	const struct vfio_irqs *q = d->irqs;
	uint64_t out[3][2];
	unsigned n = vfio_msix_mappable(d, bar, off, len, out);

	FUZZ_CHECK(n <= 3, "%u pieces", n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = out[i][0], e = a + out[i][1];

		FUZZ_CHECK(a >= off && e <= off + len && a < e, "piece [%#llx, %#llx) of "
			   "[%#llx, +%#llx)", (unsigned long long)a, (unsigned long long)e,
			   (unsigned long long)off, (unsigned long long)len);
		FUZZ_CHECK(!((a | e) & (PAGE - 1)), "piece not page granular");
		for (unsigned k = 0; k < i; k++)
			FUZZ_CHECK(e <= out[k][0] || a >= out[k][0] + out[k][1], "pieces overlap");
		if (!q->msix_claimed)
			continue;
		if (bar == q->table_bar)
			FUZZ_CHECK(e <= (q->table_off & ~(PAGE - 1)) ||
				   a >= q->table_off + (uint64_t)q->msix_server_nr * 16,
				   "table page mappable");
		if (bar == q->pba_bar)
			FUZZ_CHECK(e <= (q->pba_off & ~(PAGE - 1)) ||
				   a >= q->pba_off + ((uint64_t)q->msix_server_nr + 63) / 64 * 8,
				   "PBA page mappable");
	}
}

/* ---- guest operations ---- */

static void op_cfg(struct vfio_dev *d, const uint8_t *cfg, const uint8_t *op)
{
	static const unsigned lens[] = { 1, 2, 4 };
	unsigned off = op[1], len = lens[op[2] % 3];
	uint8_t data[4];

	if ((off & 3) + len > 4)      /* the host bridge keeps accesses in a dword */
		len = 4 - (off & 3);
	memcpy(data, op + 4, 4);
	if (op[0] & 1)
		vfio_irqs_cfg_write(d, off, data, len);   /* else the server's, dropped */
	else
		guest_cfg_read(d, cfg, off, data, len);
}

static void op_bar(struct vfio_dev *d, const uint8_t *op, bool is_write)
{
	const struct vfio_irqs *q = d->irqs;
	unsigned bar = op[1] % VFIO_NR_BARS, len = 1u << (op[2] & 3);
	uint64_t off = rd32(op + 4);
	uint8_t data[8] = { op[3], op[2], op[1], op[0] };

	/* Near the table or PBA now and then, or the hit rate is nil. */
	if (op[3] & 0x80)
		off = (op[3] & 0x40 ? q->pba_off : q->table_off) + (off & 0xfff);
	if (!vfio_msix_bar_access(d, bar, off, is_write, data, len))
		return;
	FUZZ_CHECK(q->msix_present, "BAR access handled without MSI-X");
	FUZZ_CHECK((bar == q->table_bar && off >= q->table_off &&
		    off + len <= q->table_off + (uint64_t)q->msix_server_nr * 16) ||
		   (bar == q->pba_bar && off >= q->pba_off &&
		    off + len <= q->pba_off + ((uint64_t)q->msix_server_nr + 63) / 64 * 8),
		   "BAR%u access at %#llx taken as table/PBA", bar, (unsigned long long)off);
}

static void op_map(struct vfio_dev *d, const uint8_t *op)
{
	unsigned bar = op[1] % VFIO_NR_BARS;
	const struct vfio_bar *b = &d->bar[bar];
	uint64_t pages = b->region_size / PAGE, first, n;

	if (!pages)
		return;
	first = rd32(op + 4) % pages;
	n = 1 + (op[2] | (uint64_t)op[3] << 8) % (pages - first);
	check_mappable(d, bar, first * PAGE, n * PAGE);
}

static void run_ops(struct vfio_dev *d, const uint8_t *cfg, const uint8_t *ops, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		const uint8_t *op = ops + i;

		switch (op[0] % 5) {
		case 0: case 1: op_cfg(d, cfg, op); break;
		case 2: op_bar(d, op, false); break;
		case 3: op_bar(d, op, true); break;
		default: op_map(d, op); break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t fixed[FIXED_SIZE] = { 0 };
	uint8_t *cfg = malloc(CFG_SIZE);   /* exactly the probe's buffer: ASan sees overreads */
	struct vfio_dev *d = calloc(1, sizeof(*d));
	uint32_t msi_count, msix_count;
	int fds;

	FUZZ_CHECK(d && cfg, "out of memory");
	memcpy(fixed, data, size < FIXED_SIZE ? size : FIXED_SIZE);
	memcpy(cfg, fixed, CFG_SIZE);
	snprintf(d->name, sizeof(d->name), "fuzz");
	d->c = dead_client;
	atomic_store(&d->failed, true);
	setup_bars(d, fixed + CFG_SIZE);
	FUZZ_CHECK(vfio_irqs_parse(d, cfg) == 0 && d->irqs, "parse");
	msi_count = rd32(fixed + CFG_SIZE + 48);
	msix_count = rd32(fixed + CFG_SIZE + 52);
	if (!(msi_count & 0x80000000u)) {
		vfio_irqs_validate(d->irqs, msi_count, msix_count);
		check_msix(d);
	}
	check_chain(d, cfg);
	for (unsigned i = 0; i < VFIO_NR_BARS; i++)
		if (d->bar[i].region_size >= PAGE)
			check_mappable(d, i, 0, d->bar[i].region_size & ~(PAGE - 1));
	if (size > FIXED_SIZE)
		run_ops(d, cfg, data + FIXED_SIZE, size - FIXED_SIZE);
	check_chain(d, cfg);
	vfio_irqs_free(d);
	FUZZ_CHECK(!d->irqs, "vfio_irqs_free leaves d->irqs");
	free(d);
	free(cfg);
	fds = fuzz_count_fds(fd_baseline);
	if (fds != fd_baseline)
		fuzz_dump_fds();
	FUZZ_CHECK(fds == fd_baseline, "%d fds open, %d before", fds, fd_baseline);
	return 0;
}

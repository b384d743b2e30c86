/*
 * The server's PCI capability list as the guest sees it: walked once at
 * attach (bounded, loop-checked), MSI and MSI-X capabilities emulated by
 * vigild, capabilities that cannot work unlinked from the chain.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "irq_routing.h"
#include "log.h"
#include "vfio_int.h"
#include "vfio_msi.h"
#include "vm.h"

#define PCI_STATUS          0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_PTR         0x34
#define PCI_CAP_ID_MSI      0x05
#define PCI_CAP_ID_MSIX     0x11
#define PCI_CFG_SIZE        256u

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* ---- walking the list ---- */

static bool msi_parse(struct vfio_irqs *q, const uint8_t *cfg, unsigned at)
{
	uint16_t ctrl = rd16(cfg + at + 2);
	struct vfio_emu_cap *c = &q->msi_cap;
	unsigned size, data_at;

	if (q->msi_present)
		return false;   /* a second MSI capability: ignored */
	q->msi_64 = ctrl & 0x80;
	q->msi_pvm = ctrl & 0x100;
	size = 10 + (q->msi_64 ? 4 : 0) + (q->msi_pvm ? 10 : 0);
	c->off = at;
	c->len = (size + 3) & ~3u;
	if (at + c->len > PCI_CFG_SIZE)
		return false;
	memset(c->regs, 0, sizeof(c->regs));
	memset(c->wmask, 0, sizeof(c->wmask));
	c->regs[0] = PCI_CAP_ID_MSI;
	/* Capable count (bits 3:1) is filled in by the setup; enable and MME start 0. */
	wr16(c->regs + 2, ctrl & 0x18e);
	c->wmask[2] = 0x71;                               /* enable, MME */
	memset(c->wmask + 4, 0xff, q->msi_64 ? 8 : 4);    /* address */
	c->wmask[4] = 0xfc;
	data_at = q->msi_64 ? 12 : 8;
	memset(c->wmask + data_at, 0xff, 2);
	if (q->msi_pvm)
		memset(c->wmask + data_at + 4, 0xff, 4);  /* mask bits */
	q->msi_present = true;
	return true;
}

static bool msix_parse(struct vfio_irqs *q, const uint8_t *cfg, unsigned at)
{
	struct vfio_emu_cap *c = &q->msix_cap;
	uint32_t table, pba;

	if (q->msix_claimed || at + 12 > PCI_CFG_SIZE)
		return false;
	table = rd32(cfg + at + 4);
	pba = rd32(cfg + at + 8);
	q->msix_server_nr = (rd16(cfg + at + 2) & 0x7ff) + 1;
	q->table_bar = table & 7;
	q->table_off = table & ~7u;
	q->pba_bar = pba & 7;
	q->pba_off = pba & ~7u;
	c->off = at;
	c->len = 12;
	memset(c->regs, 0, sizeof(c->regs));
	memset(c->wmask, 0, sizeof(c->wmask));
	memcpy(c->regs, cfg + at, 12);
	c->regs[1] = 0;
	wr16(c->regs + 2, 0);       /* disabled, unmasked; size set by the setup */
	c->wmask[3] = 0xc0;         /* enable, function mask */
	/* Keep the table and PBA pages out of any mapping even if the
	 * capability turns out unusable: they stay trapped. */
	q->msix_claimed = true;
	q->msix_present = true;
	return true;
}

static void walk_caps(struct vfio_irqs *q, const uint8_t *cfg)
{
	bool seen[PCI_CFG_SIZE / 4] = { false };
	unsigned at = cfg[PCI_CAP_PTR] & ~3u;

	while (at) {
		struct vfio_cap *cap = &q->caps[q->nr_caps];

		if (at < 0x40 || at > PCI_CFG_SIZE - 4 || seen[at / 4] ||
		    q->nr_caps == VFIO_MAX_CAPS) {
			log_warn("vfio-user %s: capability list %s at %#x: the list ends there",
				 q->d->name, seen[at / 4] ? "loops" : "points outside", at);
			return;
		}
		seen[at / 4] = true;
		cap->off = (uint8_t)at;
		cap->id = cfg[at];
		cap->keep = true;
		if (cap->id == PCI_CAP_ID_MSI)
			cap->keep = msi_parse(q, cfg, at);
		else if (cap->id == PCI_CAP_ID_MSIX)
			cap->keep = msix_parse(q, cfg, at);
		if (!cap->keep)
			log_warn("vfio-user %s: capability %#x at %#x is malformed or repeated; "
				 "ignored", q->d->name, cap->id, at);
		q->nr_caps++;
		at = cfg[at + 1] & ~3u;
	}
}

static bool emu_covers(const struct vfio_emu_cap *c, bool present, unsigned off)
{
	return present && off > c->off && off < c->off + c->len;
}

/*
 * A capability whose header lies inside an emulated MSI or MSI-X one would
 * be read through the emulated registers: the guest would take whatever
 * they hold (the server's PBA offset, its own MSI address) for an id and a
 * next pointer. Such a capability is unlinked, an emulated one included.
 */
static void drop_shadowed(struct vfio_irqs *q)
{
	if (emu_covers(&q->msi_cap, q->msi_present, q->msix_cap.off))
		q->msix_present = false;
	if (emu_covers(&q->msix_cap, q->msix_present, q->msi_cap.off))
		q->msi_present = false;
	for (unsigned i = 0; i < q->nr_caps; i++) {
		struct vfio_cap *cap = &q->caps[i];

		if (!emu_covers(&q->msi_cap, q->msi_present, cap->off) &&
		    !emu_covers(&q->msix_cap, q->msix_present, cap->off))
			continue;
		if (cap->keep)
			log_warn("vfio-user %s: capability %#x at %#x lies inside the MSI or MSI-X "
				 "capability; ignored", q->d->name, cap->id, cap->off);
		cap->keep = false;
	}
}

int vfio_irqs_parse(struct vfio_dev *d, const uint8_t *cfg)
{
	struct vfio_irqs *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->mode_lock, NULL);
	q->d = d;
	for (unsigned i = 0; i < VFIO_MSI_MAX_VECTORS; i++)
		vfio_vec_init(&q->msi_vec[i]);
	d->irqs = q;
	q->have_cap_list = cfg && (rd16(cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST);
	if (q->have_cap_list) {
		walk_caps(q, cfg);
		drop_shadowed(q);
	}
	return 0;
}

int vfio_irqs_probe(struct vfio_dev *d)
{
	uint8_t cfg[PCI_CFG_SIZE];
	int err = 0;

	/* Dword by dword, as a guest would: every server takes that size. */
	for (unsigned off = 0; off < PCI_CFG_SIZE && !err; off += 4)
		err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, off, cfg + off, 4);
	if (err)
		log_warn("vfio-user %s: cannot read the configuration space (%s): "
			 "no capabilities", d->name, strerror(-err));
	err = vfio_irqs_parse(d, err ? NULL : cfg);
	if (!err)
		d->irqs->rt = d->vm->irq_routing;
	return err;
}

/* ---- setup against the BARs and the server's IRQ info ---- */

static void hide(struct vfio_irqs *q, uint8_t id)
{
	for (unsigned i = 0; i < q->nr_caps; i++)
		if (q->caps[i].id == id)
			q->caps[i].keep = false;
	if (id == PCI_CAP_ID_MSI)
		q->msi_present = false;
	else
		q->msix_present = false;
}

/* How many vectors of IRQ index @index the server takes with eventfds. */
static unsigned server_vectors(struct vfio_dev *d, uint32_t index)
{
	struct vu_irq_info ii;

	if (d->info.num_irqs <= index || vu_dev_get_irq_info(d->c, index, &ii) < 0 ||
	    !(ii.flags & VFIO_IRQ_INFO_EVENTFD))
		return 0;
	return ii.count;
}

static void msi_setup(struct vfio_irqs *q, unsigned count)
{
	unsigned mmc = (q->msi_cap.regs[2] >> 1) & 7, log2n = 0;

	if (!count) {
		log_warn("vfio-user %s: MSI capability but no MSI eventfds (GET_IRQ_INFO): "
			 "ignored", q->d->name);
		hide(q, PCI_CAP_ID_MSI);
		return;
	}
	if (mmc > 5)
		mmc = 5;
	while (log2n < mmc && (2u << log2n) <= count)
		log2n++;
	q->msi_max = 1u << log2n;
	q->msi_cap.regs[2] = (uint8_t)((q->msi_cap.regs[2] & ~0x0e) | (log2n << 1));
}

static const char *msix_check(const struct vfio_irqs *q)
{
	const struct vfio_bar *tb = &q->d->bar[q->table_bar % VFIO_NR_BARS];
	const struct vfio_bar *pb = &q->d->bar[q->pba_bar % VFIO_NR_BARS];
	uint64_t tlen = (uint64_t)q->msix_server_nr * 16;
	uint64_t plen = ((uint64_t)q->msix_server_nr + 63) / 64 * 8;

	if (q->table_bar >= VFIO_NR_BARS || q->pba_bar >= VFIO_NR_BARS)
		return "BIR names no BAR";
	if (!tb->size || tb->is_io || !pb->size || pb->is_io)
		return "table or PBA in a BAR that is absent or I/O";
	if (q->table_off + tlen > tb->region_size)
		return "table does not fit in its BAR";
	if (q->pba_off + plen > pb->region_size)
		return "PBA does not fit in its BAR";
	if (q->table_bar == q->pba_bar && q->table_off < q->pba_off + plen &&
	    q->pba_off < q->table_off + tlen)
		return "table and PBA overlap";
	return NULL;
}

static void msix_setup(struct vfio_irqs *q, unsigned count)
{
	const char *bad = msix_check(q);
	unsigned nr = q->msix_server_nr;

	if (!bad && !count)
		bad = "no MSI-X eventfds (GET_IRQ_INFO)";
	if (!bad && !(q->msix_vec = calloc(VFIO_MSIX_MAX_VECTORS, sizeof(*q->msix_vec))))
		bad = "out of memory";
	if (bad) {
		log_warn("vfio-user %s: MSI-X capability ignored: %s (table BAR%u+%#llx, "
			 "PBA BAR%u+%#llx, %u vectors)", q->d->name, bad, q->table_bar,
			 (unsigned long long)q->table_off, q->pba_bar,
			 (unsigned long long)q->pba_off, q->msix_server_nr);
		hide(q, PCI_CAP_ID_MSIX);
		return;
	}
	nr = nr < count ? nr : count;
	nr = nr < VFIO_MSIX_MAX_VECTORS ? nr : VFIO_MSIX_MAX_VECTORS;
	q->msix_nr = nr;
	for (unsigned i = 0; i < VFIO_MSIX_MAX_VECTORS; i++)
		vfio_vec_init(&q->msix_vec[i]);
	wr16(q->msix_cap.regs + 2, (uint16_t)(nr - 1));
}

void vfio_irqs_validate(struct vfio_irqs *q, unsigned msi_count, unsigned msix_count)
{
	if (q->msi_present)
		msi_setup(q, msi_count);
	if (q->msix_present)
		msix_setup(q, msix_count);
}

void vfio_irqs_setup(struct vfio_dev *d)
{
	struct vfio_irqs *q = d->irqs;
	const char *missing;
	unsigned msi_count, msix_count;

	if (!q || (!q->msi_present && !q->msix_present))
		return;
	missing = !q->rt ? "an in-kernel irqchip" : irq_routing_msi_missing(q->rt);
	if (!missing && vu_client_caps(d->c)->max_msg_fds == 0)
		missing = "a server that takes descriptors (max_msg_fds 0)";
	if (missing) {
		log_warn("vfio-user %s: MSI/MSI-X need %s; the guest sees INTx only",
			 d->name, missing);
		hide(q, PCI_CAP_ID_MSI);
		hide(q, PCI_CAP_ID_MSIX);
		return;
	}
	msi_count = q->msi_present ? server_vectors(d, VFIO_PCI_MSI_IRQ_INDEX) : 0;
	msix_count = q->msix_present ? server_vectors(d, VFIO_PCI_MSIX_IRQ_INDEX) : 0;
	vfio_irqs_validate(q, msi_count, msix_count);
}

void vfio_irqs_free(struct vfio_dev *d)
{
	struct vfio_irqs *q = d->irqs;

	if (!q)
		return;
	vfio_vecs_release(q, q->msi_vec, VFIO_MSI_MAX_VECTORS);
	if (q->msix_vec)
		vfio_vecs_release(q, q->msix_vec, VFIO_MSIX_MAX_VECTORS);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->mode_lock);
	free(q->msix_vec);
	free(q);
	d->irqs = NULL;
}

/* ---- configuration space as the guest sees it ---- */

/* Offset of the first capability the guest may see at index @from or after. */
static uint8_t kept_from(const struct vfio_irqs *q, unsigned from)
{
	for (unsigned i = from; i < q->nr_caps; i++)
		if (q->caps[i].keep)
			return q->caps[i].off;
	return 0;
}

static uint8_t virt_next(const struct vfio_irqs *q, unsigned at)
{
	for (unsigned i = 0; i < q->nr_caps; i++)
		if (q->caps[i].off == at)
			return kept_from(q, i + 1);
	return 0;
}

static struct vfio_emu_cap *emu_at(struct vfio_irqs *q, unsigned off)
{
	if (q->msi_present && off >= q->msi_cap.off && off < q->msi_cap.off + q->msi_cap.len)
		return &q->msi_cap;
	if (q->msix_present && off >= q->msix_cap.off && off < q->msix_cap.off + q->msix_cap.len)
		return &q->msix_cap;
	return NULL;
}

static unsigned msi_data_at(const struct vfio_irqs *q)
{
	return q->msi_64 ? 12 : 8;
}

/* The MSI vectors from the registers: vector i of n carries data | i. */
static void msi_vectors(struct vfio_irqs *q)
{
	const uint8_t *r = q->msi_cap.regs;
	unsigned n = 1u << ((r[2] >> 4) & 7), at = msi_data_at(q);
	uint64_t addr = rd32(r + 4) | (q->msi_64 ? (uint64_t)rd32(r + 8) << 32 : 0);
	uint16_t data = rd16(r + at);
	uint32_t mask = q->msi_pvm ? rd32(r + at + 4) : 0;

	for (unsigned i = 0; i < VFIO_MSI_MAX_VECTORS; i++) {
		q->msi_vec[i].addr = addr;
		q->msi_vec[i].data = (data & ~(n - 1)) | (i & (n - 1));
		q->msi_vec[i].masked = mask & (1u << i);
	}
}

static void msi_refresh_pending(struct vfio_irqs *q)
{
	uint32_t pend = 0;

	if (!q->msi_pvm)
		return;
	for (unsigned i = 0; q->mode == VFIO_IRQ_MODE_MSI && i < q->msi_nr; i++)
		if (vfio_vec_pending(&q->msi_vec[i]))
			pend |= 1u << i;
	memcpy(q->msi_cap.regs + msi_data_at(q) + 8, &pend, 4);
}

bool vfio_irqs_cfg_read(struct vfio_dev *d, unsigned off, void *data, unsigned len)
{
	struct vfio_irqs *q = d->irqs;
	struct vfio_emu_cap *c;

	if (!q)
		return false;
	pthread_mutex_lock(&q->lock);
	c = emu_at(q, off);
	if (c) {
		if (c == &q->msi_cap)
			msi_refresh_pending(q);
		c->regs[1] = virt_next(q, c->off);
		memcpy(data, c->regs + (off - c->off), len);
	}
	pthread_mutex_unlock(&q->lock);
	return c != NULL;
}

void vfio_irqs_cfg_patch(struct vfio_dev *d, unsigned off, void *data, unsigned len)
{
	struct vfio_irqs *q = d->irqs;
	uint8_t *b = data;

	if (!q || !q->have_cap_list)
		return;
	for (unsigned i = 0; i < len; i++) {
		unsigned at = off + i;

		if (at == PCI_CAP_PTR)
			b[i] = kept_from(q, 0);
		else if (at == PCI_STATUS && !kept_from(q, 0))
			b[i] &= ~PCI_STATUS_CAP_LIST;
		for (unsigned k = 0; k < q->nr_caps; k++)
			if (q->caps[k].keep && at == q->caps[k].off + 1u)
				b[i] = virt_next(q, q->caps[k].off);
	}
}

/* After a write to the MSI capability: the mode it asks for, or -1. */
static int msi_written(struct vfio_irqs *q)
{
	uint8_t *r = q->msi_cap.regs;
	unsigned mmc = (r[2] >> 1) & 7;
	bool on = r[2] & 1;

	if (((r[2] >> 4) & 7) > mmc)
		r[2] = (uint8_t)((r[2] & ~0x70) | (mmc << 4));
	msi_vectors(q);
	if (on && q->mode != VFIO_IRQ_MODE_MSI)
		return VFIO_IRQ_MODE_MSI;
	if (!on && q->mode == VFIO_IRQ_MODE_MSI)
		return VFIO_IRQ_MODE_INTX;
	if (q->mode == VFIO_IRQ_MODE_MSI)
		vfio_vecs_sync(q, q->msi_vec, q->msi_nr, true);
	return -1;
}

static int msix_written(struct vfio_irqs *q)
{
	bool on = q->msix_cap.regs[3] & 0x80;

	if (on && q->mode != VFIO_IRQ_MODE_MSIX)
		return VFIO_IRQ_MODE_MSIX;
	if (!on && q->mode == VFIO_IRQ_MODE_MSIX)
		return VFIO_IRQ_MODE_INTX;
	/* Function mask set or cleared. */
	if (q->mode == VFIO_IRQ_MODE_MSIX)
		vfio_vecs_sync(q, q->msix_vec, q->msix_nr, vfio_irqs_msix_live(q));
	return -1;
}

/* Message Control as the server should see it (its own read-only bits). */
static uint16_t server_ctrl(const struct vfio_irqs *q, const struct vfio_emu_cap *c)
{
	uint16_t v = rd16(c->regs + 2);

	if (c == &q->msix_cap)
		v = (uint16_t)((v & 0xc000) | ((q->msix_server_nr - 1) & 0x7ff));
	return v;
}

bool vfio_irqs_cfg_write(struct vfio_dev *d, unsigned off, const void *data, unsigned len)
{
	struct vfio_irqs *q = d->irqs;
	struct vfio_emu_cap *c;
	const uint8_t *b = data;
	uint16_t ctrl;
	bool ctrl_touched;
	int mode;

	if (!q)
		return false;
	pthread_mutex_lock(&q->lock);
	c = emu_at(q, off);
	if (!c) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned k = off - c->off + i;

		c->regs[k] = (uint8_t)((c->regs[k] & ~c->wmask[k]) | (b[i] & c->wmask[k]));
	}
	ctrl_touched = off < c->off + 4 && off + len > c->off + 2;
	mode = c == &q->msi_cap ? msi_written(q) : msix_written(q);
	/* MSI and MSI-X are never both on: the one enabled last wins. */
	if (mode == VFIO_IRQ_MODE_MSI && q->msix_present)
		q->msix_cap.regs[3] &= 0x7f;
	if (mode == VFIO_IRQ_MODE_MSIX && q->msi_present)
		q->msi_cap.regs[2] &= 0xfe;
	ctrl = server_ctrl(q, c);
	pthread_mutex_unlock(&q->lock);
	if (ctrl_touched && !atomic_load(&d->failed) &&
	    vu_dev_region_write(d->c, VFIO_PCI_CONFIG_REGION_INDEX, c->off + 2, &ctrl, 2) < 0 &&
	    !vu_client_failed(d->c))
		log_debug("vfio-user %s: Message Control write not forwarded", d->name);
	if (mode >= 0)
		vfio_irqs_set_mode(q, (enum vfio_irq_mode)mode,
				   mode == VFIO_IRQ_MODE_MSI ? 1u << ((ctrl >> 4) & 7) : q->msix_nr);
	return true;
}

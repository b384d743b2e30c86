/*
 * The MSI-X vector table and PBA, emulated by vigild in the BAR that holds
 * them. Accesses come from vCPU threads (bar_io); they never reach the
 * server, and their pages are never mapped into the guest.
 */
#include <string.h>

#include "vfio_int.h"
#include "vfio_msi.h"

#define ENTRY_SIZE 16u
#define PAGE 4096ull

static uint64_t table_len(const struct vfio_irqs *q)
{
	return (uint64_t)q->msix_server_nr * ENTRY_SIZE;
}

static uint64_t pba_len(const struct vfio_irqs *q)
{
	return ((uint64_t)q->msix_server_nr + 63) / 64 * 8;
}

/* Entry @i as the guest reads it: address, data, vector control. */
static void entry_get(const struct vfio_irqs *q, unsigned i, uint8_t e[ENTRY_SIZE])
{
	const struct vfio_vec *v = &q->msix_vec[i];
	uint32_t w[4] = { (uint32_t)v->addr, (uint32_t)(v->addr >> 32), v->data, v->masked };

	memcpy(e, w, ENTRY_SIZE);
}

/* Entry @i written: the vector follows (route, irqfd, pending delivery). */
static void entry_set(struct vfio_irqs *q, unsigned i, const uint8_t e[ENTRY_SIZE])
{
	struct vfio_vec *v = &q->msix_vec[i];
	uint32_t w[4];

	memcpy(w, e, ENTRY_SIZE);
	v->addr = w[0] | (uint64_t)w[1] << 32;
	v->data = w[2];
	v->masked = w[3] & 1;   /* other vector control bits are reserved */
	if (q->mode == VFIO_IRQ_MODE_MSIX)
		vfio_vecs_sync(q, v, 1, vfio_irqs_msix_live(q));
}

/* Byte by byte: an access may be any size and straddle two entries. */
static void table_access(struct vfio_irqs *q, uint64_t off, bool is_write, uint8_t *data,
			 unsigned len)
{
	uint8_t e[ENTRY_SIZE];
	unsigned cur = ~0u;

	for (unsigned k = 0; k < len; k++) {
		unsigned i = (unsigned)((off + k) / ENTRY_SIZE), b = (unsigned)((off + k) % ENTRY_SIZE);

		if (i != cur) {
			if (is_write && cur < q->msix_nr)
				entry_set(q, cur, e);
			cur = i;
			if (i < q->msix_nr)
				entry_get(q, i, e);
			else
				memset(e, 0, sizeof(e));   /* beyond what the guest sees */
		}
		if (is_write)
			e[b] = data[k];
		else
			data[k] = e[b];
	}
	if (is_write && cur < q->msix_nr)
		entry_set(q, cur, e);
}

/* The PBA: pending bits, read-only; computed from the unbound eventfds. */
static void pba_read(struct vfio_irqs *q, uint64_t off, uint8_t *data, unsigned len)
{
	for (unsigned k = 0; k < len; k++) {
		uint8_t byte = 0;

		for (unsigned bit = 0; bit < 8; bit++) {
			uint64_t i = (off + k) * 8 + bit;

			if (i < q->msix_nr && q->mode == VFIO_IRQ_MODE_MSIX &&
			    vfio_vec_pending(&q->msix_vec[i]))
				byte |= (uint8_t)(1u << bit);
		}
		data[k] = byte;
	}
}

bool vfio_msix_bar_access(struct vfio_dev *d, unsigned bar, uint64_t off, bool is_write,
			  void *data, unsigned len)
{
	struct vfio_irqs *q = d->irqs;
	bool in_table, in_pba;

	if (!q || !q->msix_present)
		return false;
	in_table = bar == q->table_bar && off >= q->table_off && off + len <= q->table_off + table_len(q);
	in_pba = bar == q->pba_bar && off >= q->pba_off && off + len <= q->pba_off + pba_len(q);
	if (!in_table && !in_pba)
		return false;
	pthread_mutex_lock(&q->lock);
	if (in_table)
		table_access(q, off - q->table_off, is_write, data, len);
	else if (!is_write)
		pba_read(q, off - q->pba_off, data, len);
	pthread_mutex_unlock(&q->lock);
	return true;
}

/* Remove [h0, h1) from the pieces in @out (at most 3 stay: 2 holes, 1 area). */
static unsigned carve(uint64_t out[3][2], unsigned n, uint64_t h0, uint64_t h1)
{
	uint64_t res[4][2];
	unsigned m = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = out[i][0], b = a + out[i][1];

		if (h1 <= a || h0 >= b) {
			res[m][0] = a, res[m++][1] = b - a;
			continue;
		}
		if (h0 > a)
			res[m][0] = a, res[m++][1] = h0 - a;
		if (h1 < b)
			res[m][0] = h1, res[m++][1] = b - h1;
	}
	for (unsigned i = 0; i < m && i < 3; i++)
		out[i][0] = res[i][0], out[i][1] = res[i][1];
	return m < 3 ? m : 3;
}

unsigned vfio_msix_mappable(const struct vfio_dev *d, unsigned bar, uint64_t off,
			    uint64_t len, uint64_t out[3][2])
{
	const struct vfio_irqs *q = d->irqs;
	unsigned n = 1;

	out[0][0] = off;
	out[0][1] = len;
	if (!q || !q->msix_claimed)
		return n;
	/* Whole pages: the guest must trap on every table or PBA byte. The
	 * lengths are the server's claims, clamped so they cannot wrap. */
	if (bar == q->table_bar && q->table_off < off + len)
		n = carve(out, n, q->table_off & ~(PAGE - 1),
			  (q->table_off + table_len(q) + PAGE - 1) & ~(PAGE - 1));
	if (bar == q->pba_bar && q->pba_off < off + len)
		n = carve(out, n, q->pba_off & ~(PAGE - 1),
			  (q->pba_off + pba_len(q) + PAGE - 1) & ~(PAGE - 1));
	return n;
}

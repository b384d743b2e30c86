/*
 * MSI/MSI-X vectors of a vfio-user device: eventfds, MSI routes, irqfds,
 * pending bits, and the switch between INTx, MSI and MSI-X.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "irq_routing.h"
#include "log.h"
#include "vfio_int.h"
#include "vfio_msi.h"
#include "vm.h"

static void warn_once(struct vfio_irqs *q, const char *what, int err)
{
	if (atomic_exchange(&q->warned, true))
		return;
	log_warn("vfio-user %s: %s: %s (reported once)", q->d->name, what, strerror(-err));
}

void vfio_vec_init(struct vfio_vec *v)
{
	memset(v, 0, sizeof(*v));
	v->efd = -1;
	v->gsi = -1;
	v->masked = true;
}

static int irqfd_ctl(struct vfio_dev *d, int fd, unsigned gsi, bool bind)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd, .gsi = gsi, .flags = bind ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(d->vm->fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

bool vfio_vec_pending(struct vfio_vec *v)
{
	uint64_t count = 0;

	/* A bound vector's signals go straight to KVM: never pending. */
	if (v->irqfd)
		return false;
	if (v->efd >= 0 && read(v->efd, &count, sizeof(count)) == sizeof(count) && count)
		v->pending = true;
	return v->pending;
}

static void vec_unbind(struct vfio_irqs *q, struct vfio_vec *v)
{
	int err;

	if (!v->irqfd)
		return;
	/* KVM_IRQFD deassign waits for injections in flight: after it, the
	 * server's signals stay in the eventfd (the pending bit). */
	err = irqfd_ctl(q->d, v->efd, (unsigned)v->gsi, false);
	if (err)
		warn_once(q, "KVM_IRQFD deassign", err);
	v->irqfd = false;
}

static void vec_bind(struct vfio_irqs *q, struct vfio_vec *v)
{
	bool pending = vfio_vec_pending(v);
	int err = irqfd_ctl(q->d, v->efd, (unsigned)v->gsi, true);

	if (err) {
		warn_once(q, "KVM_IRQFD", err);
		return;
	}
	v->irqfd = true;
	v->pending = false;
	/* What came while the vector was masked is delivered on unmask. */
	if (pending) {
		err = irq_routing_signal_msi(q->rt, v->addr, v->data);
		if (err)
			warn_once(q, "KVM_SIGNAL_MSI", err);
		q->delivered_pending++;
	}
}

static bool vec_wants_irqfd(const struct vfio_vec *v, bool live)
{
	return live && v->efd >= 0 && !v->masked;
}

/* Route for a vector about to fire: new, or following its address/data. */
static bool vec_route(struct vfio_irqs *q, struct vfio_vec *v)
{
	int gsi;

	if (v->gsi >= 0)
		return irq_routing_update_msi(q->rt, (unsigned)v->gsi, v->addr, v->data) == 0;
	gsi = irq_routing_add_msi(q->rt, v->addr, v->data);
	if (gsi < 0) {
		q->route_errors++;
		warn_once(q, "no MSI route", gsi);
		return false;
	}
	v->gsi = gsi;
	return true;
}

void vfio_vecs_sync(struct vfio_irqs *q, struct vfio_vec *v, unsigned n, bool live)
{
	bool changed = false;
	int err;

	if (!q->rt)
		return;
	for (unsigned i = 0; i < n; i++)
		if (vec_wants_irqfd(&v[i], live))
			changed |= vec_route(q, &v[i]);
	/* One KVM_SET_GSI_ROUTING for all of them (none if nothing changed). */
	if (changed) {
		err = irq_routing_commit(q->rt);
		if (err) {
			q->route_errors++;
			warn_once(q, "KVM_SET_GSI_ROUTING", err);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (!vec_wants_irqfd(&v[i], live))
			vec_unbind(q, &v[i]);
		else if (!v[i].irqfd && v[i].gsi >= 0)
			vec_bind(q, &v[i]);
	}
}

void vfio_vecs_release(struct vfio_irqs *q, struct vfio_vec *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		vec_unbind(q, &v[i]);
		if (v[i].gsi >= 0 && q->rt)
			irq_routing_remove(q->rt, (unsigned)v[i].gsi);
		if (v[i].efd >= 0)
			close(v[i].efd);
		v[i].efd = v[i].gsi = -1;
	}
}

bool vfio_irqs_msix_live(const struct vfio_irqs *q)
{
	/* Message Control bit 14 (function mask) is bit 6 of byte 3. */
	return q->mode == VFIO_IRQ_MODE_MSIX && !(q->msix_cap.regs[3] & 0x40);
}

bool vfio_irqs_msi_live(const struct vfio_irqs *q)
{
	return q->mode == VFIO_IRQ_MODE_MSI;
}

static struct vfio_vec *mode_vecs(struct vfio_irqs *q, enum vfio_irq_mode mode, unsigned *n)
{
	*n = mode == VFIO_IRQ_MODE_MSI ? q->msi_nr : mode == VFIO_IRQ_MODE_MSIX ? q->msix_nr : 0;
	return mode == VFIO_IRQ_MODE_MSI ? q->msi_vec : q->msix_vec;
}

static uint32_t mode_index(enum vfio_irq_mode mode)
{
	return mode == VFIO_IRQ_MODE_MSI ? VFIO_PCI_MSI_IRQ_INDEX : VFIO_PCI_MSIX_IRQ_INDEX;
}

static void intx_set(struct vfio_irqs *q, bool on)
{
	struct vfio_dev *d = q->d;
	int err;

	if (!d->irqfd_wired || q->intx_off == !on)
		return;
	if (on) {
		err = vu_dev_set_irqs(d->c, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &d->irq_fd);
		if (!err)
			err = irqfd_ctl(d, d->irq_fd, d->gsi, true);
	} else {
		err = irqfd_ctl(d, d->irq_fd, d->gsi, false);
		if (!err)
			err = vu_dev_set_irqs(d->c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
					      VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
	}
	q->intx_off = !on;
	if (err && !vu_client_failed(d->c))
		warn_once(q, on ? "re-enabling INTx" : "disabling INTx", err);
}

/* MSI/MSI-X off: unbind, drop routes, then tell the server (count 0). */
static void leave_vectors(struct vfio_irqs *q)
{
	enum vfio_irq_mode old = q->mode;
	int fds[VFIO_MSIX_MAX_VECTORS];
	struct vfio_vec *v;
	unsigned n;
	int err;

	pthread_mutex_lock(&q->lock);
	v = mode_vecs(q, old, &n);
	q->mode = VFIO_IRQ_MODE_INTX;
	for (unsigned i = 0; i < n; i++) {
		vec_unbind(q, &v[i]);
		if (v[i].gsi >= 0)
			irq_routing_remove(q->rt, (unsigned)v[i].gsi);
		fds[i] = v[i].efd;
		v[i].gsi = v[i].efd = -1;
		v[i].pending = false;
	}
	if (n && q->rt && irq_routing_commit(q->rt) < 0)
		q->route_errors++;
	pthread_mutex_unlock(&q->lock);
	err = vu_dev_set_irqs(q->d->c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			      mode_index(old), 0, 0, NULL);
	if (err && !vu_client_failed(q->d->c))
		warn_once(q, "SET_IRQS (disable)", err);
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Servers that keep a vector table of their own (QEMU's device models) start
 * every vector masked and signal only unmasked ones. Masking is vigild's job
 * (unbound irqfds and pending bits), so the server's copy is opened once when
 * the vectors are handed over. A server without per-vector state may refuse:
 * that costs nothing.
 */
static void server_unmask(struct vfio_irqs *q, enum vfio_irq_mode mode, unsigned nr)
{
	int err = vu_dev_set_irqs(q->d->c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				  mode_index(mode), 0, nr, NULL);

	if (err && !vu_client_failed(q->d->c))
		log_debug("vfio-user %s: SET_IRQS unmask refused (%s); fine for a server that "
			  "does not mask vectors itself", q->d->name, strerror(-err));
}

/* MSI/MSI-X on: @nr eventfds to the server, then bind what may fire. */
static void enter_vectors(struct vfio_irqs *q, enum vfio_irq_mode mode, unsigned nr)
{
	int fds[VFIO_MSIX_MAX_VECTORS];
	struct vfio_vec *v;
	unsigned n = 0;
	int err = 0;

	for (; n < nr && !err; n++) {
		fds[n] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[n] < 0)
			err = -errno;
	}
	if (!err)
		err = vu_dev_set_irqs(q->d->c, VFIO_IRQ_SET_DATA_EVENTFD |
				      VFIO_IRQ_SET_ACTION_TRIGGER, mode_index(mode), 0, nr, fds);
	if (!err)
		server_unmask(q, mode, nr);
	if (err) {
		/* The guest sees the mode enabled; the device cannot interrupt. */
		if (!vu_client_failed(q->d->c))
			warn_once(q, mode == VFIO_IRQ_MODE_MSI ? "enabling MSI" : "enabling MSI-X",
				  err);
		for (unsigned i = 0; i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		n = 0;
	}
	pthread_mutex_lock(&q->lock);
	if (mode == VFIO_IRQ_MODE_MSI)
		q->msi_nr = n;
	q->mode = mode;
	v = mode_vecs(q, mode, &nr);
	for (unsigned i = 0; i < n && i < nr; i++)
		v[i].efd = fds[i];
	vfio_vecs_sync(q, v, nr, mode == VFIO_IRQ_MODE_MSI ? vfio_irqs_msi_live(q)
							    : vfio_irqs_msix_live(q));
	pthread_mutex_unlock(&q->lock);
}

void vfio_irqs_set_mode(struct vfio_irqs *q, enum vfio_irq_mode mode, unsigned nr)
{
	pthread_mutex_lock(&q->mode_lock);
	if (q->mode != mode) {
		if (q->mode != VFIO_IRQ_MODE_INTX)
			leave_vectors(q);
		if (mode == VFIO_IRQ_MODE_INTX) {
			intx_set(q, true);
		} else {
			intx_set(q, false);
			enter_vectors(q, mode, nr);
		}
	}
	pthread_mutex_unlock(&q->mode_lock);
}

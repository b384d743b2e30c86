/*
 * MSI and MSI-X for vfio-user devices (internal to server/vfio).
 *
 * vigild emulates what the guest programs: the MSI capability's address,
 * data, mask and pending registers, and the MSI-X capability's Message
 * Control plus its vector table and PBA (trapped in the BAR, never forwarded
 * to the server and never mapped). The server only ever sees eventfds: one
 * per vector, handed over with SET_IRQS when the guest enables MSI or MSI-X.
 *
 * A vector that can fire (mode enabled, vector and function unmasked) has an
 * MSI route (irq_routing.h) and its eventfd is bound to it with KVM_IRQFD, so
 * the server's signal goes straight into KVM. A masked vector's eventfd is
 * unbound: what the server signals stays in the eventfd's counter, and that
 * counter is the pending bit. vigild reads it when the guest reads the PBA (or
 * MSI pending register) and when the vector is unmasked, delivering a pending
 * vector with KVM_SIGNAL_MSI. The guest cannot tell this from a pending bit
 * set at signal time, and it needs no watcher thread or reactor event.
 *
 * INTx, MSI and MSI-X are exclusive: enabling MSI or MSI-X unbinds the INTx
 * irqfd and tells the server (SET_IRQS INTx, count 0); disabling brings INTx
 * back.
 *
 * Threads: attach and detach run in the reactor before the vCPUs start and
 * after they are joined; everything else runs in vCPU threads (config space
 * and BAR accesses). @lock guards the state and is never held across a
 * message to the server; @mode_lock serialises mode changes (enable/disable),
 * which talk to the server.
 */
#ifndef VIGIL_VFIO_MSI_H
#define VIGIL_VFIO_MSI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vfio_dev;
struct irq_routing;

#define VFIO_MSI_MAX_VECTORS   32
#define VFIO_MSIX_MAX_VECTORS  256   /* the guest sees at most this table size */
#define VFIO_MAX_CAPS          48    /* (256 - 64) / 4 */

enum vfio_irq_mode { VFIO_IRQ_MODE_INTX, VFIO_IRQ_MODE_MSI, VFIO_IRQ_MODE_MSIX };

struct vfio_vec {
	uint64_t addr;
	uint32_t data;
	bool masked;             /* the vector's own mask bit */
	bool pending;
	int efd;                 /* -1 unless the mode is enabled */
	int gsi;                 /* MSI route, -1: none yet */
	bool irqfd;              /* efd bound to gsi */
};

/* An emulated capability: the bytes the guest sees and which bits it may set. */
struct vfio_emu_cap {
	unsigned off, len;       /* len: whole dwords */
	uint8_t regs[24];
	uint8_t wmask[24];
};

struct vfio_cap {
	uint8_t off, id;
	bool keep;               /* in the chain the guest walks */
};

struct vfio_irqs {
	pthread_mutex_t lock;
	pthread_mutex_t mode_lock;
	struct vfio_dev *d;
	struct irq_routing *rt;  /* NULL: no MSI (reason logged at attach) */
	enum vfio_irq_mode mode;
	bool intx_off;           /* INTx irqfd unbound while MSI/MSI-X is on */

	struct vfio_cap caps[VFIO_MAX_CAPS];
	unsigned nr_caps;
	bool have_cap_list;

	/* MSI (capability 0x05) */
	bool msi_present, msi_64, msi_pvm;
	struct vfio_emu_cap msi_cap;
	unsigned msi_max;        /* vectors the server takes (power of two) */
	unsigned msi_nr;         /* vectors enabled */
	struct vfio_vec msi_vec[VFIO_MSI_MAX_VECTORS];

	/* MSI-X (capability 0x11) */
	bool msix_present;       /* valid and usable */
	bool msix_claimed;       /* table/PBA pages kept out of mmap (even if invalid) */
	struct vfio_emu_cap msix_cap;
	unsigned msix_nr;        /* table size the guest sees */
	unsigned msix_server_nr; /* table size in the server's capability */
	unsigned table_bar, pba_bar;
	uint64_t table_off, pba_off;
	struct vfio_vec *msix_vec;

	/* counters (under lock) */
	uint64_t delivered_pending, route_errors;
	atomic_bool warned;      /* one log line per device for KVM/server errors */
};

/* vfio_msi_cap.c: capability list, MSI/MSI-X capability emulation. */
/* Before BAR setup: read the server's configuration space and parse it
 * (reactor thread). */
int vfio_irqs_probe(struct vfio_dev *d);
/* The pure step of the probe: d->irqs from the server's 256-byte
 * configuration space @cfg (NULL: unreadable, no capabilities), the list
 * walked and MSI/MSI-X parsed. No I/O, no VM; q->rt is left NULL. 0 or
 * -ENOMEM. */
int vfio_irqs_parse(struct vfio_dev *d, const uint8_t *cfg);
/* After BAR setup and INTx: validate MSI-X against the BARs, ask the server
 * for its MSI/MSI-X vector counts, hide what cannot work. */
void vfio_irqs_setup(struct vfio_dev *d);
/* The pure step of the setup: size MSI for @msi_count server vectors, check
 * MSI-X against d's BARs and size it for @msix_count (0: the server takes no
 * eventfds), hide what cannot work. No I/O. */
void vfio_irqs_validate(struct vfio_irqs *q, unsigned msi_count, unsigned msix_count);
/* After the vCPUs are joined: unbind, drop routes, close eventfds. NULL ok. */
void vfio_irqs_free(struct vfio_dev *d);
/* Config space hooks (vCPU threads). _read/_write return true when vigild
 * answered the access itself; _patch fixes a forwarded read (the capability
 * chain as the guest sees it). */
bool vfio_irqs_cfg_read(struct vfio_dev *d, unsigned off, void *data, unsigned len);
void vfio_irqs_cfg_patch(struct vfio_dev *d, unsigned off, void *data, unsigned len);
bool vfio_irqs_cfg_write(struct vfio_dev *d, unsigned off, const void *data, unsigned len);

/* vfio_msix.c: the vector table and PBA in a BAR. */
/* vCPU thread: true if [off, off+len) of BAR @bar is the table or PBA (and
 * was handled). */
bool vfio_msix_bar_access(struct vfio_dev *d, unsigned bar, uint64_t off, bool is_write,
			  void *data, unsigned len);
/* The parts of [off, off+len) in BAR @bar that may be mapped (page granular,
 * outside the table and PBA pages). Fills @out with up to 3 [offset, size)
 * pairs and returns how many. */
unsigned vfio_msix_mappable(const struct vfio_dev *d, unsigned bar, uint64_t off,
			    uint64_t len, uint64_t out[3][2]);

/* vfio_msi_vec.c: vectors, routes, irqfds, modes. Caller holds q->lock
 * unless noted. */
void vfio_vec_init(struct vfio_vec *v);
/* Bring @n vectors in line with whether they may fire now (@live: mode on
 * and not function-masked): routes, one commit, irqfds, pending delivery. */
void vfio_vecs_sync(struct vfio_irqs *q, struct vfio_vec *v, unsigned n, bool live);
/* The device is going away: unbind, forget routes (no commit), close. */
void vfio_vecs_release(struct vfio_irqs *q, struct vfio_vec *v, unsigned n);
/* Pending bit of a vector that is not bound (reads its eventfd). */
bool vfio_vec_pending(struct vfio_vec *v);
/* Switch the interrupt mode (takes mode_lock and lock itself). @nr vectors
 * for MSI/MSI-X. */
void vfio_irqs_set_mode(struct vfio_irqs *q, enum vfio_irq_mode mode, unsigned nr);
bool vfio_irqs_msix_live(const struct vfio_irqs *q);
bool vfio_irqs_msi_live(const struct vfio_irqs *q);

#endif

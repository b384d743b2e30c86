/*
 * vfio-user devices of a VM: spec parsing, connection and enumeration, DMA
 * windows over guest RAM, the DMA policy, INTx through KVM_IRQFD.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "memslot.h"
#include "vfio_int.h"
#include "vfio_msi.h"
#include "vm.h"

#define VFIO_DEFAULT_TIMEOUT_MS 5000
#define VFIO_MAX_DEVICES 8

static int spec_opt(struct vfio_dev_spec *o, const char *key, const char *val,
		    char *why, size_t why_len)
{
	char *end;

	if (!strcmp(key, "socket")) {
		if (!*val || strlen(val) >= sizeof(o->socket))
			goto bad;
		strcpy(o->socket, val);
	} else if (!strcmp(key, "trace-dma")) {
		if (strcmp(val, "on") && strcmp(val, "off"))
			goto bad;
		o->trace_dma = !strcmp(val, "on");
	} else if (!strcmp(key, "dma")) {
		if (strcmp(val, "fd") && strcmp(val, "msg"))
			goto bad;
		o->dma_msg = !strcmp(val, "msg");
	} else if (!strcmp(key, "timeout")) {
		long ms = strtol(val, &end, 10);

		if (*end || ms < 1 || ms > 600000)
			goto bad;
		o->timeout_ms = (int)ms;
	} else {
		snprintf(why, why_len, "--device: unknown option '%s'", key);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(why, why_len, "--device: bad value '%s' for %s", val, key);
	return -EINVAL;
}

int vfio_parse_spec(const char *arg, struct vfio_dev_spec *out, char *why, size_t why_len)
{
	char buf[512], *save = NULL, *tok;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->timeout_ms = VFIO_DEFAULT_TIMEOUT_MS;
	if (strlen(arg) >= sizeof(buf) || strncmp(arg, "vfio-user,", 10)) {
		snprintf(why, why_len, "--device: expected vfio-user,socket=PATH[,...]");
		return -EINVAL;
	}
	strcpy(buf, arg + 10);
	for (tok = strtok_r(buf, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(why, why_len, "--device: option '%s' needs a value", tok);
			return -EINVAL;
		}
		*eq = '\0';
		err = spec_opt(out, tok, eq + 1, why, why_len);
	}
	if (!err && !out->socket[0]) {
		snprintf(why, why_len, "--device: socket=PATH is required");
		err = -EINVAL;
	}
	return err;
}

/* Built-in page policy: the memslot flags introspection set on guest RAM. */
static int memslot_policy(struct vm *vm, uint64_t gpa, uint64_t len, int dir)
{
	uint64_t end = gpa + len, hva;
	uint32_t flags;

	for (uint64_t p = gpa & ~4095ULL; p < end; p += 4096) {
		if (memslots_lookup(&vm->slots, p, &flags, &hva) < 0)
			return -EFAULT;
		if (dir == VFIO_DMA_FROM_DEVICE && (flags & MEMSLOT_READONLY))
			return -EACCES;
		if (flags & MEMSLOT_ABSENT)
			return -EACCES;
	}
	return 0;
}

static int dma_policy(struct vfio_dev *d, uint64_t gpa, uint32_t len, int dir)
{
	struct vfio_set *s = d->set;
	int err;

	if (!d->spec.trace_dma)
		return 0;
	log_debug("vfio-user %s: DMA %s gpa %#llx len %u", d->name,
		  dir == VFIO_DMA_TO_DEVICE ? "read" : "write", (unsigned long long)gpa, len);
	if (s->dma_check)
		err = s->dma_check(s->dma_check_opaque, d->id, gpa, len, dir);
	else
		err = memslot_policy(d->vm, gpa, len, dir);
	if (err && atomic_fetch_add(&d->dma_denied, 1) < 8)
		log_warn("vfio-user %s: DMA %s of %u bytes at gpa %#llx denied: %s", d->name,
			 dir == VFIO_DMA_TO_DEVICE ? "read" : "write", len,
			 (unsigned long long)gpa, strerror(-err));
	return err;
}

static int dev_dma_read(void *opaque, uint64_t addr, void *buf, uint32_t len)
{
	struct vfio_dev *d = opaque;
	int err = dma_policy(d, addr, len, VFIO_DMA_TO_DEVICE);

	if (!err)
		err = vm_read_phys(d->vm, addr, buf, len);
	if (!err)
		atomic_fetch_add(&d->dma_reads, 1);
	return err;
}

static int dev_dma_write(void *opaque, uint64_t addr, const void *buf, uint32_t len)
{
	struct vfio_dev *d = opaque;
	int err = dma_policy(d, addr, len, VFIO_DMA_FROM_DEVICE);

	if (!err)
		err = vm_write_phys(d->vm, addr, buf, len);
	if (!err)
		atomic_fetch_add(&d->dma_writes, 1);
	return err;
}

static void dev_failed(void *opaque, int err, const char *why)
{
	struct vfio_dev *d = opaque;

	(void)err;
	(void)why;
	atomic_store(&d->failed, true);
}

static const struct vu_client_ops dev_client_ops = {
	.dma_read = dev_dma_read, .dma_write = dev_dma_write, .failed = dev_failed,
};

/* Guest RAM as DMA windows: low RAM at memfd offset 0, high RAM after it. */
static int dma_map_ram(struct vfio_dev *d)
{
	struct guest_ram *ram = &d->vm->ram;
	uint64_t low = ram->size < VM_MMIO_HOLE_START ? ram->size : VM_MMIO_HOLE_START;
	bool use_fd = !d->spec.dma_msg && !d->spec.trace_dma &&
		      vu_client_caps(d->c)->max_msg_fds > 0;
	int fd = use_fd ? ram->memfd : -1;
	uint32_t rw = VU_DMA_READ | VU_DMA_WRITE;
	int err = 0;

	if (!ram->size)
		return 0;
	if (vu_client_caps(d->c)->max_dma_maps < (ram->size > low ? 2u : 1u))
		return -ENOSPC;
	err = vu_dev_dma_map(d->c, 0, low, rw, fd, 0);
	if (!err && ram->size > low)
		err = vu_dev_dma_map(d->c, VM_MMIO_HOLE_END, ram->size - low, rw, fd, low);
	return err;
}

static int wire_intx(struct vfio_dev *d)
{
	struct vu_irq_info ii;
	struct kvm_irqfd irqfd = { .gsi = d->gsi };
	uint8_t pin = 0;
	int err;

	if (d->info.num_irqs <= VFIO_PCI_INTX_IRQ_INDEX)
		return 0;
	/* A function without an interrupt pin has no INTx, whatever the IRQ
	 * info says (QEMU's server reports one INTx for every device). */
	err = vu_dev_region_read(d->c, VFIO_PCI_CONFIG_REGION_INDEX, 0x3d, &pin, 1);
	if (err || !pin)
		return err;
	err = vu_dev_get_irq_info(d->c, VFIO_PCI_INTX_IRQ_INDEX, &ii);
	if (err || ii.count == 0 || !(ii.flags & VFIO_IRQ_INFO_EVENTFD))
		return err;
	if (!d->vm->cfg.irqchip) {
		log_warn("vfio-user %s: no in-kernel irqchip: no interrupts", d->name);
		return 0;
	}
	if (vu_client_caps(d->c)->max_msg_fds == 0) {
		log_warn("vfio-user %s: the server takes no descriptors: no interrupts", d->name);
		return 0;
	}
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)d->irq_fd;
	if (ioctl(d->vm->fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	d->irqfd_wired = true;
	return vu_dev_set_irqs(d->c, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			       VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &d->irq_fd);
}

/* Handshake and enumeration; a failure fails the device, not the VM. */

/* "none", or how many vectors the guest can enable. */
static const char *irq_summary(const struct vfio_dev *d, bool msix, char *buf, size_t len)
{
	const struct vfio_irqs *q = d->irqs;

	if (!q || !(msix ? q->msix_present : q->msi_present))
		return "none";
	snprintf(buf, len, "%u vector%s", msix ? q->msix_nr : q->msi_max,
		 (msix ? q->msix_nr : q->msi_max) == 1 ? "" : "s");
	return buf;
}
static void dev_enumerate(struct vfio_dev *d)
{
	char msi[24], msix[24];
	const char *step = "VERSION";
	int err;

	err = vu_client_negotiate(d->c);
	if (!err) {
		step = "DEVICE_GET_INFO";
		err = vu_dev_get_info(d->c, &d->info);
	}
	/* Start the VM with the device in its reset state, as a machine would. */
	if (!err && (d->info.flags & VFIO_DEVICE_FLAGS_RESET) && vu_dev_reset(d->c) < 0)
		log_warn("vfio-user %s: DEVICE_RESET refused; going on", d->name);
	if (!err && d->info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		step = "DEVICE_GET_INFO (no PCI config region)";
		err = -ENODEV;
	}
	if (!err && (step = "capabilities", err = vfio_irqs_probe(d)) == 0 &&
	    (step = "BAR setup", err = vfio_pci_setup_bars(d)) == 0 &&
	    (step = "DMA_MAP", err = dma_map_ram(d)) == 0)
		step = "SET_IRQS", err = wire_intx(d);
	if (!err)
		vfio_irqs_setup(d);   /* MSI/MSI-X: problems are logged, INTx stays */
	if (err) {
		char why[96];

		snprintf(why, sizeof(why), "enumeration failed at %s", step);
		vu_client_fail(d->c, err, why);
		atomic_store(&d->failed, true);
		return;
	}
	log_info("vfio-user %s: PCI 00:%02x.0, %u regions, %u IRQ types, INTx %s, MSI %s, "
		 "MSI-X %s, DMA %s%s", d->name, d->slot, d->info.num_regions, d->info.num_irqs,
		 d->irqfd_wired ? "wired" : "none", irq_summary(d, false, msi, sizeof(msi)),
		 irq_summary(d, true, msix, sizeof(msix)),
		 d->spec.dma_msg || d->spec.trace_dma ? "by message" : "by mmap",
		 d->spec.trace_dma ? ", traced" : "");
}

static int dev_attach(struct vfio_set *s, struct vfio_dev *d, char *why, size_t why_len)
{
	struct vu_client_config cfg = {
		.name = d->name, .call_timeout_ms = d->spec.timeout_ms,
		.ops = &dev_client_ops, .opaque = d,
	};
	struct vu_tran *t;
	int fd, err, slot;

	fd = vu_tran_connect_unix(d->spec.socket);
	if (fd < 0) {
		snprintf(why, why_len, "--device: cannot connect to %s: %s", d->spec.socket,
			 strerror(-fd));
		return fd;
	}
	err = vu_tran_fd_new(&t, fd, fd);
	if (err) {
		close(fd);
		return err;
	}
	err = vu_client_new(&d->c, t, &cfg);
	if (err)
		return err;
	slot = pci_host_add(s->host, &vfio_pci_ops, d);
	if (slot < 0) {
		snprintf(why, why_len, "--device: no free PCI slot");
		return slot;
	}
	d->slot = (unsigned)slot;
	dev_enumerate(d);
	return 0;
}

int vfio_set_new(struct vfio_set **out, struct vm *vm, const char *const *args,
		 unsigned n, char *why, size_t why_len)
{
	struct vfio_set *s;
	int err = 0;

	if (n > VFIO_MAX_DEVICES) {
		snprintf(why, why_len, "--device: at most %d devices", VFIO_MAX_DEVICES);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dev = calloc(n ? n : 1, sizeof(*s->dev)))) {
		free(s);
		return -ENOMEM;
	}
	s->vm = vm;
	s->next_mmio = VM_MMIO_HOLE_START;
	s->next_pio = VFIO_PIO_BASE;
	err = pci_host_new(&s->host, vm);
	for (unsigned i = 0; i < n && !err; i++) {
		struct vfio_dev *d = &s->dev[i];

		d->vm = vm;
		d->set = s;
		d->id = i;
		d->irq_fd = -1;
		d->gsi = VFIO_GSI_BASE + i;
		snprintf(d->name, sizeof(d->name), "dev%u", i);
		err = vfio_parse_spec(args[i], &d->spec, why, why_len);
		s->nr = i + 1;
		if (!err)
			err = dev_attach(s, d, why, why_len);
	}
	if (err) {
		vfio_set_free(&s);
		return err;
	}
	*out = s;
	return 0;
}

static void dev_detach(struct vfio_dev *d)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fd, .gsi = d->gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };

	vu_client_free(&d->c);
	vfio_irqs_free(d);
	vfio_pci_teardown_bars(d);
	if (d->irqfd_wired)
		ioctl(d->vm->fd, KVM_IRQFD, &irqfd);
	if (d->irq_fd >= 0)
		close(d->irq_fd);
}

void vfio_set_free(struct vfio_set **sp)
{
	struct vfio_set *s = *sp;

	if (!s)
		return;
	for (unsigned i = 0; i < s->nr; i++)
		dev_detach(&s->dev[i]);
	pci_host_free(&s->host);
	free(s->dev);
	free(s);
	*sp = NULL;
}

void vfio_set_dma_check(struct vfio_set *s, vfio_dma_check_fn fn, void *opaque)
{
	s->dma_check_opaque = opaque;
	s->dma_check = fn;
}

unsigned vfio_set_count(const struct vfio_set *s)
{
	return s->nr;
}

struct vfio_dev *vfio_set_dev(struct vfio_set *s, unsigned i)
{
	return i < s->nr ? &s->dev[i] : NULL;
}

bool vfio_dev_failed(const struct vfio_dev *d)
{
	return atomic_load(&((struct vfio_dev *)d)->failed);
}

void vfio_dev_stats(const struct vfio_dev *d, struct vfio_dev_stats *out)
{
	struct vfio_dev *m = (struct vfio_dev *)d;

	out->dma_reads = atomic_load(&m->dma_reads);
	out->dma_writes = atomic_load(&m->dma_writes);
	out->dma_denied = atomic_load(&m->dma_denied);
	out->region_calls = atomic_load(&m->region_calls);
}

const struct vfio_dev_spec *vfio_dev_spec(const struct vfio_dev *d)
{
	return &d->spec;
}

unsigned vfio_dev_slot(const struct vfio_dev *d)
{
	return d->slot;
}

unsigned vfio_dev_gsi(const struct vfio_dev *d)
{
	return d->gsi;
}

uint64_t vfio_dev_bar(const struct vfio_dev *d, unsigned i)
{
	return i < VFIO_NR_BARS ? d->bar[i].base : 0;
}

/*
 * vigild: set up KVM and a VM from the command line, run the reactor in this
 * thread until the VM stops, shut down in order, report why, exit with status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "capabilities.h"
#include "cmdline.h"
#include "exitcodes.h"
#include "guest_loader.h"
#include "guest_ports.h"
#include "kvm_host.h"
#include "log.h"
#include "privileges.h"
#include "reactor.h"
#include "vcpu.h"
#include "vm.h"
#ifdef VIGIL_HAVE_KVMI
#include "kvmi.h"
#endif
#ifdef VIGIL_HAVE_VFIO
#include "vfio_dev.h"
#endif
#ifdef VIGIL_HAVE_PLUGIN
#include "plugin.h"
#endif

struct vigild {
	struct vigild_opts opts;
	struct kvm_host kvm;
	struct reactor reactor;
	struct vm *vm;
	struct guest_ports ports;
	FILE *console;
	char why[256];
#ifdef VIGIL_HAVE_KVMI
	struct kvmi *kvmi;        /* KVMI: --introspect PATH */
#endif
#ifdef VIGIL_HAVE_VFIO
	struct vfio_set *vfio;    /* VFIO: --device entries */
#endif
};

static int check_host_memory(uint64_t mem)
{
	struct sysinfo si;
	uint64_t total;

	if (sysinfo(&si) < 0)
		return 0;
	total = (uint64_t)si.totalram * si.mem_unit;
	if (mem > total) {
		log_err("--mem %llu MiB exceeds this host's memory (%llu MiB)",
			(unsigned long long)(mem >> 20), (unsigned long long)(total >> 20));
		return -ENOMEM;
	}
	return 0;
}

static int open_console(struct vigild *d)
{
	const char *c = d->opts.console;

	if (!c || !strcmp(c, "-")) {
		d->console = stdout;
	} else if (!strcmp(c, "log")) {
		d->console = NULL;
	} else {
		d->console = fopen(c, "we");
		if (!d->console) {
			log_err("cannot open console file %s: %s", c, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* Load the ELF and build long mode. Returns an exit status on failure. */
static int load_guest(struct vigild *d)
{
	int err = guest_load_elf(d->vm, d->opts.guest, d->why, sizeof(d->why));

	if (!err)
		return 0;
	log_err("bad guest %s: %s", d->opts.guest, d->why);
	return err == -E2BIG ? VIGILD_EXIT_USAGE : VIGILD_EXIT_DATAERR;
}

static int create_vm(struct vigild *d)
{
	struct vm_config cfg = {
		.mem_size = d->opts.mem_size,
		.nr_vcpus = d->opts.nr_vcpus,
		.irqchip = true,
		.unhandled_read = 0xff,
	};
	int err;

	if (cfg.mem_size && cfg.mem_size < VM_MIN_MEM) {
		log_err("--mem %llu KiB is too small: a guest needs at least %llu MiB",
			(unsigned long long)(cfg.mem_size >> 10),
			(unsigned long long)(VM_MIN_MEM >> 20));
		return VIGILD_EXIT_USAGE;
	}
	if (check_host_memory(cfg.mem_size) < 0)
		return VIGILD_EXIT_USAGE;
	err = kvm_host_open(&d->kvm, d->opts.kvm_path, d->why, sizeof(d->why));
	if (err) {
		log_err("%s", d->why);
		return VIGILD_EXIT_UNAVAILABLE;
	}
	err = vm_create(&d->vm, &d->kvm, &cfg, d->why, sizeof(d->why));
	if (err) {
		log_err("%s", d->why);
		return err == -EINVAL ? VIGILD_EXIT_USAGE : VIGILD_EXIT_OSERR;
	}
	return 0;
}

#if defined(VIGIL_HAVE_KVMI) && defined(VIGIL_HAVE_VFIO)
/* Traced devices' DMA follows the introspection tool's page policy and
 * raises DMA events (docs/introspection-protocol.md). */
static int dma_introspect(struct vigild *d)
{
	for (unsigned i = 0; i < vfio_set_count(d->vfio); i++) {
		struct vfio_dev *dev = vfio_set_dev(d->vfio, i);
		int err;

		if (!vfio_dev_spec(dev)->trace_dma)
			continue;
		err = kvmi_dma_add_device(d->kvmi, i, vfio_dev_slot(dev),
					  vfio_dev_spec(dev)->timeout_ms);
		if (err)
			return err;
	}
	vfio_set_dma_check(d->vfio, kvmi_dma_check_hook, d->kvmi);
	return 0;
}
#endif

static int run_guest(struct vigild *d)
{
	int status, err;

	status = create_vm(d);
	if (!status)
		status = load_guest(d);
	if (status)
		return status;
	err = guest_ports_register(&d->ports, d->vm, d->console);
	if (!err)
		err = reactor_attach_vm(&d->reactor, d->vm);
	/* KVMI: attach the introspection socket here (d->opts.introspect). */
#ifdef VIGIL_HAVE_KVMI
	if (!err && d->opts.introspect) {
		struct kvmi_config kc = { .path = d->opts.introspect,
					  .answer_timeout_ms = d->opts.introspect_timeout_ms };

		err = kvmi_new(&d->kvmi, d->vm, d->reactor.base, &kc);
		if (err) {
			log_err("--introspect %s: %s", d->opts.introspect, strerror(-err));
			return VIGILD_EXIT_UNAVAILABLE;
		}
	}
#endif
	/* VFIO: attach --device entries here (d->opts.devices). */
#ifdef VIGIL_HAVE_VFIO
	if (!err && d->opts.nr_devices) {
		err = vfio_set_new(&d->vfio, d->vm, d->opts.devices, d->opts.nr_devices,
				   d->why, sizeof(d->why));
		if (err) {
			log_err("%s", d->why);
			return err == -EINVAL ? VIGILD_EXIT_USAGE : VIGILD_EXIT_UNAVAILABLE;
		}
	}
#endif
#if defined(VIGIL_HAVE_KVMI) && defined(VIGIL_HAVE_VFIO)
	/* KVMI: device DMA follows the introspection tool's page policy. */
	if (!err && d->kvmi && d->vfio)
		err = dma_introspect(d);
#endif
	if (err) {
		log_err("cannot set up the VM: %s", strerror(-err));
		return VIGILD_EXIT_SOFTWARE;
	}
	/* Everything privileged is done: /dev/kvm and the sockets are open. */
	if (privileges_drop(d->why, sizeof(d->why)) < 0) {
		log_err("%s", d->why);
		return VIGILD_EXIT_OSERR;
	}
	err = vm_start(d->vm);
	if (err) {
		log_err("cannot start the VM: %s", strerror(-err));
		return VIGILD_EXIT_SOFTWARE;
	}
	if (reactor_run(&d->reactor) < 0)
		vm_request_stop(d->vm, VIGILD_EXIT_SOFTWARE, "event loop failed");
	vm_shutdown(d->vm);
	status = d->vm->stop.status;
	if (status == 0)
		log_info("%s", d->vm->stop.reason);
	else
		log_err("%s (exit status %d)", d->vm->stop.reason, status);
	return status;
}

static int print_capabilities(void)
{
	return capabilities_print(stdout) < 0 ? VIGILD_EXIT_SOFTWARE : 0;
}

int main(int argc, char **argv)
{
	struct vigild d;
	int status;

	memset(&d, 0, sizeof(d));
	d.kvm.fd = -1;
	if (cmdline_wants_capabilities(argc, argv))
		return print_capabilities();
	if (cmdline_parse(argc, argv, &d.opts) < 0)
		return VIGILD_EXIT_USAGE;
	if (d.opts.help) {
		cmdline_usage(stdout);
		return 0;
	}
	if (d.opts.version) {
		printf("vigild %s\n", VIGIL_VERSION);
		return 0;
	}
	vg_log_set_level((enum vg_log_level)d.opts.log_level);
	/* MSI-X vectors and vCPUs are descriptors: take what the hard limit allows. */
	long nofile = privileges_raise_nofile();

	if (nofile < 0)
		log_warn("cannot raise the open-file limit: %s", strerror((int)-nofile));
	if (vcpu_signal_setup() < 0 || reactor_init(&d.reactor) < 0) {
		log_err("cannot set up signal handling or the event loop");
		return VIGILD_EXIT_OSERR;
	}
	if (open_console(&d) < 0) {
		status = VIGILD_EXIT_USAGE;
	} else if (d.opts.plugin) {
#ifdef VIGIL_HAVE_PLUGIN
		status = plugin_run(&d.opts, &d.kvm, &d.reactor, &d.vm);
#else
		log_err("--plugin: the plugin server is not built into this vigild");
		status = VIGILD_EXIT_UNAVAILABLE;
#endif
	} else {
		status = run_guest(&d);
	}
#ifdef VIGIL_HAVE_VFIO
#ifdef VIGIL_HAVE_KVMI
	kvmi_dma_shutdown(d.kvmi);   /* device threads waiting for the tool: denied */
#endif
	vfio_set_free(&d.vfio);   /* VFIO: after the vCPUs are joined, before vm_free */
#endif
#ifdef VIGIL_HAVE_KVMI
	kvmi_free(&d.kvmi);       /* KVMI: after the vCPUs are joined, before vm_free */
#endif
	vm_free(d.vm);
	reactor_fini(&d.reactor);
	kvm_host_close(&d.kvm);
	if (d.console && d.console != stdout)
		fclose(d.console);
	return status;
}

/*
 * Fuzz target: attaching a vfio-user device to a real VM, as vigild does for
 * --device (vfio_set_new: server/vfio/vfio_dev.c, vfio_pci.c, vfio_msi_cap.c
 * over the client), then detaching it.
 *
 * Input: the server's byte stream, as for fuzz_vfio_client (see
 * vfio_client_env.h), except that attached descriptors are 64 KiB memfds, so
 * a region info with VFIO_REGION_INFO_FLAG_MMAP really gets mapped into the
 * VM. vigild connects to the target's UNIX socket and enumerates: VERSION,
 * device info, reset, the config space dword by dword (capabilities), region
 * info and BAR registers of every BAR, BAR placement in the MMIO hole or the
 * ports (mapped areas become memslots), DMA_MAP of guest RAM with its memfd,
 * INTx (pin, IRQ info, an irqfd and SET_IRQS), MSI/MSI-X setup against the
 * VM's GSI routing. Odd-length inputs attach with trace-dma=on (DMA by
 * message, every access checked by the page policy). Then a guest's first
 * look, through the PCI host ports and the BARs as a vCPU would: the config
 * header, the capability chain, MSI and MSI-X switched on (eventfds to the
 * server, routes and irqfds in KVM), an MSI-X entry written, masked, off,
 * the first dword of each MMIO BAR. Call timeout 100 ms.
 *
 * One VM (4 MiB, irqchip, vCPUs never run) serves every input. Checked for
 * every input: vfio_set_new succeeds and the VM is never asked to stop (a
 * bad server fails its device, never the VM); a device that did not fail has its BARs inside the MMIO hole
 * below the IOAPIC or in ports 0x1000-0xffff, aligned to their size, not
 * overlapping; after vfio_set_free the VM is as before: the same memslots,
 * nothing left on the MMIO and port buses, no MSI route, no descriptor
 * left open.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "irq_routing.h"
#include "kvm_host.h"
#include "vfio_client_env.h"
#include "vfio_dev.h"
#include "vm.h"

#define PIO_BASE 0x1000u
#define MMIO_END 0xfec00000ull

static struct kvm_host kvm;
static struct vm *vm;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static unsigned slots_before;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vm_config cfg = { .mem_size = 4 << 20, .nr_vcpus = 1, .irqchip = true };
	char why[256];

	(void)argc;
	(void)argv;
	vfio_env_init();
	FUZZ_CHECK(kvm_host_open(&kvm, NULL, why, sizeof(why)) == 0, "%s", why);
	FUZZ_CHECK(vm_create(&vm, &kvm, &cfg, why, sizeof(why)) == 0, "%s", why);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/vigil-fuzz-vfio.%d", (int)getpid());
	slots_before = memslots_used(&vm->slots);
	vfio_env_check_fds("");   /* the baseline, VM included */
	return 0;
}

static int listen_here(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	FUZZ_CHECK(l >= 0, "socket");
	unlink(addr.sun_path);
	FUZZ_CHECK(bind(l, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(l, 1) == 0,
		   "cannot listen on %s", addr.sun_path);
	return l;
}

/* BARs of a working device: in the windows, aligned, disjoint. */
static void check_bars(struct vfio_dev *d)
{
	uint64_t base[6];

	for (unsigned i = 0; i < 6; i++) {
		base[i] = vfio_dev_bar(d, i);
		if (!base[i])
			continue;
		FUZZ_CHECK((base[i] >= VM_MMIO_HOLE_START && base[i] < MMIO_END) ||
			   (base[i] >= PIO_BASE && base[i] < 0x10000), "BAR%u at %#llx", i,
			   (unsigned long long)base[i]);
		for (unsigned k = 0; k < i; k++)
			FUZZ_CHECK(base[k] != base[i], "BAR%u and BAR%u both at %#llx", k, i,
				   (unsigned long long)base[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[160], why[256] = "";
	const char *args[1] = { spec };
	struct vfio_env_server *srv;
	struct vfio_set *set = NULL;
	struct irq_routing_stats st;
	int l = listen_here(), err;

	srv = vfio_env_server_start(-1, l, data, size, true);
	/* Odd lengths: DMA by message, checked by the page policy. */
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,timeout=100%s", addr.sun_path,
		 size & 1 ? ",trace-dma=on" : "");
	err = vfio_set_new(&set, vm, args, 1, why, sizeof(why));
	FUZZ_CHECK(err == 0, "vfio_set_new: %d (%s)", err, why);
	if (!vfio_dev_failed(vfio_set_dev(set, 0)))
		check_bars(vfio_set_dev(set, 0));
	vfio_env_guest_probe(vm, vfio_set_dev(set, 0));
	vfio_set_free(&set);
	FUZZ_CHECK(!set, "vfio_set_free leaves the set");
	vfio_env_server_finish(srv);
	close(l);
	unlink(addr.sun_path);
	FUZZ_CHECK(memslots_used(&vm->slots) == slots_before, "%u memslots after detach, %u "
		   "before", memslots_used(&vm->slots), slots_before);
	FUZZ_CHECK(!iobus_overlaps(&vm->mmio, VM_MMIO_HOLE_START, MMIO_END - VM_MMIO_HOLE_START),
		   "MMIO still decoded after detach");
	FUZZ_CHECK(!iobus_overlaps(&vm->pio, 0xcf8, 0x10000 - 0xcf8),
		   "ports still decoded after detach");
	FUZZ_CHECK(!vm_stop_requested(vm), "the device stopped the VM: %s", vm->stop.reason);
	irq_routing_stats(vm->irq_routing, &st);
	FUZZ_CHECK(st.nr_msi == 0, "%u MSI routes left after detach", st.nr_msi);
	vfio_env_check_fds("after detach");
	return 0;
}

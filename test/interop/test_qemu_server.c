/*
 * vigild against QEMU's own device models served over vfio-user: QEMU's
 * x-remote machine with -object x-vfio-user-server (QEMU 7.2 from Debian's
 * source, built by tools/interop/qemu-server.sh). One QEMU process serves
 * one or more devices, each on its own UNIX socket; a real vigild process
 * attaches them and the pci_probe guest lists and drives them
 * (test/interop/guests/qemu_devs.c).
 *
 * The remote machine has no CPUs. QEMU runs under -accel kvm (a KVM VM
 * without vCPUs) rather than qtest because device timers need a clock that
 * advances: edu's DMA and e1000's interrupt mitigation are timer driven.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interop_util.h"

#define MAX_DEVS 4

static struct {
	char dir[64];
	char sock[MAX_DEVS][INTEROP_SOCK_LEN];
	char qemu_log[128], console[128], vigild_log[128];
	pid_t qemu;
} R;
static char qemu_bin[300];

static void setup(void)
{
	snprintf(R.dir, sizeof(R.dir), "/tmp/vigil-qemu-vu-XXXXXX");
	cr_assert_not_null(mkdtemp(R.dir));
	for (unsigned i = 0; i < MAX_DEVS; i++)
		snprintf(R.sock[i], sizeof(R.sock[i]), "%s/dev%u.sock", R.dir, i);
	snprintf(R.qemu_log, sizeof(R.qemu_log), "%s/qemu.log", R.dir);
	snprintf(R.console, sizeof(R.console), "%s/console", R.dir);
	snprintf(R.vigild_log, sizeof(R.vigild_log), "%s/vigild.log", R.dir);
}

static void teardown(void)
{
	char cmd[128];

	interop_kill(&R.qemu);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", R.dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", R.dir);
	memset(&R, 0, sizeof(R));
}

TestSuite(qemu_vu, .init = setup, .fini = teardown, .timeout = 90);

static void find_qemu(void)
{
	const char *env = getenv("VIGIL_QEMU_SERVER");
	char dir[256];

	if (env)
		snprintf(dir, sizeof(dir), "%s", env);
	else
		interop_cache_path(dir, sizeof(dir), "qemu-server/bin");
	snprintf(qemu_bin, sizeof(qemu_bin), "%s/qemu-system-x86_64", dir);
	if (access(qemu_bin, X_OK))
		cr_skip_test("QEMU with x-vfio-user-server not built in %s: run "
			     "tools/interop/qemu-server.sh (it builds Debian's qemu source)", dir);
}

/*
 * Start one QEMU serving @n devices: devs[i] is a -device specification
 * without id; @extra (may be NULL) is one more option and its value (a
 * -drive for a block device).
 */
static void start_qemu(unsigned n, const char *const devs[],
		       const char *const extra[2])
{
	char dev[MAX_DEVS][200], obj[MAX_DEVS][300];
	char *argv[16 + 4 * MAX_DEVS];
	unsigned a = 0;

	cr_assert_leq(n, MAX_DEVS);
	argv[a++] = qemu_bin;
	argv[a++] = (char *)"-machine";
	argv[a++] = (char *)"x-remote,vfio-user=on";
	argv[a++] = (char *)"-accel";
	argv[a++] = (char *)"kvm";
	argv[a++] = (char *)"-nodefaults";
	argv[a++] = (char *)"-display";
	argv[a++] = (char *)"none";
	argv[a++] = (char *)"-monitor";
	argv[a++] = (char *)"none";
	if (extra) {
		argv[a++] = (char *)extra[0];
		argv[a++] = (char *)extra[1];
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(dev[i], sizeof(dev[i]), "%s,id=d%u", devs[i], i);
		snprintf(obj[i], sizeof(obj[i]),
			 "x-vfio-user-server,id=s%u,type=unix,path=%s,device=d%u", i, R.sock[i], i);
		argv[a++] = (char *)"-device";
		argv[a++] = dev[i];
		argv[a++] = (char *)"-object";
		argv[a++] = obj[i];
	}
	argv[a] = NULL;
	R.qemu = interop_spawn(argv, R.qemu_log);
	cr_assert_gt(R.qemu, 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert(interop_wait_socket(R.sock[i], R.qemu, 10000),
			  "QEMU did not listen on %s; its log:\n%s", R.sock[i],
			  interop_slurp(R.qemu_log));
}

/* vigild + pci_probe with the first @n sockets; vigild's exit status (-1:
 * killed after 60 s). */
static int run_vigild(unsigned n, const char *opts)
{
	return interop_run_vigild(VIGILD_BIN, PCI_PROBE_GUEST, R.console, R.vigild_log,
				  (const char (*)[INTEROP_SOCK_LEN])R.sock, n, opts, 60000);
}

static void expect_in(const char *path, const char *what)
{
	char *text = interop_slurp(path);

	cr_expect_not_null(strstr(text, what), "%s lacks \"%s\"; it has:\n%s", path, what, text);
}

static void expect_ok_run(int rc)
{
	if (rc != 0) {
		fprintf(stderr, "vigild log:\n%s\n", interop_slurp(R.vigild_log));
		fprintf(stderr, "console:\n%s\n", interop_slurp(R.console));
		fprintf(stderr, "QEMU log:\n%s\n", interop_slurp(R.qemu_log));
	}
	cr_assert_eq(rc, 0, "vigild exit status %d", rc);
}

/* Serve @spec alone, run pci_probe against it, expect @lines on the console. */
static void probe_one(const char *spec, const char *const extra[2],
		      const char *const lines[])
{
	const char *devs[1] = { spec };

	find_qemu();
	start_qemu(1, devs, extra);
	expect_ok_run(run_vigild(1, ""));
	for (unsigned i = 0; lines[i]; i++)
		expect_in(R.console, lines[i]);
	expect_in(R.console, "pci_probe: 1 function(s)");
}

Test(qemu_vu, edu_registers_intx_and_dma)
{
	probe_one("edu", NULL,
		  (const char *const[]){
			  "00:01.0 1234:11e8 class 00ff00",
			  "  BAR0 mem at 0xc0000000 size 0x100000",
			  "edu: id 0x10000ed, liveness, 10! = 3628800, INTx on GSI 16, "
			  "DMA to and from RAM: ok", "edu: 3 interrupts by MSI: ok",
			  NULL });
}

Test(qemu_vu, pci_testdev_mmio_and_portio)
{
	probe_one("pci-testdev", NULL, (const char *const[]){
		"00:01.0 1b36:0005", "  interrupt pin 0 line 255",
		"pci-testdev: mmio and portio tests counted, BARs moved and back: ok",
		NULL });
}

Test(qemu_vu, e1000_memory_and_io_bars)
{
	probe_one("e1000,romfile=,mac=52:54:00:12:34:56", NULL, (const char *const[]){
		"00:01.0 8086:100e class 020000",
		"  BAR0 mem at 0xc0000000 size 0x20000",
		"  BAR1 io at 0x1000 size 0x40",
		"e1000: status", "mac 52:54:00:12:34:56, INTx by ICS twice: ok",
		NULL });
}

Test(qemu_vu, e1000e_pcie_function)
{
	probe_one("e1000e,romfile=,mac=52:54:00:ab:cd:ef", NULL, (const char *const[]){
		"00:01.0 8086:10d3 class 020000",
		"mac 52:54:00:ab:cd:ef, by memory and I/O BAR, INTx by ICS twice: ok",
		NULL });
}

Test(qemu_vu, lsi53c895a_three_bars)
{
	probe_one("lsi53c895a", NULL, (const char *const[]){
		"00:01.0 1000:0012 class 010000",
		"lsi53c895a: SCRATCHA by memory and I/O, script RAM: ok",
		NULL });
}

Test(qemu_vu, nvme_identify_by_dma)
{
	probe_one("nvme,serial=vigil0042", NULL, (const char *const[]){
		"00:01.0 1b36:0010 class 010802",
		"nvme: version 0x10400",
		"IDENTIFY serial \"vigil0042\" model \"QEMU NVMe Ctrl\", completion by INTx and by MSI-X: ok",
		NULL });
}

Test(qemu_vu, virtio_net_modern)
{
	probe_one("virtio-net-pci,romfile=,mac=52:54:00:00:00:07", NULL,
		  (const char *const[]){
			  "00:01.0 1af4:1000 class 020000", "  BAR0 io at 0x1000 size 0x20",
			  "  BAR4 mem 64-bit at 0xc0004000 size 0x4000", "  capability 0x11 at 0x98",
			  "virtio-net: VERSION_1", "mac 52:54:00:00:00:07 (legacy I/O BAR too): ok",
			  NULL });
}

Test(qemu_vu, virtio_blk_modern)
{
	const char *const drive[2] = { "-drive",
				       "if=none,id=blk0,driver=null-co,size=64M,read-zeroes=on" };

	probe_one("virtio-blk-pci,drive=blk0", drive, (const char *const[]){
		"virtio-blk: VERSION_1", "capacity 131072 sectors: ok",
		NULL });
}

Test(qemu_vu, three_devices_one_qemu)
{
	const char *devs[3] = { "pci-testdev", "e1000,romfile=,mac=52:54:00:12:34:56",
				"lsi53c895a" };

	find_qemu();
	start_qemu(3, devs, NULL);
	expect_ok_run(run_vigild(3, ""));
	expect_in(R.console, "drive 00:01.0 pci-testdev");
	expect_in(R.console, "drive 00:02.0 e1000");
	expect_in(R.console, "drive 00:03.0 lsi53c895a");
	expect_in(R.console, "pci_probe: 3 function(s)");
	/* vigild closed all three connections when it ended: QEMU saw each
	 * client go and shut down (x-remote's auto-shutdown) by itself. */
	cr_expect_eq(interop_wait_exit(R.qemu, 10000), 0, "QEMU did not exit by itself; log:\n%s",
		     interop_slurp(R.qemu_log));
	R.qemu = 0;
}

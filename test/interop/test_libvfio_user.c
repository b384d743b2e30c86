/*
 * vigild against vfio-user servers it did not come with: libvfio-user's
 * sample device servers (built from Debian's qemu source package by
 * tools/interop/libvfio-user.sh), each driven by the pci_probe guest through
 * a real vigild process. Also vu-dma's BARs moved by the guest.
 *
 * Every case is vigild + server as separate processes on a UNIX socket, the
 * guest's console in a file, and the server's own log in another.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interop_util.h"

#define MAX_DEVS 3

struct proc {
	pid_t pid;
	char log[128];
};

struct run {
	char dir[64];
	char sock[MAX_DEVS][INTEROP_SOCK_LEN];
	struct proc srv[MAX_DEVS];
	int srv_stdin[MAX_DEVS];   /* write end kept open (null waits on stdin) */
	char console[160];
	char vigild_log[160];
};

static struct run R;
static char lvu_bin[256];

static void find_samples(void)
{
	const char *env = getenv("VIGIL_LIBVFIO_USER");
	char path[300];

	if (env)
		snprintf(lvu_bin, sizeof(lvu_bin), "%s", env);
	else
		interop_cache_path(lvu_bin, sizeof(lvu_bin), "libvfio-user/bin");
	snprintf(path, sizeof(path), "%s/server", lvu_bin);
	if (access(path, X_OK))
		cr_skip_test("libvfio-user samples not built in %s: run tools/interop/libvfio-user.sh "
			     "(it needs Debian's qemu source package)", lvu_bin);
}

static void setup(void)
{
	snprintf(R.dir, sizeof(R.dir), "/tmp/vigil-interop-XXXXXX");
	cr_assert_not_null(mkdtemp(R.dir));
	for (unsigned i = 0; i < MAX_DEVS; i++) {
		snprintf(R.sock[i], sizeof(R.sock[i]), "%s/dev%u.sock", R.dir, i);
		R.srv_stdin[i] = -1;
	}
	snprintf(R.console, sizeof(R.console), "%s/console", R.dir);
	snprintf(R.vigild_log, sizeof(R.vigild_log), "%s/vigild.log", R.dir);
}

static void teardown(void)
{
	char cmd[128];

	for (unsigned i = 0; i < MAX_DEVS; i++) {
		if (R.srv[i].pid > 0) {
			kill(R.srv[i].pid, SIGKILL);
			waitpid(R.srv[i].pid, NULL, 0);
		}
		if (R.srv_stdin[i] >= 0)
			close(R.srv_stdin[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", R.dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", R.dir);
	memset(&R, 0, sizeof(R));
}

TestSuite(interop, .init = setup, .fini = teardown, .timeout = 60);

static void wait_socket(unsigned i)
{
	cr_assert(interop_wait_socket(R.sock[i], R.srv[i].pid, 5000),
		  "no server socket at %s after 5 s (log: %s)", R.sock[i],
		  interop_slurp(R.srv[i].log));
}

/* Start sample @name of libvfio-user (or vu-dma when @name is NULL) as device @i. */
static void start_server(unsigned i, const char *name)
{
	char exe[300];
	char *argv[4];
	char log[sizeof(R.srv[i].log)];

	snprintf(log, sizeof(log), "%s/server%u.log", R.dir, i);
	memcpy(R.srv[i].log, log, sizeof(log));
	if (!name) {
		char arg[160];

		snprintf(arg, sizeof(arg), "--socket-path=%s", R.sock[i]);
		argv[0] = (char *)VU_DMA_SERVER;
		argv[1] = arg;
		argv[2] = NULL;
		R.srv[i].pid = interop_spawn(argv, R.srv[i].log);
		wait_socket(i);
		return;
	}
	snprintf(exe, sizeof(exe), "%s/%s", lvu_bin, name);
	argv[0] = exe;
	if (!strcmp(name, "null")) {
		argv[1] = R.sock[i];
		argv[2] = NULL;
	} else {
		argv[1] = (char *)"-v";
		argv[2] = R.sock[i];
		argv[3] = NULL;
	}
	R.srv[i].pid = interop_spawn_stdin(argv, R.srv[i].log,
					   !strcmp(name, "null") ? &R.srv_stdin[i] : NULL);
	wait_socket(i);
}

/* vigild + pci_probe with the first @n sockets; vigild's exit status (-1:
 * killed after 30 s). */
static int run_vigild(unsigned n, const char *opts)
{
	return interop_run_vigild(VIGILD_BIN, PCI_PROBE_GUEST, R.console, R.vigild_log,
				  (const char (*)[INTEROP_SOCK_LEN])R.sock, n, opts, 30000);
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
	}
	cr_assert_eq(rc, 0, "vigild exit status %d", rc);
}

Test(interop, lvu_server_negotiates_enumerates_and_drives)
{
	find_samples();
	start_server(0, "server");
	expect_ok_run(run_vigild(1, ""));
	expect_in(R.console, "00:01.0 dead:beef class 000000 rev 00 subsystem cafe:babe");
	expect_in(R.console, "  BAR0 io at 0x1000 size 0x8");
	expect_in(R.console, "  BAR1 io at 0x4000 size 0x4000");
	expect_in(R.console, "  interrupt pin 1 line 16");
	expect_in(R.console, "libvfio-user server: BAR1 round trip, refused access, BAR1 moved: ok");
	expect_in(R.console, "pci_probe: 1 function(s)");
	/* What the server saw: a reset, guest RAM mapped with the memfd, INTx. */
	expect_in(R.srv[0].log, "device reset callback");
	expect_in(R.srv[0].log, "adding DMA region [0, 0x4000000) offset=0 flags=0x3");
	expect_in(R.srv[0].log, "setting IRQ INTx flags=0x24 range [0, 1)");
	expect_in(R.srv[0].log, "bad BAR0 access 0-0x3");
	expect_in(R.vigild_log, "vfio-user dev0: PCI 00:01.0, 10 regions, 5 IRQ types, INTx wired, MSI none, MSI-X none, DMA by mmap");
}

Test(interop, lvu_server_dma_by_message)
{
	find_samples();
	start_server(0, "server");
	expect_ok_run(run_vigild(1, ",dma=msg"));
	expect_in(R.console, "BAR1 moved: ok");
	/* No descriptor: the server must use DMA_READ/DMA_WRITE messages. */
	expect_in(R.srv[0].log, "adding DMA region [0, 0x4000000) offset=0 flags=0x3");
	cr_expect_null(strstr(interop_slurp(R.srv[0].log), "mapped DMA region"),
		       "the server mapped guest RAM although no fd was sent");
}

Test(interop, lvu_gpio_input_port_and_reattach)
{
	find_samples();
	start_server(0, "gpio-pci-idio-16");
	expect_ok_run(run_vigild(1, ""));
	expect_in(R.console, "00:01.0 494f:0dc8");
	expect_in(R.console, "  BAR2 io at 0x1000 size 0x100");
	expect_in(R.console, "libvfio-user gpio: inputs 0 0 0 1 1 1 2 2 2: ok");
	/* The sample waits for the next client: a second vigild attaches and
	 * the device goes on counting where it was. */
	expect_ok_run(run_vigild(1, ""));
	expect_in(R.console, "libvfio-user gpio: inputs 3 3 3 4 4 4 5 5 5: ok");
}

Test(interop, lvu_null_device_without_bars)
{
	find_samples();
	start_server(0, "null");
	expect_ok_run(run_vigild(1, ""));
	expect_in(R.console, "00:01.0 0000:0000 class 000000");
	cr_expect_null(strstr(interop_slurp(R.console), "BAR"), "the null device has no BARs");
	expect_in(R.console, "pci_probe: 1 function(s)");
}

Test(interop, three_servers_at_once)
{
	find_samples();
	start_server(0, "server");
	start_server(1, "gpio-pci-idio-16");
	start_server(2, NULL);
	expect_ok_run(run_vigild(3, ""));
	expect_in(R.console, "00:01.0 dead:beef");
	expect_in(R.console, "00:02.0 494f:0dc8");
	expect_in(R.console, "00:03.0 1de5:d0a1");
	expect_in(R.console, "libvfio-user server: BAR1 round trip, refused access, BAR1 moved: ok");
	expect_in(R.console, "libvfio-user gpio: inputs");
	expect_in(R.console, "vu-dma: BAR0 and BAR2 moved and back");
	expect_in(R.console, "pci_probe: 3 function(s)");
}

Test(interop, vu_dma_bars_moved_by_the_guest)
{
	start_server(0, NULL);
	expect_ok_run(run_vigild(1, ""));
	expect_in(R.console, "00:01.0 1de5:d0a1");
	expect_in(R.console, "vu-dma: BAR0 and BAR2 moved and back, moves onto RAM and onto BAR0 refused: ok");
	expect_in(R.vigild_log, "BAR0 cannot decode at 0x200000 (Numerical result out of range)");
}

/*
 * Plugin for the fault-injection tests (crosvm.h, libcrosvm_plugin).
 *
 *   p_fault GUEST.elf loop   one vCPU; serve its I/O forever, with an extra
 *                            main-socket request (reserve/remove a range,
 *                            create/destroy an ioeventfd, get the clock)
 *                            every few events, so a kill can land anywhere
 *   p_fault GUEST.elf hang   two vCPUs; after vCPU 0's first I/O event, stop
 *                            answering (never resume it); print vCPU 1's
 *                            round counter every 50 ms ("rounds N")
 *
 * The first line on stdout, before anything else, is
 * "pid P caps CAPEFF nnp NONEWPRIVS fds F1,F2,...": this process's effective
 * capabilities, no_new_privs flag and the fds it had when it started, so the
 * test can see what vigild let through exec. In hang mode a second line "hung" follows once
 * vCPU 0 waits on us.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_abi.h"
#include "pharness.h"

static struct ph h;

/* "CapEff:\t0000..." -> "0000..." */
static void status_field(const char *name, char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	snprintf(out, len, "?");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':')
			sscanf(line + strlen(name) + 1, "%63s", out);
	if (f)
		fclose(f);
}

static void report_start(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char line[512], caps[64], nnp[64];
	int n, self = d ? dirfd(d) : -1;

	status_field("CapEff", caps, sizeof(caps));
	status_field("NoNewPrivs", nnp, sizeof(nnp));
	n = snprintf(line, sizeof(line), "pid %d caps %s nnp %s fds ", (int)getpid(), caps, nnp);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != self)
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s,", de->d_name);
	if (d)
		closedir(d);
	printf("%s\n", line);
	fflush(stdout);
}

static struct crosvm_vcpu *start_vcpu(unsigned id, unsigned nr)
{
	struct crosvm_vcpu *v;
	struct crosvm_vcpu_event ev;

	PH_OK(crosvm_get_vcpu(h.cv, id, &v));
	PH_OK(crosvm_vcpu_wait(v, &ev));
	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_INIT, "first event %u", ev.kind);
	ph_init_vcpu(&h, v, id, nr);
	PH_OK(crosvm_vcpu_resume(v));
	return v;
}

static void extra_request(unsigned n)
{
	struct crosvm_io *io;
	struct kvm_clock_data clk;

	switch (n % 3) {
	case 0:
		PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x600, 8));
		PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x600, 0));
		break;
	case 1:
		PH_OK(crosvm_create_io_event(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x700, 1, NULL, &io));
		PH_OK(crosvm_destroy_io_event(h.cv, &io));
		break;
	default:
		PH_OK(crosvm_get_clock(h.cv, &clk));
		break;
	}
}

static int run_loop(void)
{
	struct crosvm_vcpu *v;
	struct crosvm_vcpu_event ev;

	PH_OK(crosvm_start(h.cv));
	v = start_vcpu(0, 1);
	for (unsigned n = 0;; n++) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		if (ev.kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS && !ev.io_access.is_write)
			memset(ev.io_access.data, 1, ev.io_access.length);
		if (n % 4 == 0)
			extra_request(n / 4);
		PH_OK(crosvm_vcpu_resume(v));
	}
}

static int run_hang(void)
{
	struct crosvm_vcpu *v0;
	struct crosvm_vcpu_event ev;

	PH_OK(crosvm_start(h.cv));
	v0 = start_vcpu(0, 2);
	start_vcpu(1, 2);
	PH_OK(crosvm_vcpu_wait(v0, &ev));
	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS, "event %u", ev.kind);
	printf("hung\n");
	fflush(stdout);
	for (;;) {
		usleep(50 * 1000);
		printf("rounds %llu\n",
		       (unsigned long long)((volatile uint64_t *)(h.ram + FAULT_ROUNDS_GPA))[1]);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	report_start();
	PH_CHECK(argc == 3, "usage: p_fault GUEST.elf loop|hang");
	ph_setup(&h, argv[1], 0);
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, FAULT_PORT_OUT, 2));
	if (!strcmp(argv[2], "loop"))
		return run_loop();
	if (!strcmp(argv[2], "hang"))
		return run_hang();
	PH_CHECK(0, "unknown mode %s", argv[2]);
	return 2;
}

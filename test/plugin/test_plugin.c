/*
 * Plugin protocol tests: each runs the real vigild with a test plugin
 * (p_basic, written against crosvm.h) driving a real KVM guest, and checks
 * vigild's exit status (the plugin's, or 83 when the plugin died).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run_vigild(const char *scenario, unsigned vcpus)
{
	char nv[8];
	pid_t pid;
	int st;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_skip_test("/dev/kvm is not available");
	snprintf(nv, sizeof(nv), "%u", vcpus);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		alarm(60);   /* a hang fails the test instead of blocking the suite */
		execl(VIGILD_PATH, VIGILD_PATH, "run", "--plugin", P_BASIC_PATH, "--plugin-arg",
		      GUEST_PATH, "--plugin-arg", scenario, "--vcpus", nv, (char *)NULL);
		_exit(127);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st), "vigild died with signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

Test(plugin, adder_io_round_trip_and_registers)
{
	cr_assert_eq(run_vigild("adder", 1), 0);
}

Test(plugin, reserve_rules_and_errnos)
{
	cr_assert_eq(run_vigild("reserve", 1), 0);
}

Test(plugin, async_writes_do_not_stop_the_vcpu)
{
	cr_assert_eq(run_vigild("async", 1), 0);
}

Test(plugin, ioeventfd_with_datamatch)
{
	cr_assert_eq(run_vigild("ioevent", 1), 0);
}

Test(plugin, memory_create_destroy_and_dirty_log)
{
	cr_assert_eq(run_vigild("dirty", 1), 0);
}

Test(plugin, pause_with_user_data_repeated)
{
	cr_assert_eq(run_vigild("pause", 1), 0);
}

Test(plugin, cpuid_msr_queries_too_small_arrays)
{
	cr_assert_eq(run_vigild("queries", 1), 0);
}

Test(plugin, vm_state_round_trips_irq_routing_irqfd)
{
	cr_assert_eq(run_vigild("vmstate", 1), 0);
}

Test(plugin, extra_connection_from_second_thread)
{
	cr_assert_eq(run_vigild("conn2", 1), 0);
}

Test(plugin, replies_to_requests_pipelined_behind_resume_in_order)
{
	cr_assert_eq(run_vigild("pipeline", 1), 0);
}

Test(plugin, plugin_crash_during_wait_tears_vm_down)
{
	cr_assert_eq(run_vigild("crash", 1), 83);
}

Test(plugin, malformed_messages_on_both_sockets)
{
	cr_assert_eq(run_vigild("malformed", 2), 0);
}

Test(plugin, identity_map_before_start_then_einval)
{
	cr_assert_eq(run_vigild("identmap", 1), 0);
}

/* KVM_CHECK_EXTENSION on /dev/kvm; 0 when it cannot be asked. */
static int kvm_cap(long cap)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return 0;
	r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	close(fd);
	return r > 0 ? r : 0;
}

Test(plugin, hyperv_synic_and_hypercall_events)
{
	if (!kvm_cap(KVM_CAP_HYPERV))
		cr_skip_test("KVM_CAP_HYPERV: this host's KVM offers no Hyper-V emulation "
			     "(kvm_pvm has none; the nested kvm_amd platform does)");
	if (!kvm_cap(KVM_CAP_HYPERV_SYNIC))
		cr_skip_test("KVM_CAP_HYPERV_SYNIC: this host's KVM has no Hyper-V SynIC");
	cr_assert_eq(run_vigild("hyperv", 1), 0);
}

/* Introspection protocol: attach, commands, bad input. Real vigild, real guest. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt.h"

static struct kt t;

static void teardown(void)
{
	kt_free(&t);
}

TestSuite(kvmi_proto, .fini = teardown, .timeout = 60);

Test(kvmi_proto, second_tool_gets_busy)
{
	struct vigil_kvmi *c2 = NULL;

	kt_start(&t, 1, 0);
	cr_assert_eq(vigil_kvmi_nr_vcpus(t.c), 1);
	cr_assert_eq(vigil_kvmi_connect(t.sock, 5000, &c2), -EBUSY);
	cr_assert_null(c2);
}

Test(kvmi_proto, version_reports_host_capabilities)
{
	struct vigil_kvmi_version_reply v;

	kt_start(&t, 1, 0);
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0);
	cr_assert_eq(v.version, VIGIL_KVMI_VERSION);
	cr_assert(v.commands & (1ull << VIGIL_KVMI_READ_PHYSICAL));
	cr_assert(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PAUSE));
	cr_assert(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MSR), "MSR filter is on this host");
	/* kvm_pvm does not honour KVM_GUESTDBG_USE_SW_BP: must not be claimed. */
	if (!(v.events & VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SW_BREAKPOINT)))
		cr_assert_eq(vigil_kvmi_control_events(t.c, 0, VIGIL_KVMI_EVENTS_ENABLE,
			     VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_SW_BREAKPOINT), NULL), -ENOSYS);
}

Test(kvmi_proto, guest_info)
{
	struct vigil_kvmi_guest_info_reply gi;

	kt_start(&t, 2, 0);
	cr_assert_eq(vigil_kvmi_get_guest_info(t.c, &gi), 0);
	cr_assert_eq(gi.vcpu_count, 2);
	cr_assert_eq(gi.mem_size, 16u << 20);
}

Test(kvmi_proto, socket_is_private)
{
	struct stat st;

	kt_start(&t, 1, 0);
	cr_assert_eq(stat(t.sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(kvmi_proto, tool_of_another_user_is_refused)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_attach a;
	} m;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int st, fd;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root to connect as another user");
	kt_start(&t, 1, 0);
	/* Loosen the socket's mode so only SO_PEERCRED stands in the way. */
	cr_assert_eq(chmod(t.sock, 0666), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t.sock);
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(11);
		if (recv(fd, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
			_exit(12);
		_exit(m.h.msg_id == VIGIL_KVMI_ATTACH && m.a.e.err == VIGIL_KVMI_EPERM ? 0 : 13);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	/* The owner's tool is still attached and working. */
	cr_assert_eq(vigil_kvmi_nr_vcpus(t.c), 1);
}

Test(kvmi_proto, truncated_and_malformed_messages)
{
	struct vigil_kvmi_hdr h = { .msg_id = VIGIL_KVMI_GET_VERSION, .size = 40, .seq = 7 };
	uint8_t half[5] = { 2, 0, 0, 0, 0 };
	struct vigil_kvmi_version_reply v;

	kt_start(&t, 1, 0);
	/* Header claims 40 bytes, datagram has none. */
	cr_assert_eq(vigil_kvmi_send_raw(t.c, &h, sizeof(h), 7), -EMSGSIZE);
	/* Shorter than a header: the reply echoes what could be read (seq 0). */
	cr_assert_eq(vigil_kvmi_send_raw(t.c, half, sizeof(half), 0), -EMSGSIZE);
	/* Unknown command. */
	cr_assert_eq(vigil_kvmi_request(t.c, 999, NULL, 0, &v, sizeof(v)), -ENOSYS);
	/* Body where none is allowed. */
	cr_assert_eq(vigil_kvmi_request(t.c, VIGIL_KVMI_GET_VERSION, &v, 8, &v, sizeof(v)), -EINVAL);
	/* The connection still works. */
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0);
}

Test(kvmi_proto, nonzero_padding_is_rejected)
{
	struct vigil_kvmi_read_phys q = { .gpa = 0x1000, .size = 8, .padding = 1 };
	struct vigil_kvmi_vcpu_req p = { .vcpu = 0, .padding = { 0, 1, 0 } };
	uint8_t r[64];

	kt_start(&t, 1, 0);
	cr_assert_eq(vigil_kvmi_request(t.c, VIGIL_KVMI_READ_PHYSICAL, &q, sizeof(q), r, sizeof(r)),
		     -EINVAL);
	cr_assert_eq(vigil_kvmi_request(t.c, VIGIL_KVMI_PAUSE_VCPU, &p, sizeof(p), r, sizeof(r)),
		     -EINVAL);
}

Test(kvmi_proto, bad_vcpu_ids)
{
	struct kvm_regs regs;

	kt_start(&t, 2, 0);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 2), -ENOENT);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0xfffe), -ENOENT);
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 5, &regs, NULL, NULL, 0, NULL, NULL), -ENOENT);
	cr_assert_eq(vigil_kvmi_control_cr(t.c, 9, 4, 1), -ENOENT);
	/* A running vCPU's registers need a pause first. */
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 1, &regs, NULL, NULL, 0, NULL, NULL), -EAGAIN);
}

Test(kvmi_proto, physical_memory_any_length_and_stale_cookie)
{
	static uint8_t big[100000], back[100000];
	uint64_t gen, gen2, gen_new;
	unsigned i;

	kt_start(&t, 1, 0);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	/* Crosses many pages and the 32 KiB message limit. */
	cr_assert_eq(vigil_kvmi_write_physical(t.c, 0x300123, big, sizeof(big), 0, NULL), 0);
	cr_assert_eq(vigil_kvmi_read_physical(t.c, 0x300123, back, sizeof(back), &gen), 0);
	cr_assert_eq(memcmp(big, back, sizeof(big)), 0);
	/* A write with the current cookie succeeds and moves the generation. */
	cr_assert_eq(vigil_kvmi_write_physical(t.c, 0x300000, "x", 1, gen, &gen_new), 0);
	cr_assert_gt(gen_new, gen);
	/* The old cookie is now stale. */
	cr_assert_eq(vigil_kvmi_write_physical(t.c, 0x300000, "y", 1, gen, NULL), -ESTALE);
	cr_assert_eq(vigil_kvmi_read_physical(t.c, 0x300000, back, 1, &gen2), 0);
	cr_assert_eq(back[0], 'x');
	cr_assert_eq(gen2, gen_new);
	/* Outside RAM. */
	cr_assert_eq(vigil_kvmi_read_physical(t.c, 0xd0000000ull, back, 8, NULL), -EFAULT);
}

Test(kvmi_proto, pause_gives_one_event_each_and_registers_work)
{
	struct vigil_kvmi_ev ev;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t msr = 0xc0000080, cpuid[4];
	uint64_t efer, gpa;
	unsigned mode;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	kt_go(&t, KT_IDLE);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0), 0);
	cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, 0), 0);
	kt_event(&t, &ev, 5000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_PAUSE);
	cr_assert_eq(ev.common.vcpu, 0);
	cr_assert_eq(ev.common.mode, 8);
	cr_assert(ev.common.msrs.efer & (1u << 10), "event carries EFER.LMA");
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 0, &regs, &sregs, &msr, 1, &efer, &mode), 0);
	cr_assert_eq(mode, 8);
	cr_assert_eq(efer, ev.common.msrs.efer);
	cr_assert_eq(regs.rip, ev.common.regs.rip);
	regs.r15 = 0x1234;
	cr_assert_eq(vigil_kvmi_set_registers(t.c, 0, &regs), 0);
	cr_assert_eq(vigil_kvmi_get_registers(t.c, 0, &regs, NULL, NULL, 0, NULL, NULL), 0);
	cr_assert_eq(regs.r15, 0x1234);
	/* The identity map: a guest virtual address translates to itself. */
	cr_assert_eq(vigil_kvmi_translate_gva(t.c, 0, t.ctl.wpage + 0x10, &gpa), 0);
	cr_assert_eq(gpa, t.ctl.wpage + 0x10);
	cr_assert_eq(vigil_kvmi_translate_gva(t.c, 0, 0x7f0000000000ull, &gpa), -EFAULT);
	cr_assert_eq(vigil_kvmi_get_cpuid(t.c, 0, 0, 0, cpuid), 0);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	/* The second pause gives exactly one more event. */
	kt_event(&t, &ev, 5000);
	cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_PAUSE);
	cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0), 0);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 300), -ETIMEDOUT);
}

Test(kvmi_proto, pause_storm_on_two_vcpus)
{
	struct vigil_kvmi_ev ev;
	unsigned i, seen[2] = { 0, 0 };

	kt_start(&t, 2, 0);
	kt_ready(&t);
	kt_go(&t, KT_IDLE);
	for (i = 0; i < 50; i++)
		cr_assert_eq(vigil_kvmi_pause_vcpu(t.c, i % 2), 0);
	for (i = 0; i < 50; i++) {
		kt_event(&t, &ev, 5000);
		cr_assert_eq(ev.common.event, VIGIL_KVMI_EVENT_PAUSE);
		seen[ev.common.vcpu]++;
		cr_assert_eq(vigil_kvmi_reply_event(t.c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0),
			     0);
	}
	cr_assert_eq(seen[0], 25);
	cr_assert_eq(seen[1], 25);
	cr_assert_eq(vigil_kvmi_wait_event(t.c, 200), -ETIMEDOUT);
}

Test(kvmi_proto, shared_memfd_matches_read_physical)
{
	struct vigil_kvmi_mem_region reg[4];
	unsigned nr = 4;
	uint64_t size, v;
	uint8_t *m;
	int fd;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	cr_assert_eq(vigil_kvmi_get_memfd(t.c, &fd, reg, &nr, &size), 0);
	cr_assert_eq(nr, 1);
	cr_assert_eq(size, 16u << 20);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	memcpy(&v, m + KT_CTL + offsetof(struct kt_ctl, wpage), 8);
	cr_assert_eq(v, t.ctl.wpage);
	munmap(m, size);
	close(fd);
}

Test(kvmi_proto, reattach_after_close)
{
	struct vigil_kvmi_version_reply v;

	kt_start(&t, 1, 0);
	vigil_kvmi_close(&t.c);
	cr_assert_eq(kt_connect(&t, &t.c), 0);
	cr_assert_eq(vigil_kvmi_get_version(t.c, &v), 0);
}

Test(kvmi_proto, transfer_buffer_read_matches_inline_read)
{
	static uint8_t inline_buf[300000];
	uint8_t *x;
	uint64_t gen;

	kt_start(&t, 1, 0);
	kt_ready(&t);
	cr_assert_eq(vigil_kvmi_xfer_setup(t.c, 1u << 20, (void **)&x), 0);
	cr_assert_eq(vigil_kvmi_xfer_setup(t.c, 1u << 20, (void **)&x), -EBUSY);
	memset(x, 0xee, 1u << 20);
	cr_assert_eq(vigil_kvmi_read_physical(t.c, 0x3ff000, x + 100, sizeof(inline_buf), &gen), 0);
	cr_assert_eq(vigil_kvmi_read_physical(t.c, 0x3ff000, inline_buf, sizeof(inline_buf), NULL),
		     0);
	cr_assert_eq(memcmp(x + 100, inline_buf, sizeof(inline_buf)), 0);
	cr_assert_eq(x[99], 0xee, "nothing written before the destination");
	cr_assert_gt(gen, 0);
	/* Bounds are the server's too. */
	{
		struct vigil_kvmi_read_phys_xfer q = { .gpa = 0, .offset = (1u << 20) - 8,
						       .size = 16 };
		uint8_t r[32];

		cr_assert_eq(vigil_kvmi_request(t.c, VIGIL_KVMI_READ_PHYSICAL_XFER, &q, sizeof(q), r,
						sizeof(r)), -E2BIG);
	}
}

Test(kvmi_proto, ten_thousand_page_policy_merges_slots)
{
	static struct vigil_kvmi_page_entry e[10000];
	unsigned slots = 0, i;
	uint8_t access;

	kt_spawn_mem(&t, 1, 0, "64M");
	cr_assert_eq(kt_connect(&t, &t.c), 0);
	vigil_kvmi_set_timeout(t.c, 30000);
	kt_ready(&t);
	for (i = 0; i < 10000; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].gpa = 0x1000000ull + (uint64_t)i * 4096;
		e[i].access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X;
	}
	cr_assert_eq(vigil_kvmi_set_page_access(t.c, e, 10000, &slots), 0);
	cr_assert_leq(slots, 3, "one read-only slot for the run, %u used", slots);
	cr_assert_eq(vigil_kvmi_get_page_access(t.c, 0x1000000ull + 1234 * 4096, &access), 0);
	cr_assert_eq(access, VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X);
	/* Outside RAM: all or nothing. */
	e[0].gpa = 0x40000000ull;
	cr_assert_eq(vigil_kvmi_set_page_access(t.c, e, 1, NULL), -EFAULT);
	for (i = 0; i < 10000; i++)
		e[i].access = VIGIL_KVMI_PAGE_RWX;
	e[0].gpa = 0x1000000ull;
	cr_assert_eq(vigil_kvmi_set_page_access(t.c, e, 10000, &slots), 0);
	cr_assert_eq(slots, 1, "slots merged back");
}

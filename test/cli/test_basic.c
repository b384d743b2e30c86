/* vigil info, vigil mem, help and errors: against the demo guest while it
 * waits for a tool, and against sockets that are not vigil's. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

static struct vm vm;
static struct run r;

static void fini(void)
{
	run_free(&r);
	vm_free(&vm);
}

TestSuite(cli_basic, .fini = fini, .timeout = 90);

Test(cli_basic, info_json_lists_every_vcpu_with_registers)
{
	const char *argv[] = { "info", "--json", NULL, NULL };
	json_object *o, *v, *x;

	vm_start(&vm);
	argv[2] = vm.sock;
	cr_assert_eq(run_vigil(&r, 30000, argv), 0, "stderr: %s", r.err);
	o = json_tokener_parse(r.out);
	cr_assert_not_null(o, "not JSON:\n%s", r.out);
	cr_assert(json_object_object_get_ex(o, "protocol", &x));
	cr_assert(json_object_object_get_ex(x, "events", &x));
	cr_assert(json_object_object_get_ex(x, "msr", &x), "events lists msr");
	cr_assert(json_object_object_get_ex(o, "vcpus", &v));
	cr_assert_eq(json_object_array_length(v), 1);
	x = json_object_array_get_idx(v, 0);
	cr_assert(json_object_object_get_ex(x, "rip", &x));
	cr_assert_eq(strncmp(json_object_get_string(x), "0x4", 3), 0, "rip in the kernel image");
	json_object_put(o);
	/* info paused and resumed the guest: it goes on and ends normally. */
	cr_assert_eq(vm_wait(&vm, 60000), 0, "log:\n%s", vm_log(&vm));
}

Test(cli_basic, info_text_names_host_capabilities)
{
	const char *argv[] = { "info", NULL, NULL };

	vm_start(&vm);
	argv[1] = vm.sock;
	cr_assert_eq(run_vigil(&r, 30000, argv), 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "host can intercept:"), "%s", r.out);
	cr_assert(strstr(r.out, "vCPU 0: 64-bit mode"), "%s", r.out);
	cr_assert(strstr(r.out, "LSTAR"), "%s", r.out);
}

Test(cli_basic, mem_dumps_physical_and_virtual_memory)
{
	const char *gpa[] = { "mem", NULL, "0x200018", "8", NULL };
	const char *gva[] = { "mem", "--cr3", "0x330000", NULL, "0x8000000000", "16", NULL };
	const char *bad[] = { "mem", "--cr3", "0x330000", NULL, "0x9000000000", "16", NULL };

	vm_start(&vm);
	gpa[1] = gva[3] = bad[3] = vm.sock;
	cr_assert_eq(run_vigil(&r, 30000, gpa), 0, "stderr: %s", r.err);
	/* the syscall table's getpid entry: a kernel address (0x40....) */
	cr_assert(strstr(r.out, "0000000000200018 "), "%s", r.out);
	cr_assert_eq(count_str(r.out, "\n"), 1, "one line for 8 bytes:\n%s", r.out);
	run_free(&r);
	cr_assert_eq(run_vigil(&r, 30000, gva), 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "# virtual 0x8000000000 -> physical 0x334000"), "%s", r.out);
	run_free(&r);
	cr_assert_eq(run_vigil(&r, 30000, bad), 65);
	cr_assert(strstr(r.err, "not mapped"), "%s", r.err);
}

Test(cli_basic, missing_socket_and_regular_file)
{
	const char *missing[] = { "info", "/nonexistent/vigil.sock", NULL };
	const char *file[] = { "trace", "--cr", "3", DEMO_POLICY, NULL };

	cr_assert_eq(run_vigil(&r, 10000, missing), 66);
	cr_assert(strstr(r.err, "/nonexistent/vigil.sock"), "%s", r.err);
	run_free(&r);
	cr_assert_eq(run_vigil(&r, 10000, file), 66);
	cr_assert(strstr(r.err, "not a socket"), "%s", r.err);
}

static int listen_on(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

Test(cli_basic, stream_socket_is_not_a_vigil_socket)
{
	char path[64];
	const char *argv[] = { "info", path, NULL };
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-cli-stream-%d.sock", getpid());
	fd = listen_on(path, SOCK_STREAM);
	cr_assert_eq(run_vigil(&r, 10000, argv), 76);
	cr_assert(strstr(r.err, "not a vigil introspection socket"), "%s", r.err);
	close(fd);
	unlink(path);
}

Test(cli_basic, silent_seqpacket_peer_is_not_a_vigil_socket)
{
	char path[64];
	const char *argv[] = { "mem", "--timeout", "300", path, "0", "16", NULL };
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-cli-silent-%d.sock", getpid());
	fd = listen_on(path, SOCK_SEQPACKET);   /* accepts nothing, says nothing */
	cr_assert_eq(run_vigil(&r, 10000, argv), 76);
	cr_assert(strstr(r.err, "not a vigil introspection socket"), "%s", r.err);
	close(fd);
	unlink(path);
}

static void *garbage_server(void *arg)
{
	int fd = accept(*(int *)arg, NULL, NULL);

	if (fd >= 0) {
		(void)!write(fd, "HTTP/1.1 200 OK\r\n", 17);
		usleep(100000);
		close(fd);
	}
	return NULL;
}

Test(cli_basic, garbage_speaking_peer_is_not_a_vigil_socket)
{
	char path[64];
	const char *argv[] = { "policy", path, DEMO_POLICY, NULL };
	pthread_t th;
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-cli-garbage-%d.sock", getpid());
	fd = listen_on(path, SOCK_SEQPACKET);
	pthread_create(&th, NULL, garbage_server, &fd);
	cr_assert_eq(run_vigil(&r, 10000, argv), 76);
	cr_assert(strstr(r.err, "not a vigil introspection socket"), "%s", r.err);
	pthread_join(th, NULL);
	close(fd);
	unlink(path);
}

Test(cli_basic, every_subcommand_has_help_and_rejects_bad_usage)
{
	static const char *const cmds[] = { "info", "mem", "trace", "policy" };
	const char *help[] = { NULL, "--help", NULL };
	const char *bad[] = { NULL, "--no-such-option", NULL };

	for (unsigned i = 0; i < 4; i++) {
		help[0] = bad[0] = cmds[i];
		cr_assert_eq(run_vigil(&r, 10000, help), 0, "%s --help", cmds[i]);
		cr_assert(strstr(r.out, "Usage: vigil "), "%s", r.out);
		cr_assert(strstr(r.out, "Exit status"), "%s --help documents exit codes", cmds[i]);
		run_free(&r);
		cr_assert_eq(run_vigil(&r, 10000, bad), 64, "%s bad option", cmds[i]);
		run_free(&r);
	}
}

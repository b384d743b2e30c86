/*
 * `vigil backends` end to end: the real binary run on the fixture tree with
 * its search roots moved by VIGIL_DATADIR, VIGIL_SYSCONFDIR and HOME or
 * XDG_CONFIG_HOME; plus the dispatcher's options and exit codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "spawn_util.h"

#define TREE DISCOVERY_FIXTURES "/tree"

/* Run vigil with @args (NULL-terminated) in the environment @env. */
static void run_vigil(struct run *r, const char *const *args, char *const *env)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = (char *)VIGIL_BIN;
	for (; args[n - 1] && n < 15; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	run_capture(r, argv, env);
}

static char *const tree_env[] = {
	"VIGIL_DATADIR=" TREE "/usr/share/vigil",
	"VIGIL_SYSCONFDIR=" TREE "/etc/vigil",
	"HOME=" TREE "/home/user",
	NULL,
};

/* The first column of each line after the header, joined by spaces. */
static void names_of(const char *table, char *names, size_t size)
{
	const char *line = strchr(table, '\n');
	size_t len = 0;

	names[0] = '\0';
	while (line && line[1]) {
		line++;
		if (*line != ' ') {
			size_t w = strcspn(line, " \n");

			len += (size_t)snprintf(names + len, size - len, "%s%.*s", len ? " " : "",
						(int)w, line);
		}
		line = strchr(line, '\n');
	}
}

Test(backends_cli, lists_valid_descriptors_in_order_with_origin)
{
	struct run r;
	char names[1024];

	run_vigil(&r, (const char *[]){ "backends", NULL }, tree_env);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	names_of(r.out, names, sizeof(names));
	cr_assert_str_eq(names, "10-admin-first.json 20-symlinked.json 45-all-three.json "
			 "50-vfio-dma.json 50-vigild.json 99-user-last.json");
	cr_assert(!strncmp(r.out, "NAME ", 5), "%s", r.out);
	cr_assert(strstr(r.out, "sysconf  " TREE "/etc/vigil/backends/10-admin-first.json\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "user     " TREE
			 "/home/user/.config/vigil/backends/45-all-three.json\n"), "%s", r.out);
	cr_assert(strstr(r.out, "data     " TREE "/usr/share/vigil/backends/50-vigild.json\n"),
		  "%s", r.out);
}

Test(backends_cli, warns_once_per_broken_file_and_still_succeeds)
{
	static const char *const broken[] = {
		"/etc/vigil/backends/30-dangling.json: cannot open",
		"/etc/vigil/backends/40-directory.json: is a directory",
		"/.config/vigil/backends/55-relative-binary.json: member \"binary\"",
		"/.config/vigil/backends/80-broken-override.json: member \"type\"",
		"/usr/share/vigil/backends/90-not-json.json: invalid JSON at line 4",
		"/usr/share/vigil/backends/95-missing-binary.json: member \"binary\" is missing",
	};
	struct run r;
	const char *p = NULL;
	size_t lines = 0;

	run_vigil(&r, (const char *[]){ "backends", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	for (size_t i = 0; i < 6; i++) {
		const char *q = strstr(r.err, broken[i]);

		cr_assert(q, "missing warning '%s' in: %s", broken[i], r.err);
		cr_assert(!p || q > p, "warnings out of order: %s", r.err);
		p = q;
	}
	for (const char *s = r.err, *e; (e = strchr(s, '\n')); s = e + 1) {
		cr_assert(!strncmp(s, "vigil: warning: " TREE, strlen("vigil: warning: " TREE)),
			  "unexpected stderr line in: %s", r.err);
		lines++;
	}
	cr_assert_eq(lines, 6, "%s", r.err);
}

Test(backends_cli, all_shows_masks_broken_and_overrides)
{
	struct run r;
	char names[2048];

	run_vigil(&r, (const char *[]){ "backends", "--all", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	names_of(r.out, names, sizeof(names));
	cr_assert_str_eq(names, "10-admin-first.json 20-symlinked.json 30-dangling.json "
			 "40-directory.json 45-all-three.json 50-vfio-dma.json 50-vigild.json "
			 "55-relative-binary.json 60-masked-by-admin.json 70-masked-by-user.json "
			 "80-broken-override.json 90-not-json.json 95-missing-binary.json "
			 "99-user-last.json");
	cr_assert(strstr(r.out, "masked  " TREE "/etc/vigil/backends/60-masked-by-admin.json\n"
			 "                         overrides " TREE
			 "/usr/share/vigil/backends/60-masked-by-admin.json\n"), "%s", r.out);
}

Test(backends_cli, type_filters_and_no_match_exits_1)
{
	struct run r;
	char names[1024];

	run_vigil(&r, (const char *[]){ "backends", "--type", "vfio-user", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	names_of(r.out, names, sizeof(names));
	cr_assert_str_eq(names, "50-vfio-dma.json");
	run_vigil(&r, (const char *[]){ "backends", "-t", "gpu", NULL }, tree_env);
	cr_assert_eq(r.status, 1);
	names_of(r.out, names, sizeof(names));
	cr_assert_str_eq(names, "");
}

Test(backends_cli, first_prints_the_binary_to_use)
{
	struct run r;

	run_vigil(&r, (const char *[]){ "backends", "--first", "--type", "vmm", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "/opt/vigil/bin/vigild\n");
	run_vigil(&r, (const char *[]){ "backends", "-1", "-t", "vfio-user", NULL }, tree_env);
	cr_assert_str_eq(r.out, "/opt/vigil/bin/vfio-dma\n");
	run_vigil(&r, (const char *[]){ "backends", "--first", "--type", "nope", NULL }, tree_env);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
}

Test(backends_cli, json_output_parses_back)
{
	struct json_object *arr, *e, *v;
	struct run r;

	run_vigil(&r, (const char *[]){ "backends", "--json", "--all", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	arr = json_tokener_parse(r.out);
	cr_assert(arr && json_object_is_type(arr, json_type_array), "%s", r.out);
	cr_assert_eq(json_object_array_length(arr), 14);
	e = json_object_array_get_idx(arr, 4);
	cr_assert(json_object_object_get_ex(e, "name", &v));
	cr_assert_str_eq(json_object_get_string(v), "45-all-three.json");
	cr_assert(json_object_object_get_ex(e, "origin", &v));
	cr_assert_str_eq(json_object_get_string(v), "user");
	cr_assert(json_object_object_get_ex(e, "overrides", &v));
	cr_assert_eq(json_object_array_length(v), 2);
	e = json_object_array_get_idx(arr, 2);
	cr_assert(json_object_object_get_ex(e, "state", &v));
	cr_assert_str_eq(json_object_get_string(v), "broken");
	cr_assert(json_object_object_get_ex(e, "errno", &v));
	cr_assert_eq(json_object_get_int(v), ENOENT);
	json_object_put(arr);
}

Test(backends_cli, xdg_config_home_replaces_home_dot_config)
{
	char *const env[] = {
		"VIGIL_DATADIR=/nonexistent",
		"VIGIL_SYSCONFDIR=/nonexistent",
		"HOME=/nonexistent",
		"XDG_CONFIG_HOME=" TREE "/home/user/.config",
		NULL,
	};
	struct run r;
	char names[1024];

	run_vigil(&r, (const char *[]){ "backends", NULL }, env);
	cr_assert_eq(r.status, 0);
	names_of(r.out, names, sizeof(names));
	cr_assert_str_eq(names, "45-all-three.json 99-user-last.json");
}

Test(backends_cli, default_roots_come_from_the_install_dirs)
{
	char *const env[] = { "HOME=/home/x", NULL };
	struct run r;

	run_vigil(&r, (const char *[]){ "backends", "--paths", NULL }, env);
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "data     " EXPECT_DATADIR "/backends\n"
			 "sysconf  " EXPECT_SYSCONFDIR "/backends\n"
			 "user     /home/x/.config/vigil/backends\n");
}

Test(backends_cli, usage_errors_exit_64)
{
	struct run r;

	run_vigil(&r, (const char *[]){ "backends", "--bogus", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "Try 'vigil backends --help'"), "%s", r.err);
	run_vigil(&r, (const char *[]){ "backends", "extra", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	run_vigil(&r, (const char *[]){ "backends", "--first", "--json", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	run_vigil(&r, (const char *[]){ "backends", "--type", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	run_vigil(&r, (const char *[]){ "frobnicate", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
	run_vigil(&r, (const char *[]){ NULL }, tree_env);
	cr_assert_eq(r.status, 64);
	run_vigil(&r, (const char *[]){ "--nope", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
}

Test(backends_cli, help_and_version)
{
	struct run r;

	run_vigil(&r, (const char *[]){ "--version", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "vigil " EXPECT_VERSION "\n");
	run_vigil(&r, (const char *[]){ "--help", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "  backends "), "%s", r.out);
	cr_assert(strstr(r.out, "Exit status:"), "%s", r.out);
	run_vigil(&r, (const char *[]){ "help", "backends", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	cr_assert(!strncmp(r.out, "Usage: vigil backends", 21), "%s", r.out);
	run_vigil(&r, (const char *[]){ "backends", "-h", NULL }, tree_env);
	cr_assert_eq(r.status, 0);
	cr_assert(!strncmp(r.out, "Usage: vigil backends", 21), "%s", r.out);
	run_vigil(&r, (const char *[]){ "help", "nope", NULL }, tree_env);
	cr_assert_eq(r.status, 64);
}

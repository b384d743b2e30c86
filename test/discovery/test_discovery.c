/*
 * Discovery library tests in the style of libvirt's descriptor tests: a
 * fixture tree (data/tree) with the three directories, holding overrides,
 * masks (empty file, symlink to /dev/null), symlinks, dot-files and broken
 * files, checked against the exact expected order. Cases that git cannot
 * store (FIFOs, huge files, permission bits) are built in a temporary
 * directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "discovery.h"
#include "discovery_parse.h"

#define TREE DISCOVERY_FIXTURES "/tree"
#define DATA_DIR TREE "/usr/share/vigil/backends"
#define ETC_DIR TREE "/etc/vigil/backends"
#define USER_DIR TREE "/home/user/.config/vigil/backends"

struct warning {
	char path[PATH_MAX];
	int err;
	char why[256];
};

struct warnings {
	struct warning v[32];
	size_t n;
};

static void collect_warn_cb(void *opaque, const char *path, int err, const char *why)
{
	struct warnings *w = opaque;

	cr_assert_lt(w->n, 32);
	snprintf(w->v[w->n].path, sizeof(w->v[w->n].path), "%s", path);
	snprintf(w->v[w->n].why, sizeof(w->v[w->n].why), "%s", why);
	w->v[w->n].err = err;
	w->n++;
}

static struct discovery *scan_dirs(const char *data, const char *etc, const char *user,
				   struct warnings *w)
{
	struct discovery_dirs dirs = { .dir = { (char *)data, (char *)etc, (char *)user } };
	struct discovery *d = NULL;

	cr_assert_eq(discovery_scan(&dirs, collect_warn_cb, w, &d), 0);
	cr_assert_not_null(d);
	return d;
}

static struct discovery *scan_tree(struct warnings *w)
{
	return scan_dirs(DATA_DIR, ETC_DIR, USER_DIR, w);
}

struct expect {
	const char *name;
	enum discovery_state state;
	enum discovery_origin origin;
	const char *binary;      /* DISCOVERY_OK only */
	int err;                 /* DISCOVERY_BROKEN only */
	size_t nr_shadowed;
};

#define OK(n, o, b, s) { n, DISCOVERY_OK, DISCOVERY_##o, b, 0, s }
#define MASKED(n, o, s) { n, DISCOVERY_MASKED, DISCOVERY_##o, NULL, 0, s }
#define BROKEN(n, o, e, s) { n, DISCOVERY_BROKEN, DISCOVERY_##o, NULL, -(e), s }

/* The whole tree, in the order management software must consider it. */
static const struct expect tree_expect[] = {
	OK("10-admin-first.json", SYSCONF, "/opt/vigil/bin/vigild", 0),
	OK("20-symlinked.json", DATA, "/usr/local/bin/vigild", 0),
	BROKEN("30-dangling.json", SYSCONF, ENOENT, 0),
	BROKEN("40-directory.json", SYSCONF, EISDIR, 0),
	OK("45-all-three.json", USER, "/home/user/bin/vigild-c", 2),
	OK("50-vfio-dma.json", SYSCONF, "/opt/vigil/bin/vfio-dma", 1),
	OK("50-vigild.json", DATA, "/usr/bin/vigild", 0),
	BROKEN("55-relative-binary.json", USER, EINVAL, 0),
	MASKED("60-masked-by-admin.json", SYSCONF, 1),
	MASKED("70-masked-by-user.json", USER, 1),
	BROKEN("80-broken-override.json", USER, EINVAL, 1),
	BROKEN("90-not-json.json", DATA, EINVAL, 0),
	BROKEN("95-missing-binary.json", DATA, EINVAL, 0),
	OK("99-user-last.json", USER, "/home/user/bin/vigild", 0),
};

static const char *const origin_dir[] = { DATA_DIR, ETC_DIR, USER_DIR };

Test(discovery, tree_lists_every_basename_in_exact_order)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	size_t n = sizeof(tree_expect) / sizeof(tree_expect[0]);

	cr_assert_eq(d->nr_entries, n, "got %zu entries", d->nr_entries);
	for (size_t i = 0; i < n; i++) {
		const struct discovery_entry *e = &d->entries[i];
		const struct expect *x = &tree_expect[i];
		char path[PATH_MAX];

		cr_assert_str_eq(e->name, x->name, "entry %zu", i);
		cr_assert_eq(e->state, x->state, "%s: state %d", e->name, e->state);
		cr_assert_eq(e->origin, x->origin, "%s: origin %d", e->name, e->origin);
		snprintf(path, sizeof(path), "%s/%s", origin_dir[x->origin], x->name);
		cr_assert_str_eq(e->path, path);
		cr_assert_eq(e->nr_shadowed, x->nr_shadowed, "%s", e->name);
		if (x->state == DISCOVERY_OK)
			cr_assert_str_eq(e->binary, x->binary, "%s", e->name);
		if (x->state == DISCOVERY_BROKEN)
			cr_assert_eq(e->err, x->err, "%s: err %d (%s)", e->name, e->err, e->why);
	}
	discovery_free(&d);
	cr_assert_null(d);
}

Test(discovery, one_warning_per_broken_file_naming_it)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	size_t k = 0;

	for (size_t i = 0; i < d->nr_entries; i++) {
		if (d->entries[i].state != DISCOVERY_BROKEN)
			continue;
		cr_assert_lt(k, w.n);
		cr_assert_str_eq(w.v[k].path, d->entries[i].path);
		cr_assert_eq(w.v[k].err, d->entries[i].err);
		cr_assert_str_eq(w.v[k].why, d->entries[i].why);
		k++;
	}
	cr_assert_eq(w.n, k, "%zu warnings for %zu broken files", w.n, k);
	cr_assert_eq(k, 6);
	discovery_free(&d);
}

static const struct discovery_entry *by_name(const struct discovery *d, const char *name)
{
	for (size_t i = 0; i < d->nr_entries; i++) {
		if (!strcmp(d->entries[i].name, name))
			return &d->entries[i];
	}
	cr_assert_fail("no entry %s", name);
	return NULL;
}

Test(discovery, most_specific_directory_wins_and_lists_what_it_hides)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	const struct discovery_entry *e = by_name(d, "45-all-three.json");

	cr_assert_str_eq(e->description, "in all three (user)");
	cr_assert_eq(e->nr_shadowed, 2);
	cr_assert_str_eq(e->shadowed[0], DATA_DIR "/45-all-three.json");
	cr_assert_str_eq(e->shadowed[1], ETC_DIR "/45-all-three.json");
	e = by_name(d, "50-vfio-dma.json");
	cr_assert_str_eq(e->description, "DMA engine device server (admin build)");
	cr_assert_str_eq(e->type, "vfio-user");
	cr_assert_str_eq(e->shadowed[0], DATA_DIR "/50-vfio-dma.json");
	discovery_free(&d);
}

Test(discovery, broken_file_still_overrides_the_less_specific_one)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	const struct discovery_entry *e = by_name(d, "80-broken-override.json");

	cr_assert_eq(e->state, DISCOVERY_BROKEN);
	cr_assert_null(e->binary);
	cr_assert_str_eq(e->why, "member \"type\" must be a string");
	cr_assert_str_eq(e->shadowed[0], DATA_DIR "/80-broken-override.json");
	discovery_free(&d);
}

Test(discovery, dot_files_are_ignored_and_do_not_override)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);

	for (size_t i = 0; i < d->nr_entries; i++)
		cr_assert_neq(d->entries[i].name[0], '.', "%s listed", d->entries[i].name);
	cr_assert_str_eq(by_name(d, "50-vigild.json")->binary, "/usr/bin/vigild");
	cr_assert_eq(by_name(d, "50-vigild.json")->nr_shadowed, 0);
	discovery_free(&d);
}

Test(discovery, tags_and_description_are_read)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	const struct discovery_entry *e = by_name(d, "50-vigild.json");

	cr_assert_str_eq(e->description, "vigil VMM (distro)");
	cr_assert_eq(e->nr_tags, 2);
	cr_assert_str_eq(e->tags[0], "CONFIG_KVMI=y");
	cr_assert_str_eq(e->tags[1], "CONFIG_PLUGIN=y");
	cr_assert_eq(by_name(d, "10-admin-first.json")->nr_tags, 0);
	discovery_free(&d);
}

Test(discovery, syntax_error_reports_line_and_column)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);
	const struct discovery_entry *e = by_name(d, "90-not-json.json");

	cr_assert(strstr(e->why, "invalid JSON at line 4, column 3"), "why: %s", e->why);
	cr_assert_str_eq(by_name(d, "95-missing-binary.json")->why,
			 "member \"binary\" is missing");
	cr_assert_str_eq(by_name(d, "55-relative-binary.json")->why,
			 "member \"binary\" must be an absolute path");
	discovery_free(&d);
}

Test(discovery, find_picks_first_valid_of_type)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_tree(&w);

	cr_assert_str_eq(discovery_find(d, "vmm")->name, "10-admin-first.json");
	cr_assert_str_eq(discovery_find(d, "vfio-user")->binary, "/opt/vigil/bin/vfio-dma");
	cr_assert_str_eq(discovery_find(d, NULL)->name, "10-admin-first.json");
	cr_assert_null(discovery_find(d, "gpu"));
	cr_assert_null(discovery_find(NULL, "vmm"));
	discovery_free(&d);
}

Test(discovery, each_directory_alone)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_dirs(DATA_DIR, NULL, NULL, &w);

	/* Without the overriding directories the distro files show through. */
	cr_assert_eq(d->nr_entries, 9);
	cr_assert_str_eq(by_name(d, "60-masked-by-admin.json")->binary, "/usr/bin/vigild-masked");
	cr_assert_str_eq(by_name(d, "80-broken-override.json")->binary, "/usr/bin/vigild-good");
	cr_assert_eq(w.n, 2, "only the two broken distro files warn");
	discovery_free(&d);
	w.n = 0;
	d = scan_dirs(NULL, NULL, USER_DIR, &w);
	cr_assert_eq(d->nr_entries, 5);
	cr_assert_eq(by_name(d, "70-masked-by-user.json")->state, DISCOVERY_MASKED);
	discovery_free(&d);
}

Test(discovery, missing_directories_are_silent)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_dirs(TREE "/nope1", TREE "/nope2", NULL, &w);

	cr_assert_eq(d->nr_entries, 0);
	cr_assert_eq(w.n, 0);
	cr_assert_null(discovery_find(d, NULL));
	discovery_free(&d);
}

Test(discovery, root_that_is_a_file_warns_and_others_still_listed)
{
	struct warnings w = { 0 };
	struct discovery *d = scan_dirs(DATA_DIR "/50-vigild.json", NULL, USER_DIR, &w);

	cr_assert_eq(w.n, 3, "the bad root plus the two broken user files");
	cr_assert_str_eq(w.v[0].path, DATA_DIR "/50-vigild.json");
	cr_assert_eq(w.v[0].err, -ENOTDIR);
	cr_assert_eq(d->nr_entries, 5);
	discovery_free(&d);
}

Test(discovery, bad_arguments)
{
	struct discovery *d = (struct discovery *)1;

	cr_assert_eq(discovery_scan(NULL, NULL, NULL, &d), -EINVAL);
	cr_assert_null(d);
	cr_assert_eq(discovery_scan(NULL, NULL, NULL, NULL), -EINVAL);
	discovery_free(NULL);
	d = NULL;
	discovery_free(&d);
	cr_assert_str_eq(discovery_origin_name(DISCOVERY_USER), "user");
	cr_assert_str_eq(discovery_origin_name(DISCOVERY_NR_ORIGINS), "?");
}

/* ------------------------------------------------------------ default dirs */

Test(discovery_dirs, roots_get_backends_and_xdg_config_home_is_used)
{
	struct discovery_dirs dirs;

	setenv("XDG_CONFIG_HOME", "/xdg/conf", 1);
	setenv("HOME", "/home/someone", 1);
	cr_assert_eq(discovery_dirs_init(&dirs, "/usr/share/vigil", "/etc/vigil"), 0);
	cr_assert_str_eq(dirs.dir[DISCOVERY_DATA], "/usr/share/vigil/backends");
	cr_assert_str_eq(dirs.dir[DISCOVERY_SYSCONF], "/etc/vigil/backends");
	cr_assert_str_eq(dirs.dir[DISCOVERY_USER], "/xdg/conf/vigil/backends");
	discovery_dirs_fini(&dirs);
	cr_assert_null(dirs.dir[DISCOVERY_DATA]);
}

Test(discovery_dirs, default_config_home_is_home_dot_config)
{
	struct discovery_dirs dirs;

	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/someone", 1);
	cr_assert_eq(discovery_dirs_init(&dirs, "/d", "/e"), 0);
	cr_assert_str_eq(dirs.dir[DISCOVERY_USER], "/home/someone/.config/vigil/backends");
	discovery_dirs_fini(&dirs);
	/* The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored. */
	setenv("XDG_CONFIG_HOME", "relative/conf", 1);
	cr_assert_eq(discovery_dirs_init(&dirs, "/d", "/e"), 0);
	cr_assert_str_eq(dirs.dir[DISCOVERY_USER], "/home/someone/.config/vigil/backends");
	discovery_dirs_fini(&dirs);
}

Test(discovery_dirs, null_roots_skip_those_origins)
{
	struct discovery_dirs dirs;

	setenv("XDG_CONFIG_HOME", "/x", 1);
	cr_assert_eq(discovery_dirs_init(&dirs, NULL, NULL), 0);
	cr_assert_null(dirs.dir[DISCOVERY_DATA]);
	cr_assert_null(dirs.dir[DISCOVERY_SYSCONF]);
	cr_assert_str_eq(dirs.dir[DISCOVERY_USER], "/x/vigil/backends");
	discovery_dirs_fini(&dirs);
}

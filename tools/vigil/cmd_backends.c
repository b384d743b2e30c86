/*
 * vigil backends [--type T] [--all] [--json] [--first] [--paths]: list the
 * backend descriptors found by the discovery rules, in the order management
 * software must consider them, with the file each one came from.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "discovery.h"
#include "vigil.h"

struct backends_opts {
	const char *type;
	bool all, json, first, paths;
};

static void backends_usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil backends [--type TYPE] [--all] [--json] [--first] [--paths]\n"
		"\n"
		"List the JSON descriptors of vigil programs (vigild, device servers) in the\n"
		"order management software must consider them. Searched, general first:\n"
		"  %s/backends   (packages; $VIGIL_DATADIR overrides %s)\n"
		"  %s/backends   (the sysadmin; $VIGIL_SYSCONFDIR overrides %s)\n"
		"  $XDG_CONFIG_HOME/vigil/backends (the user; default ~/.config)\n"
		"Files are ordered by name; a file in a more specific directory replaces\n"
		"the one of the same name in a less specific one, an empty file hides it,\n"
		"and names starting with '.' are ignored.\n"
		"\n"
		"Options:\n"
		"  -t, --type TYPE  only descriptors of this type (vmm, vfio-user, ...)\n"
		"  -a, --all        also list masked and broken files, and what each hides\n"
		"  -j, --json       print a JSON array instead of a table\n"
		"  -1, --first      print only the binary of the first match: the one to use\n"
		"  -p, --paths      print the directories searched, and exit\n"
		"  -h, --help       show this help and exit\n"
		"\n"
		"Exit status: 0 if at least one valid descriptor matched, 1 if none did,\n"
		"64 for a bad command line, 71 when out of memory. Unreadable or invalid\n"
		"files are reported on stderr and do not change the status.\n",
		VIGIL_DEFAULT_DATADIR, VIGIL_DEFAULT_DATADIR,
		VIGIL_DEFAULT_SYSCONFDIR, VIGIL_DEFAULT_SYSCONFDIR);
}

static void backends_warn_cb(void *opaque, const char *path, int err, const char *why)
{
	(void)opaque;
	(void)err;
	vigil_warn("%s: %s", path, why);
}

static bool selected(const struct backends_opts *o, const struct discovery_entry *e)
{
	if (e->state != DISCOVERY_OK)
		return o->all && !o->type;
	return !o->type || !strcmp(e->type, o->type);
}

static const char *state_name(enum discovery_state s)
{
	return s == DISCOVERY_OK ? "ok" : s == DISCOVERY_MASKED ? "masked" : "broken";
}

static void print_table(const struct backends_opts *o, const struct discovery *d)
{
	int wname = 4, wtype = 4, wbin = 6;

	for (size_t i = 0; i < d->nr_entries; i++) {
		const struct discovery_entry *e = &d->entries[i];

		if (!selected(o, e))
			continue;
		wname = (int)strlen(e->name) > wname ? (int)strlen(e->name) : wname;
		if (e->state == DISCOVERY_OK) {
			wtype = (int)strlen(e->type) > wtype ? (int)strlen(e->type) : wtype;
			wbin = (int)strlen(e->binary) > wbin ? (int)strlen(e->binary) : wbin;
		}
	}
	printf("%-*s  %-*s  %-*s  %-7s  %s%s\n", wname, "NAME", wtype, "TYPE", wbin, "BINARY",
	       "ORIGIN", o->all ? "STATE   " : "", "PATH");
	for (size_t i = 0; i < d->nr_entries; i++) {
		const struct discovery_entry *e = &d->entries[i];
		bool ok = e->state == DISCOVERY_OK;

		if (!selected(o, e))
			continue;
		printf("%-*s  %-*s  %-*s  %-7s  ", wname, e->name, wtype, ok ? e->type : "-",
		       wbin, ok ? e->binary : "-", discovery_origin_name(e->origin));
		if (o->all)
			printf("%-6s  ", state_name(e->state));
		printf("%s\n", e->path);
		for (size_t j = 0; o->all && j < e->nr_shadowed; j++)
			printf("%*s  overrides %s\n", wname, "", e->shadowed[j]);
	}
}

static struct json_object *strings_json(char *const *v, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

static struct json_object *entry_json(const struct discovery_entry *e)
{
	struct json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	json_object_object_add(obj, "name", json_object_new_string(e->name));
	json_object_object_add(obj, "state", json_object_new_string(state_name(e->state)));
	if (e->state == DISCOVERY_OK) {
		json_object_object_add(obj, "description", json_object_new_string(e->description));
		json_object_object_add(obj, "type", json_object_new_string(e->type));
		json_object_object_add(obj, "binary", json_object_new_string(e->binary));
		json_object_object_add(obj, "tags", strings_json(e->tags, e->nr_tags));
	}
	if (e->state == DISCOVERY_BROKEN) {
		json_object_object_add(obj, "error", json_object_new_string(e->why));
		json_object_object_add(obj, "errno", json_object_new_int(-e->err));
	}
	json_object_object_add(obj, "origin",
			       json_object_new_string(discovery_origin_name(e->origin)));
	json_object_object_add(obj, "path", json_object_new_string(e->path));
	json_object_object_add(obj, "overrides", strings_json(e->shadowed, e->nr_shadowed));
	return obj;
}

static int print_json(const struct backends_opts *o, const struct discovery *d)
{
	struct json_object *arr = json_object_new_array();

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < d->nr_entries; i++) {
		if (selected(o, &d->entries[i]))
			json_object_array_add(arr, entry_json(&d->entries[i]));
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return 0;
}

static int print_paths(const struct discovery_dirs *dirs)
{
	for (int i = 0; i < DISCOVERY_NR_ORIGINS; i++)
		printf("%-7s  %s\n", discovery_origin_name(i),
		       dirs->dir[i] ? dirs->dir[i] : "(none: no home directory)");
	return VIGIL_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct backends_opts *o)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "first", no_argument, NULL, '1' },
		{ "paths", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "t:aj1ph", opts, NULL)) != -1) {
		switch (c) {
		case 't': o->type = optarg; break;
		case 'a': o->all = true; break;
		case 'j': o->json = true; break;
		case '1': o->first = true; break;
		case 'p': o->paths = true; break;
		case 'h': backends_usage(stdout); return 1;
		default: return -EINVAL;
		}
	}
	if (optind < argc) {
		vigil_err("backends: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (o->first && (o->all || o->json)) {
		vigil_err("backends: --first cannot be combined with --all or --json");
		return -EINVAL;
	}
	return 0;
}

static int list(const struct backends_opts *o, const struct discovery_dirs *dirs)
{
	const struct discovery_entry *first;
	struct discovery *d = NULL;
	size_t matched = 0;
	int ret;

	ret = discovery_scan(dirs, backends_warn_cb, NULL, &d);
	if (ret) {
		vigil_err("backends: %s", strerror(-ret));
		return VIGIL_EXIT_OSERR;
	}
	for (size_t i = 0; i < d->nr_entries; i++)
		matched += d->entries[i].state == DISCOVERY_OK && selected(o, &d->entries[i]);
	if (o->first) {
		first = discovery_find(d, o->type);
		if (first)
			printf("%s\n", first->binary);
	} else if (o->json) {
		ret = print_json(o, d);
	} else {
		print_table(o, d);
	}
	discovery_free(&d);
	if (ret) {
		vigil_err("backends: %s", strerror(-ret));
		return VIGIL_EXIT_OSERR;
	}
	return matched ? VIGIL_EXIT_OK : VIGIL_EXIT_NOTFOUND;
}

int cmd_backends(int argc, char **argv)
{
	struct backends_opts o = { 0 };
	struct discovery_dirs dirs;
	const char *datadir = getenv("VIGIL_DATADIR");
	const char *sysconfdir = getenv("VIGIL_SYSCONFDIR");
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret > 0 ? VIGIL_EXIT_OK : vigil_usage_error("backends");
	ret = discovery_dirs_init(&dirs, datadir && *datadir ? datadir : VIGIL_DEFAULT_DATADIR,
				  sysconfdir && *sysconfdir ? sysconfdir
							    : VIGIL_DEFAULT_SYSCONFDIR);
	if (ret) {
		vigil_err("backends: %s", strerror(-ret));
		return VIGIL_EXIT_OSERR;
	}
	ret = o.paths ? print_paths(&dirs) : list(&o, &dirs);
	discovery_dirs_fini(&dirs);
	return ret;
}

/*
 * Backend discovery (see discovery.h for the rules). The scan collects every
 * (basename, origin, path) triple from the three directories, sorts them by
 * basename and then by origin, and keeps the most specific path of each
 * basename; only that file is opened and parsed.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "discovery_parse.h"

struct candidate {
	char *name;
	char *path;
	enum discovery_origin origin;
};

struct candidates {
	struct candidate *v;
	size_t n, cap;
};

const char *discovery_origin_name(enum discovery_origin origin)
{
	static const char *const names[DISCOVERY_NR_ORIGINS] = {
		[DISCOVERY_DATA] = "data",
		[DISCOVERY_SYSCONF] = "sysconf",
		[DISCOVERY_USER] = "user",
	};

	if ((unsigned)origin >= DISCOVERY_NR_ORIGINS)
		return "?";
	return names[origin];
}

static char *path_join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/* The XDG config home, or NULL if the user has no usable home directory. */
static char *config_home(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (xdg && xdg[0] == '/')
		return strdup(xdg);
	if (!home || home[0] != '/') {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || home[0] != '/')
		return NULL;
	return path_join(home, ".config");
}

int discovery_dirs_init(struct discovery_dirs *dirs, const char *vigil_datadir,
			const char *vigil_sysconfdir)
{
	char *home;

	memset(dirs, 0, sizeof(*dirs));
	if (vigil_datadir && !(dirs->dir[DISCOVERY_DATA] = path_join(vigil_datadir, "backends")))
		goto nomem;
	if (vigil_sysconfdir &&
	    !(dirs->dir[DISCOVERY_SYSCONF] = path_join(vigil_sysconfdir, "backends")))
		goto nomem;
	home = config_home();
	if (home) {
		dirs->dir[DISCOVERY_USER] = path_join(home, "vigil/backends");
		free(home);
		if (!dirs->dir[DISCOVERY_USER])
			goto nomem;
	}
	return 0;
nomem:
	discovery_dirs_fini(dirs);
	return -ENOMEM;
}

void discovery_dirs_fini(struct discovery_dirs *dirs)
{
	for (int i = 0; i < DISCOVERY_NR_ORIGINS; i++) {
		free(dirs->dir[i]);
		dirs->dir[i] = NULL;
	}
}

static int candidates_add(struct candidates *c, const char *dir, const char *name,
			  enum discovery_origin origin)
{
	struct candidate *cand;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct candidate *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	cand = &c->v[c->n];
	cand->origin = origin;
	cand->name = strdup(name);
	cand->path = path_join(dir, name);
	if (!cand->name || !cand->path) {
		free(cand->name);
		free(cand->path);
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

static void candidates_fini(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].path);
	}
	free(c->v);
}

static void warnf(discovery_warn_fn warn, void *opaque, const char *path, int err,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void warnf(discovery_warn_fn warn, void *opaque, const char *path, int err,
		  const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	warn(opaque, path, err, why);
}

/* Add every non-dot entry of @dir. A missing directory is not an error. */
static int scan_dir(struct candidates *c, const char *dir, enum discovery_origin origin,
		    discovery_warn_fn warn, void *opaque)
{
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			warnf(warn, opaque, dir, -errno, "cannot read directory: %s",
			      strerror(errno));
		return 0;
	}
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ret = candidates_add(c, dir, de->d_name, origin);
		if (ret)
			break;
	}
	if (!ret && errno)
		warnf(warn, opaque, dir, -errno, "error reading directory: %s", strerror(errno));
	closedir(d);
	return ret;
}

/* Byte order of basenames, then general before specific. */
static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return (int)x->origin - (int)y->origin;
}

static void entry_fini(struct discovery_entry *e)
{
	free(e->name);
	free(e->path);
	free(e->description);
	free(e->type);
	free(e->binary);
	for (size_t i = 0; i < e->nr_tags; i++)
		free(e->tags[i]);
	free(e->tags);
	free(e->why);
	for (size_t i = 0; i < e->nr_shadowed; i++)
		free(e->shadowed[i]);
	free(e->shadowed);
}

/*
 * Build the entry for candidates [first, last]: the last one takes effect and
 * the path strings are moved out of the candidates.
 */
static int entry_init(struct discovery_entry *e, struct candidate *first, size_t count)
{
	struct candidate *eff = &first[count - 1];

	memset(e, 0, sizeof(*e));
	if (count > 1) {
		e->shadowed = calloc(count - 1, sizeof(*e->shadowed));
		if (!e->shadowed)
			return -ENOMEM;
		for (size_t i = 0; i + 1 < count; i++) {
			e->shadowed[i] = first[i].path;
			first[i].path = NULL;
		}
		e->nr_shadowed = count - 1;
	}
	e->name = eff->name;
	e->path = eff->path;
	e->origin = eff->origin;
	eff->name = NULL;
	eff->path = NULL;
	return 0;
}

static int set_broken(struct discovery_entry *e, int err, const char *why,
		      discovery_warn_fn warn, void *opaque)
{
	e->state = DISCOVERY_BROKEN;
	e->err = err;
	e->why = strdup(why);
	if (!e->why)
		return -ENOMEM;
	if (warn)
		warn(opaque, e->path, err, why);
	return 0;
}

/* Open, classify and parse the file that took effect for @e. */
static int entry_load(struct discovery_entry *e, discovery_warn_fn warn, void *opaque)
{
	struct descriptor_text text;
	char why[256];
	int ret;

	ret = descriptor_read(e->path, &text, why, sizeof(why));
	if (ret == DESCRIPTOR_MASKED) {
		e->state = DISCOVERY_MASKED;
		return 0;
	}
	if (ret < 0)
		return ret == -ENOMEM ? ret : set_broken(e, ret, why, warn, opaque);
	ret = descriptor_parse(&text, e, why, sizeof(why));
	free(text.buf);
	if (ret < 0)
		return ret == -ENOMEM ? ret : set_broken(e, ret, why, warn, opaque);
	e->state = DISCOVERY_OK;
	return 0;
}

static int build_entries(struct discovery *d, struct candidates *c,
			 discovery_warn_fn warn, void *opaque)
{
	size_t i = 0, j;
	int ret;

	d->entries = calloc(c->n ? c->n : 1, sizeof(*d->entries));
	if (!d->entries)
		return -ENOMEM;
	while (i < c->n) {
		for (j = i + 1; j < c->n && !strcmp(c->v[j].name, c->v[i].name); j++)
			;
		ret = entry_init(&d->entries[d->nr_entries], &c->v[i], j - i);
		if (ret)
			return ret;
		d->nr_entries++;
		ret = entry_load(&d->entries[d->nr_entries - 1], warn, opaque);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

int discovery_scan(const struct discovery_dirs *dirs, discovery_warn_fn warn,
		   void *opaque, struct discovery **out)
{
	struct candidates c = { 0 };
	struct discovery *d;
	int ret = 0;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dirs)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (int o = 0; o < DISCOVERY_NR_ORIGINS && !ret; o++) {
		if (dirs->dir[o])
			ret = scan_dir(&c, dirs->dir[o], o, warn, opaque);
	}
	if (!ret) {
		if (c.n)
			qsort(c.v, c.n, sizeof(*c.v), candidate_cmp);
		ret = build_entries(d, &c, warn, opaque);
	}
	candidates_fini(&c);
	if (ret) {
		discovery_free(&d);
		return ret;
	}
	*out = d;
	return 0;
}

void discovery_free(struct discovery **dp)
{
	struct discovery *d = dp ? *dp : NULL;

	if (!d)
		return;
	for (size_t i = 0; i < d->nr_entries; i++)
		entry_fini(&d->entries[i]);
	free(d->entries);
	free(d);
	*dp = NULL;
}

const struct discovery_entry *discovery_find(const struct discovery *d, const char *type)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nr_entries; i++) {
		const struct discovery_entry *e = &d->entries[i];

		if (e->state == DISCOVERY_OK && (!type || !strcmp(e->type, type)))
			return e;
	}
	return NULL;
}

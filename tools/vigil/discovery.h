/*
 * Backend discovery: find the JSON descriptors of vigil's programs the way
 * QEMU's vhost-user backend schema (docs/interop/vhost-user.json) says
 * management software should find vhost-user backends.
 *
 * Three directories are searched, from general to specific:
 *
 *   DISCOVERY_DATA     <datadir>/vigil/backends      (distro packages)
 *   DISCOVERY_SYSCONF  <sysconfdir>/vigil/backends   (the sysadmin)
 *   DISCOVERY_USER     $XDG_CONFIG_HOME/vigil/backends (the user; the
 *                      default for XDG_CONFIG_HOME is $HOME/.config)
 *
 * Every entry not starting with '.' names a descriptor by its basename. The
 * list is sorted by basename (byte order, not locale order). When several
 * directories hold the same basename, the most specific one takes effect and
 * the others are "shadowed". If the file that takes effect has length zero
 * (or is a symlink to /dev/null, systemd's convention), the basename is
 * masked: it hides the less specific ones and is not listed itself.
 *
 * A descriptor is one JSON object:
 *   { "description": "...", "type": "vmm", "binary": "/abs/path",
 *     "tags": [ "...", ... ] }            (tags optional, never interpreted)
 * Members not listed here are ignored, so newer descriptors stay readable.
 *
 * A file that cannot be read or is not a valid descriptor is reported to the
 * warning callback, kept in the result as DISCOVERY_BROKEN, and the rest of
 * the list is unaffected. It still overrides the less specific files of the
 * same name: the admin's intent was to replace them.
 *
 * This library never prints.
 */
#ifndef VIGIL_DISCOVERY_H
#define VIGIL_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

enum discovery_origin {
	DISCOVERY_DATA = 0,
	DISCOVERY_SYSCONF,
	DISCOVERY_USER,
	DISCOVERY_NR_ORIGINS,
};

/* The backends directory searched for each origin; NULL: skip that origin. */
struct discovery_dirs {
	char *dir[DISCOVERY_NR_ORIGINS];
};

enum discovery_state {
	DISCOVERY_OK = 0,   /* a valid descriptor */
	DISCOVERY_MASKED,   /* zero-length file or symlink to /dev/null */
	DISCOVERY_BROKEN,   /* unreadable or invalid: see err and why */
};

struct discovery_entry {
	char *name;                     /* basename, the sort key */
	char *path;                     /* the file that took effect */
	enum discovery_origin origin;   /* where @path lives */
	enum discovery_state state;
	/* DISCOVERY_OK only: */
	char *description;
	char *type;
	char *binary;
	char **tags;
	size_t nr_tags;
	/* DISCOVERY_BROKEN only: -errno and a human-readable reason. */
	int err;
	char *why;
	/* Less specific files of the same basename, general first. */
	char **shadowed;
	size_t nr_shadowed;
};

struct discovery {
	struct discovery_entry *entries;   /* sorted by name */
	size_t nr_entries;
};

/*
 * Called once per problem: @path is the file or directory concerned, @err a
 * negative errno, @why one line without a trailing newline.
 */
typedef void (*discovery_warn_fn)(void *opaque, const char *path, int err,
				  const char *why);

/* Name of an origin for humans and JSON: "data", "sysconf", "user". */
const char *discovery_origin_name(enum discovery_origin origin);

/*
 * Fill @dirs with "<vigil_datadir>/backends", "<vigil_sysconfdir>/backends"
 * and "<config home>/vigil/backends", where vigil_datadir is for example
 * /usr/share/vigil. The config home is $XDG_CONFIG_HOME when it is set to an
 * absolute path (the XDG spec says to ignore relative ones), else
 * $HOME/.config, else the passwd entry's home directory plus /.config; if
 * there is no home at all the user origin is left NULL.
 * Returns 0 or -ENOMEM; on failure @dirs is left empty.
 */
int discovery_dirs_init(struct discovery_dirs *dirs, const char *vigil_datadir,
			const char *vigil_sysconfdir);
/* Free the strings in @dirs and set them to NULL. */
void discovery_dirs_fini(struct discovery_dirs *dirs);

/*
 * Search @dirs and build the sorted list in *@out (free it with
 * discovery_free). Missing directories are skipped silently; directories that
 * exist but cannot be read, and broken descriptors, are reported to @warn
 * (may be NULL) and the scan goes on.
 * Returns 0, or -ENOMEM / -EINVAL (NULL argument); *@out is NULL on failure.
 */
int discovery_scan(const struct discovery_dirs *dirs, discovery_warn_fn warn,
		   void *opaque, struct discovery **out);

/* Free a result; accepts NULL and sets *@d to NULL. */
void discovery_free(struct discovery **d);

/*
 * The first valid descriptor of @type (any type if NULL) in list order: the
 * one management software should choose. NULL if there is none.
 */
const struct discovery_entry *discovery_find(const struct discovery *d,
					     const char *type);

#endif

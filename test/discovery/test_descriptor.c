/*
 * One descriptor file at a time: what the parser accepts and refuses, and the
 * kinds of files git cannot store in a fixture tree (FIFOs, device symlinks,
 * huge files, permission bits), built in a temporary directory.
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

/* Parse @json; returns the error and leaves the reason in @why. */
static int parse(const char *json, struct discovery_entry *e, char *why, size_t why_len)
{
	struct descriptor_text text = { .buf = (char *)json, .len = strlen(json) };

	memset(e, 0, sizeof(*e));
	why[0] = '\0';
	return descriptor_parse(&text, e, why, why_len);
}

static void entry_clear(struct discovery_entry *e)
{
	free(e->description);
	free(e->type);
	free(e->binary);
	for (size_t i = 0; i < e->nr_tags; i++)
		free(e->tags[i]);
	free(e->tags);
}

static void expect_invalid(const char *json, const char *why_part)
{
	struct discovery_entry e;
	char why[256];

	cr_assert_eq(parse(json, &e, why, sizeof(why)), -EINVAL, "accepted: %s", json);
	cr_assert(strstr(why, why_part), "for %s: why '%s' lacks '%s'", json, why, why_part);
	cr_assert_null(e.description);
	cr_assert_null(e.type);
	cr_assert_null(e.binary);
	cr_assert_null(e.tags);
}

Test(descriptor, minimal_valid)
{
	struct discovery_entry e;
	char why[256];

	cr_assert_eq(parse("{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\"}", &e, why,
			   sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(e.description, "d");
	cr_assert_str_eq(e.type, "vmm");
	cr_assert_str_eq(e.binary, "/b");
	cr_assert_eq(e.nr_tags, 0);
	entry_clear(&e);
}

Test(descriptor, unknown_members_are_ignored)
{
	struct discovery_entry e;
	char why[256];

	cr_assert_eq(parse("{\"description\":\"d\",\"type\":\"vfio-user\",\"binary\":\"/b\","
			   "\"tags\":[],\"future\":{\"x\":[1,2]}}\n\n", &e, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(e.type, "vfio-user");
	entry_clear(&e);
}

Test(descriptor, syntax_errors)
{
	expect_invalid("", "invalid JSON at line 1, column 1");
	expect_invalid("   \n\t", "invalid JSON at line 2");
	expect_invalid("{\"description\":\"d\",", "unexpected end of data");
	expect_invalid("{\"a\":1,}", "invalid JSON");
	expect_invalid("{\"a\":1} {\"b\":2}", "line 1, column 9: trailing characters");
	expect_invalid("{\"a\":1}\nx", "line 2, column 1: trailing characters");
	expect_invalid("{\"description\":\"\xff\xfe\"}", "invalid JSON");
}

Test(descriptor, embedded_nul_in_file_is_refused)
{
	static const char buf[] = "{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\"}\0junk";
	struct descriptor_text text = { .buf = (char *)buf, .len = sizeof(buf) - 1 };
	struct discovery_entry e = { 0 };
	char why[256];

	cr_assert_eq(descriptor_parse(&text, &e, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "trailing characters"), "%s", why);
}

Test(descriptor, wrong_shapes)
{
	expect_invalid("[1,2]", "the top level must be a JSON object");
	expect_invalid("\"vmm\"", "the top level must be a JSON object");
	expect_invalid("42", "the top level must be a JSON object");
	expect_invalid("{\"type\":\"vmm\",\"binary\":\"/b\"}", "\"description\" is missing");
	expect_invalid("{\"description\":\"d\",\"binary\":\"/b\"}", "\"type\" is missing");
	expect_invalid("{\"description\":null,\"type\":\"vmm\",\"binary\":\"/b\"}",
		       "\"description\" must be a string");
	expect_invalid("{\"description\":\"d\",\"type\":\"vmm\",\"binary\":[\"/b\"]}",
		       "\"binary\" must be a string");
	expect_invalid("{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"\"}",
		       "must be an absolute path");
	expect_invalid("{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\",\"tags\":\"x\"}",
		       "\"tags\" must be an array of strings");
	expect_invalid("{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\",\"tags\":[\"a\",1]}",
		       "element 1 is not a string");
	expect_invalid("{\"description\":\"d\\u0000x\",\"type\":\"vmm\",\"binary\":\"/b\"}",
		       "contains a NUL character");
}

Test(descriptor, type_must_be_a_short_identifier)
{
	expect_invalid("{\"description\":\"d\",\"type\":\"\",\"binary\":\"/b\"}", "\"type\" must be");
	expect_invalid("{\"description\":\"d\",\"type\":\"VMM\",\"binary\":\"/b\"}", "\"type\" must be");
	expect_invalid("{\"description\":\"d\",\"type\":\"a b\",\"binary\":\"/b\"}", "\"type\" must be");
	expect_invalid("{\"description\":\"d\",\"type\":"
		       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		       "\"binary\":\"/b\"}", "\"type\" must be");
}

/* ------------------------------------------------------------ files on disk */

static char tmpdir[] = "/tmp/vigil-discovery-XXXXXX";

static void mktree(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void rmtree(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *content, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(content, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static int read_one(const char *name, char *why, size_t why_len)
{
	struct descriptor_text text;
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ret = descriptor_read(path, &text, why, why_len);
	if (ret == 0)
		free(text.buf);
	return ret;
}

TestSuite(descriptor_file, .init = mktree, .fini = rmtree);

Test(descriptor_file, fifo_is_refused_without_blocking)
{
	char path[PATH_MAX], why[256];

	snprintf(path, sizeof(path), "%s/10-fifo.json", tmpdir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	cr_assert_eq(read_one("10-fifo.json", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "not a regular file");
}

Test(descriptor_file, symlink_to_other_device_is_refused_dev_null_masks)
{
	char path[PATH_MAX], why[256];

	snprintf(path, sizeof(path), "%s/10-zero.json", tmpdir);
	cr_assert_eq(symlink("/dev/zero", path), 0);
	cr_assert_eq(read_one("10-zero.json", why, sizeof(why)), -EINVAL);
	snprintf(path, sizeof(path), "%s/20-null.json", tmpdir);
	cr_assert_eq(symlink("/dev/null", path), 0);
	cr_assert_eq(read_one("20-null.json", why, sizeof(why)), DESCRIPTOR_MASKED);
}

Test(descriptor_file, symlink_loop_is_refused)
{
	char path[PATH_MAX], why[256];

	snprintf(path, sizeof(path), "%s/10-loop.json", tmpdir);
	cr_assert_eq(symlink("10-loop.json", path), 0);
	cr_assert_eq(read_one("10-loop.json", why, sizeof(why)), -ELOOP);
	cr_assert(strstr(why, "cannot open"), "%s", why);
}

Test(descriptor_file, size_limit)
{
	char *big = malloc(DESCRIPTOR_MAX_SIZE + 1);
	char why[256];

	cr_assert_not_null(big);
	memset(big, ' ', DESCRIPTOR_MAX_SIZE + 1);
	write_file("10-at-limit.json", big, DESCRIPTOR_MAX_SIZE);
	write_file("20-too-big.json", big, DESCRIPTOR_MAX_SIZE + 1);
	free(big);
	cr_assert_eq(read_one("10-at-limit.json", why, sizeof(why)), 0);
	cr_assert_eq(read_one("20-too-big.json", why, sizeof(why)), -EFBIG);
	cr_assert(strstr(why, "too large"), "%s", why);
}

Test(descriptor_file, whitespace_only_is_broken_not_masked)
{
	char why[256];

	write_file("10-space.json", "\n", 1);
	cr_assert_eq(read_one("10-space.json", why, sizeof(why)), 0);
	write_file("20-empty.json", "", 0);
	cr_assert_eq(read_one("20-empty.json", why, sizeof(why)), DESCRIPTOR_MASKED);
}

Test(descriptor_file, unreadable_file_warns_and_rest_listed)
{
	const char *good = "{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\"}";
	struct discovery_dirs dirs = { .dir = { tmpdir, NULL, NULL } };
	struct discovery *d = NULL;
	char path[PATH_MAX];

	if (geteuid() == 0)
		cr_skip_test("running as root: permission bits do not stop root from reading "
			     "(the dangling-symlink and directory fixtures cover unreadable "
			     "files here)");
	write_file("10-secret.json", good, strlen(good));
	write_file("20-good.json", good, strlen(good));
	snprintf(path, sizeof(path), "%s/10-secret.json", tmpdir);
	cr_assert_eq(chmod(path, 0), 0);
	cr_assert_eq(discovery_scan(&dirs, NULL, NULL, &d), 0);
	cr_assert_eq(d->nr_entries, 2);
	cr_assert_eq(d->entries[0].state, DISCOVERY_BROKEN);
	cr_assert_eq(d->entries[0].err, -EACCES);
	cr_assert_eq(d->entries[1].state, DISCOVERY_OK);
	discovery_free(&d);
}

Test(descriptor_file, byte_order_not_locale_order)
{
	const char *good = "{\"description\":\"d\",\"type\":\"vmm\",\"binary\":\"/b\"}";
	static const char *const names[] = { "50-b.json", "50-B.json", "5-a.json", "50-a.json",
					     "A.json", "~.json", "050.json" };
	static const char *const sorted[] = { "050.json", "5-a.json", "50-B.json", "50-a.json",
					      "50-b.json", "A.json", "~.json" };
	struct discovery_dirs dirs = { .dir = { NULL, tmpdir, NULL } };
	struct discovery *d = NULL;

	for (size_t i = 0; i < 7; i++)
		write_file(names[i], good, strlen(good));
	cr_assert_eq(discovery_scan(&dirs, NULL, NULL, &d), 0);
	cr_assert_eq(d->nr_entries, 7);
	for (size_t i = 0; i < 7; i++) {
		cr_assert_str_eq(d->entries[i].name, sorted[i]);
		cr_assert_eq(d->entries[i].origin, DISCOVERY_SYSCONF);
	}
	discovery_free(&d);
}

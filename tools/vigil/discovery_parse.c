/* Reading and validating one backend descriptor (see discovery_parse.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-c/json.h>

#include "discovery_parse.h"

static int fail(int err, char *why, size_t why_len, const char *msg)
{
	snprintf(why, why_len, "%s", msg);
	return err;
}

static bool is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

static int read_all(int fd, struct descriptor_text *text, size_t size, char *why,
		    size_t why_len)
{
	size_t got = 0;
	ssize_t n;

	/* One byte more than fstat said, to notice a file growing under us. */
	text->buf = malloc(size + 2);
	if (!text->buf)
		return -ENOMEM;
	while (got < size + 1) {
		n = read(fd, text->buf + got, size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			snprintf(why, why_len, "cannot read: %s", strerror(errno));
			free(text->buf);
			text->buf = NULL;
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text->buf[got] = '\0';
	text->len = got;
	return 0;
}

int descriptor_read(const char *path, struct descriptor_text *text, char *why,
		    size_t why_len)
{
	struct stat st;
	int fd, ret;

	text->buf = NULL;
	text->len = 0;
	/* O_NONBLOCK: a FIFO planted in the directory must not hang the scan. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot stat: %s", strerror(errno));
	} else if (is_dev_null(&st) || (S_ISREG(st.st_mode) && st.st_size == 0)) {
		ret = DESCRIPTOR_MASKED;
	} else if (S_ISDIR(st.st_mode)) {
		ret = fail(-EISDIR, why, why_len, "is a directory, not a descriptor file");
	} else if (!S_ISREG(st.st_mode)) {
		ret = fail(-EINVAL, why, why_len, "not a regular file");
	} else if (st.st_size > DESCRIPTOR_MAX_SIZE) {
		snprintf(why, why_len, "file too large (%lld bytes, limit %d)",
			 (long long)st.st_size, DESCRIPTOR_MAX_SIZE);
		ret = -EFBIG;
	} else {
		ret = read_all(fd, text, (size_t)st.st_size, why, why_len);
		if (!ret && text->len > (size_t)st.st_size) {
			free(text->buf);
			text->buf = NULL;
			ret = fail(-EAGAIN, why, why_len, "file changed while being read");
		}
	}
	close(fd);
	return ret;
}

/* Line and column (1-based) of byte @off, for syntax error messages. */
static void position(const char *buf, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_json(const struct descriptor_text *text, struct json_object **out,
		      char *why, size_t why_len)
{
	struct json_tokener *tok = json_tokener_new_ex(16);
	struct json_object *obj;
	unsigned line, col;
	size_t end;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	/* Include the NUL so that a bare number at the end is terminated. */
	obj = json_tokener_parse_ex(tok, text->buf, (int)text->len + 1);
	end = json_tokener_get_parse_end(tok);
	if (!obj) {
		position(text->buf, end, &line, &col);
		snprintf(why, why_len, "invalid JSON at line %u, column %u: %s", line, col,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	while (end < text->len && strchr(" \t\r\n", text->buf[end]))
		end++;
	if (end < text->len) {
		position(text->buf, end, &line, &col);
		snprintf(why, why_len, "invalid JSON at line %u, column %u: "
			 "trailing characters after the object", line, col);
		json_object_put(obj);
		return -EINVAL;
	}
	*out = obj;
	return 0;
}

/* A string member: copied into *@out; NULL allowed only if !@required. */
static int get_string(struct json_object *obj, const char *key, bool required, char **out,
		      char *why, size_t why_len)
{
	struct json_object *v;
	const char *s;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v)) {
		if (!required)
			return 0;
		snprintf(why, why_len, "member \"%s\" is missing", key);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(why, why_len, "member \"%s\" must be a string", key);
		return -EINVAL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		snprintf(why, why_len, "member \"%s\" contains a NUL character", key);
		return -EINVAL;
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* Backend types are short lower-case identifiers, like QAPI enum values. */
static bool valid_type(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	}
	return true;
}

static int get_tags(struct json_object *obj, struct discovery_entry *e, char *why,
		    size_t why_len)
{
	struct json_object *arr, *v;
	size_t n;

	if (!json_object_object_get_ex(obj, "tags", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return fail(-EINVAL, why, why_len, "member \"tags\" must be an array of strings");
	n = json_object_array_length(arr);
	e->tags = calloc(n ? n : 1, sizeof(*e->tags));
	if (!e->tags)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(why, why_len, "member \"tags\": element %zu is not a string", i);
			return -EINVAL;
		}
		e->tags[i] = strdup(json_object_get_string(v));
		if (!e->tags[i])
			return -ENOMEM;
		e->nr_tags = i + 1;
	}
	return 0;
}

static int fill_entry(struct json_object *obj, struct discovery_entry *e, char *why,
		      size_t why_len)
{
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return fail(-EINVAL, why, why_len, "the top level must be a JSON object");
	ret = get_string(obj, "description", true, &e->description, why, why_len);
	if (!ret)
		ret = get_string(obj, "type", true, &e->type, why, why_len);
	if (!ret && !valid_type(e->type))
		ret = fail(-EINVAL, why, why_len, "member \"type\" must be 1-64 characters "
			   "from a-z, 0-9 and '-'");
	if (!ret)
		ret = get_string(obj, "binary", true, &e->binary, why, why_len);
	if (!ret && e->binary[0] != '/')
		ret = fail(-EINVAL, why, why_len, "member \"binary\" must be an absolute path");
	if (!ret)
		ret = get_tags(obj, e, why, why_len);
	return ret;
}

static void clear_entry(struct discovery_entry *e)
{
	free(e->description);
	free(e->type);
	free(e->binary);
	for (size_t i = 0; i < e->nr_tags; i++)
		free(e->tags[i]);
	free(e->tags);
	e->description = e->type = e->binary = NULL;
	e->tags = NULL;
	e->nr_tags = 0;
}

int descriptor_parse(const struct descriptor_text *text, struct discovery_entry *e,
		     char *why, size_t why_len)
{
	struct json_object *obj = NULL;
	int ret;

	ret = parse_json(text, &obj, why, why_len);
	if (ret)
		return ret;
	ret = fill_entry(obj, e, why, why_len);
	json_object_put(obj);
	if (ret)
		clear_entry(e);
	return ret;
}

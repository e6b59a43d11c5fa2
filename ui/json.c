/* json.c: the JSON writer of include/json.h.
 *
 * Layout follows CPython's json encoder with indent=4: a container's first
 * member goes on a new line one level deeper, later members are preceded by
 * ",\n" and the indent, and the closing bracket returns to the container's own
 * level, unless the container stayed empty ("[]", "{}"). */
#include <inttypes.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void newline(struct json *j, int depth)
{
	fputc('\n', j->f);
	fprintf(j->f, "%*s", 4 * depth, "");
}

/* Separator and indent before a value (or before a key, see json_key). */
static void before_value(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->depth == 0)
		return;
	if (!j->empty[j->depth])
		fputc(',', j->f);
	j->empty[j->depth] = 0;
	newline(j, j->depth);
}

static void container_open(struct json *j, int c)
{
	before_value(j);
	fputc(c, j->f);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->overflow = 1;
		return;
	}
	j->empty[++j->depth] = 1;
}

static void container_close(struct json *j, int c)
{
	if (j->depth == 0) {
		j->overflow = 1;
		return;
	}
	if (!j->empty[j->depth--])
		newline(j, j->depth);
	fputc(c, j->f);
}

void json_obj_open(struct json *j) { container_open(j, '{'); }
void json_obj_close(struct json *j) { container_close(j, '}'); }
void json_arr_open(struct json *j) { container_open(j, '['); }
void json_arr_close(struct json *j) { container_close(j, ']'); }

/* Length of the UTF-8 sequence at S (at most LEFT bytes) and its code point,
 * or 0 when it is not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static void put_escaped(FILE *f, uint32_t c)
{
	switch (c) {
	case '"': fputs("\\\"", f); return;
	case '\\': fputs("\\\\", f); return;
	case '\n': fputs("\\n", f); return;
	case '\r': fputs("\\r", f); return;
	case '\t': fputs("\\t", f); return;
	case '\b': fputs("\\b", f); return;
	case '\f': fputs("\\f", f); return;
	}
	if (c >= 0x20 && c < 0x7f) {
		fputc(c, f);
	} else if (c >= 0x10000) {
		/* ensure_ascii writes astral characters as a surrogate pair */
		c -= 0x10000;
		fprintf(f, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
	} else {
		fprintf(f, "\\u%04x", c);
	}
}

static void put_string(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	fputc('"', f);
	while (i < len) {
		uint32_t c;
		size_t n = utf8_decode(p + i, len - i, &c);

		if (!n) {
			c = p[i];
			n = 1;
		}
		put_escaped(f, c);
		i += n;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	before_value(j);
	put_string(j->f, key, strlen(key));
	fputs(": ", j->f);
	j->after_key = 1;
}

void json_str(struct json *j, const char *s, size_t len)
{
	before_value(j);
	put_string(j->f, s, len);
}

void json_cstr(struct json *j, const char *s)
{
	json_str(j, s, strlen(s));
}

void json_u64(struct json *j, uint64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, int64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, int v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->f);
}

void json_double(struct json *j, double v)
{
	before_value(j);
	fprintf(j->f, "%.17g", v);
}

int json_finish(struct json *j)
{
	if (j->overflow || j->depth)
		return -1;
	fflush(j->f);
	return ferror(j->f) ? -1 : 0;
}

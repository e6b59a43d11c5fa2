/* json.h: a small streaming JSON writer that lays text out the way Python's
 * json.dump(obj, f, indent=4) does (crit's output): one member or element a
 * line, 4-space indent, ", " never used, ": " after keys, "[]" and "{}" for
 * empty containers, non-ASCII escaped as \uXXXX (ensure_ascii). */
#ifndef CRSTEP_JSON_H
#define CRSTEP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

struct json {
	FILE *f;
	int depth;
	int after_key;			/* the next value follows "key": */
	int empty[JSON_MAX_DEPTH];	/* nothing written yet at this depth */
	int overflow;			/* nesting went past JSON_MAX_DEPTH */
};

void json_init(struct json *j, FILE *f);
void json_obj_open(struct json *j);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j);
void json_arr_close(struct json *j);
void json_key(struct json *j, const char *key);
/* A string value from LEN bytes of UTF-8; invalid bytes come out as \u00XX. */
void json_str(struct json *j, const char *s, size_t len);
void json_cstr(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, int v);
void json_double(struct json *j, double v);
/* 0 when the whole document was written, -1 on a write error or overflow. */
int json_finish(struct json *j);

#endif

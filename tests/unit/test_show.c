/* test_show.c: the JSON writer lays text out and escapes strings exactly as
 * Python's json.dump(indent=4) (crit) does, for what the fixtures do not
 * exercise: non-ASCII, control characters, empty containers, invalid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static char *render(void (*build)(struct json *), int *status)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f);
	build(&j);
	*status = json_finish(&j);
	fclose(f);
	return buf;
}

static void build_mixed(struct json *j)
{
	static const char s[] = "\xc3\xa9\x01\"\\\n\x7f\xf0\x9f\x98\x80";

	json_obj_open(j);
	json_key(j, "a");
	json_arr_open(j);
	json_str(j, s, sizeof(s) - 1);
	json_arr_open(j);
	json_arr_close(j);
	json_obj_open(j);
	json_obj_close(j);
	json_bool(j, 1);
	json_i64(j, -5);
	json_u64(j, UINT64_MAX);
	json_arr_close(j);
	json_obj_close(j);
}

/* python3 -c 'import json; print(json.dumps({"a": ["\u00e9\x01\"\\\n\x7f\U0001F600",
 *   [], {}, True, -5, 2**64-1]}, indent=4), end="")' */
static const char want_mixed[] =
	"{\n"
	"    \"a\": [\n"
	"        \"\\u00e9\\u0001\\\"\\\\\\n\\u007f\\ud83d\\ude00\",\n"
	"        [],\n"
	"        {},\n"
	"        true,\n"
	"        -5,\n"
	"        18446744073709551615\n"
	"    ]\n"
	"}";

static void build_invalid(struct json *j)
{
	json_str(j, "a\xff" "b\xc3", 4);
}

static void build_unbalanced(struct json *j)
{
	json_obj_open(j);
}

int main(void)
{
	int st;
	char *out;

	out = render(build_mixed, &st);
	ok(st == 0 && !strcmp(out, want_mixed), "nested layout and escapes match Python's json");
	if (strcmp(out, want_mixed))
		diag("got: %s", out);
	free(out);

	out = render(build_invalid, &st);
	ok(st == 0 && !strcmp(out, "\"a\\u00ffb\\u00c3\""), "invalid UTF-8 bytes come out as \\u00XX");
	free(out);

	out = render(build_unbalanced, &st);
	ok(st == -1, "an unclosed object is reported by json_finish");
	free(out);

	return done_testing();
}

/* show.c: `crstep show FILE.img` prints an image as CRIU's `crit show` does,
 * and `crstep show --tree DIR` the process tree as `crit x DIR ps` does.
 *
 * Messages are walked generically through their protobuf-c descriptors, in
 * field-number order, with the presence rules of python-protobuf's
 * ListFields() that crit's pb2dict relies on: required fields always, optional
 * ones when set, repeated ones when not empty.  What pb2dict learns from
 * CRIU's (criu) field options (hex, flags, dict) is kept here in one table,
 * show_formats[], keyed by our descriptors' "message.field" names; its flag
 * names and dictionaries mirror pycriu's maps as of crit 4.2. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "image.h"
#include "json.h"
#include "log.h"
#include "ui.h"

struct flag_name {
	const char *name;
	uint64_t bit;
};

struct dict_name {
	uint64_t value;
	const char *name;
};

/* Bits in each table are listed in the order crit prints them. */
static const struct flag_name mmap_prot[] = {
	{ "PROT_READ", 0x1 }, { "PROT_WRITE", 0x2 }, { "PROT_EXEC", 0x4 }, { NULL, 0 },
};

static const struct flag_name mmap_flags[] = {
	{ "MAP_SHARED", 0x1 }, { "MAP_PRIVATE", 0x2 }, { "MAP_DROPPABLE", 0x8 },
	{ "MAP_ANON", 0x20 }, { "MAP_GROWSDOWN", 0x100 }, { NULL, 0 },
};

/* VMA_AREA_GUARD has no name in crit: it shows as a residual "0x10000". */
static const struct flag_name mmap_status[] = {
	{ "VMA_AREA_REGULAR", VMA_AREA_REGULAR }, { "VMA_AREA_STACK", VMA_AREA_STACK },
	{ "VMA_AREA_VSYSCALL", VMA_AREA_VSYSCALL }, { "VMA_AREA_VDSO", VMA_AREA_VDSO },
	{ "VMA_AREA_HEAP", VMA_AREA_HEAP }, { "VMA_FILE_PRIVATE", VMA_FILE_PRIVATE },
	{ "VMA_FILE_SHARED", VMA_FILE_SHARED }, { "VMA_ANON_SHARED", VMA_ANON_SHARED },
	{ "VMA_ANON_PRIVATE", VMA_ANON_PRIVATE }, { "VMA_AREA_SYSVIPC", VMA_AREA_SYSVIPC },
	{ "VMA_AREA_SOCKET", VMA_AREA_SOCKET }, { "VMA_AREA_VVAR", VMA_AREA_VVAR },
	{ "VMA_AREA_AIORING", VMA_AREA_AIORING }, { "VMA_AREA_MEMFD", VMA_AREA_MEMFD },
	{ "VMA_AREA_SHSTK", VMA_AREA_SHSTK }, { "VMA_AREA_UPROBES", VMA_AREA_UPROBES },
	{ "VMA_UNSUPP", 1u << 31 }, { NULL, 0 },
};

static const struct flag_name rfile_flags[] = {
	{ "O_WRONLY", 01 }, { "O_RDWR", 02 }, { "O_CREAT", 0100 }, { "O_EXCL", 0200 },
	{ "O_NOCTTY", 0400 }, { "O_TRUNC", 01000 }, { "O_APPEND", 02000 },
	{ "O_NONBLOCK", 04000 }, { "O_DSYNC", 010000 }, { "FASYNC", 020000 },
	{ "O_DIRECT", 040000 }, { "O_LARGEFILE", 0100000 }, { "O_DIRECTORY", 0200000 },
	{ "O_NOFOLLOW", 0400000 }, { "O_NOATIME", 01000000 }, { "O_CLOEXEC", 02000000 },
	{ NULL, 0 },
};

static const struct flag_name seals_flags[] = {
	{ "F_SEAL_SEAL", 0x1 }, { "F_SEAL_SHRINK", 0x2 }, { "F_SEAL_GROW", 0x4 },
	{ "F_SEAL_WRITE", 0x8 }, { "F_SEAL_FUTURE_WRITE", 0x10 }, { NULL, 0 },
};

static const struct flag_name pmap_flags[] = {
	{ "PE_PARENT", PE_PARENT }, { "PE_LAZY", PE_LAZY }, { "PE_PRESENT", PE_PRESENT },
	{ NULL, 0 },
};

/* crit 4.2's "gen" dictionary for task_state.  It has no name for 2 (TASK_DEAD,
 * a zombie in CRIU's terms), so zombies show "task_state": 2; its 3 and 6 do
 * not match CRIU's TASK_STOPPED either, but this is what crit prints. */
static const struct dict_name task_state_names[] = {
	{ 1, "Alive" }, { 3, "Zombie" }, { 6, "Stopped" }, { 0, NULL },
};

/* crit 4.2's "sk" dictionaries, one per field name (pb2dict's sk_maps). */
static const struct dict_name sk_family_names[] = {
	{ 1, "UNIX" }, { 2, "INET" }, { 10, "INET6" }, { 16, "NETLINK" }, { 17, "PACKET" }, { 0, NULL },
};
static const struct dict_name sk_type_names[] = {
	{ 1, "STREAM" }, { 2, "DGRAM" }, { 3, "RAW" }, { 5, "SEQPACKET" }, { 10, "PACKET" }, { 0, NULL },
};
static const struct dict_name sk_state_names[] = {
	{ 1, "ESTABLISHED" }, { 2, "SYN_SENT" }, { 3, "SYN_RECV" }, { 4, "FIN_WAIT1" }, { 5, "FIN_WAIT2" },
	{ 6, "TIME_WAIT" }, { 7, "CLOSE" }, { 8, "CLOSE_WAIT" }, { 9, "LAST_ACK" }, { 10, "LISTEN" },
	{ 0, NULL },
};
static const struct dict_name sk_proto_names[] = {
	{ 0, "IP" }, { 6, "TCP" }, { 17, "UDP" }, { 136, "UDPLITE" }, { 0, NULL },
};

enum show_kind { SHOW_HEX, SHOW_FLAGS, SHOW_DICT, SHOW_DEV, SHOW_ODEV, SHOW_IPADD, SHOW_QUOPRI };

struct show_format {
	const char *field;		/* "descriptor_name.field_name" */
	enum show_kind kind;
	const struct flag_name *flags;
	const struct dict_name *dict;
};

#define HEX(f)		{ f, SHOW_HEX, NULL, NULL }
#define FLAGS(f, t)	{ f, SHOW_FLAGS, t, NULL }
#define DICT(f, t)	{ f, SHOW_DICT, NULL, t }
/* (criu).dev: "major:minor" of the kernel's dev_t (20 minor bits);
 * with .odev, of glibc's (makedev()). */
#define DEV(f)		{ f, SHOW_DEV, NULL, NULL }
#define ODEV(f)		{ f, SHOW_ODEV, NULL, NULL }
/* (criu).conv = "unix_name": bytes shown quoted-printable, not base64. */
#define QUOPRI(f)	{ f, SHOW_QUOPRI, NULL, NULL }
/* (criu).ipadd: the repeated address words as one address string. */
#define IPADD(f)	{ f, SHOW_IPADD, NULL, NULL }

/* CRIU's (criu).hex / .flags / .dict marks on the fields our protos carry.  A
 * message field marked hex makes every integer inside it hex (pb2dict). */
static const struct show_format show_formats[] = {
	HEX("thread_info_x86.clear_tid_addr"),
	HEX("thread_info_x86.gpregs"),
	HEX("user_x86_cet_entry.cet"),
	HEX("user_x86_cet_entry.ssp"),
	DICT("task_core_entry.task_state", task_state_names),
	HEX("task_core_entry.blk_sigset"),
	HEX("task_core_entry.blk_sigset_extended"),
	HEX("task_core_entry.membarrier_registration_mask"),
	HEX("sa_entry.sigaction"),
	HEX("sa_entry.flags"),
	HEX("sa_entry.restorer"),
	HEX("sa_entry.mask"),
	HEX("sa_entry.mask_extended"),
	HEX("mm_entry.mm_start_code"),
	HEX("mm_entry.mm_end_code"),
	HEX("mm_entry.mm_start_data"),
	HEX("mm_entry.mm_end_data"),
	HEX("mm_entry.mm_start_stack"),
	HEX("mm_entry.mm_start_brk"),
	HEX("mm_entry.mm_brk"),
	HEX("mm_entry.mm_arg_start"),
	HEX("mm_entry.mm_arg_end"),
	HEX("mm_entry.mm_env_start"),
	HEX("mm_entry.mm_env_end"),
	HEX("vma_entry.start"),
	HEX("vma_entry.end"),
	FLAGS("vma_entry.prot", mmap_prot),
	FLAGS("vma_entry.flags", mmap_flags),
	FLAGS("vma_entry.status", mmap_status),
	HEX("vma_entry.madv"),
	HEX("vma_entry.fdflags"),
	HEX("pagemap_entry.vaddr"),
	FLAGS("pagemap_entry.flags", pmap_flags),
	FLAGS("reg_file_entry.flags", rfile_flags),
	FLAGS("memfd_file_entry.flags", rfile_flags),
	FLAGS("memfd_inode_entry.seals", seals_flags),
	/* fdkinds.proto (CRIU's signalfd, timerfd and fsnotify protos) */
	HEX("signalfd_entry.flags"),
	HEX("signalfd_entry.sigmask"),
	HEX("timerfd_entry.flags"),
	HEX("timerfd_entry.settime_flags"),
	HEX("inotify_wd_entry.mask"),
	HEX("inotify_wd_entry.ignored_mask"),
	DEV("inotify_wd_entry.s_dev"),
	HEX("inotify_file_entry.flags"),
	HEX("fanotify_mark_entry.mflags"),
	HEX("fanotify_mark_entry.mask"),
	HEX("fanotify_mark_entry.ignored_mask"),
	DEV("fanotify_mark_entry.s_dev"),
	HEX("fanotify_file_entry.flags"),
	HEX("fanotify_file_entry.faflags"),
	HEX("fanotify_file_entry.evflags"),
	HEX("pipe_entry.flags"),
	HEX("tty_file_entry.flags"),
	DEV("ghost_file_entry.dev"),
	ODEV("ghost_file_entry.rdev"),
	DICT("unix_sk_entry.type", sk_type_names),
	DICT("unix_sk_entry.state", sk_state_names),
	HEX("unix_sk_entry.flags"),
	HEX("unix_sk_entry.uflags"),
	QUOPRI("unix_sk_entry.name"),
	DICT("inet_sk_entry.family", sk_family_names),
	DICT("inet_sk_entry.type", sk_type_names),
	DICT("inet_sk_entry.proto", sk_proto_names),
	DICT("inet_sk_entry.state", sk_state_names),
	HEX("inet_sk_entry.flags"),
	IPADD("inet_sk_entry.src_addr"),
	IPADD("inet_sk_entry.dst_addr"),
	HEX("tcp_stream_entry.opt_mask"),
	{ NULL, 0, NULL, NULL },
};

static const struct show_format *format_of(const ProtobufCMessageDescriptor *md,
					   const ProtobufCFieldDescriptor *fd)
{
	const struct show_format *s;
	size_t n = strlen(md->name);

	for (s = show_formats; s->field; s++)
		if (!strncmp(s->field, md->name, n) && s->field[n] == '.' &&
		    !strcmp(s->field + n + 1, fd->name))
			return s;
	return NULL;
}

/* Python's base64.encodebytes: lines of 76 characters, each ending in "\n". */
static char *base64_lines(const uint8_t *p, size_t len, size_t *out_len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t groups = (len + 2) / 3, i, o = 0;
	char *out = malloc(groups * 4 + groups / 19 + 2);

	if (!out)
		return NULL;
	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? abc[v & 63] : '=';
		/* 57 input bytes make one 76-character line */
		if ((i / 3 + 1) % 19 == 0 || i + 3 >= len)
			out[o++] = '\n';
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int show_bytes(struct json *j, const uint8_t *p, size_t len)
{
	size_t n;
	char *s = base64_lines(p, len, &n);

	if (!s)
		return error("show: out of memory for %zu bytes of base64", len);
	json_str(j, s, n);
	free(s);
	return 0;
}

/* Python's quopri.encodestring (binascii.b2a_qp with istext, no quotetabs,
 * no header): "=XX" for '=', bytes above 126 and control bytes but for
 * CR and LF, a space or tab at the end of a line, a lone "." starting
 * one; lines ended with a soft "=" break before 76 columns. */
static char *quopri(const uint8_t *p, size_t len, size_t *out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *lf = memchr(p, '\n', len);
	int crlf = lf && lf > p && lf[-1] == '\r';
	char *out = malloc(len * 6 + 8);
	size_t in = 0, o = 0, col = 0;

	if (!out)
		return NULL;
#define SOFT_BREAK() do { out[o++] = '='; if (crlf) out[o++] = '\r'; out[o++] = '\n'; col = 0; } while (0)
	while (in < len) {
		uint8_t c = p[in];
		int last = in + 1 == len;

		if (c > 126 || c == '=' ||
		    (c == '.' && col == 0 && (last || p[in + 1] == '\n' || p[in + 1] == '\r' || !p[in + 1])) ||
		    ((c == '\t' || c == ' ') && last) ||
		    (c < 33 && c != '\r' && c != '\n' && c != '\t' && c != ' ')) {
			if (col + 3 >= 76)
				SOFT_BREAK();
			out[o++] = '=';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			in++;
			col += 3;
		} else if (c == '\n' || (c == '\r' && !last && p[in + 1] == '\n')) {
			col = 0;
			if (o && (out[o - 1] == ' ' || out[o - 1] == '\t')) {
				char ws = out[o - 1];

				out[o - 1] = '=';
				out[o++] = hex[ws >> 4];
				out[o++] = hex[ws & 15];
			}
			if (crlf)
				out[o++] = '\r';
			out[o++] = '\n';
			in += c == '\r' ? 2 : 1;
		} else {
			if (!last && p[in + 1] != '\n' && col + 1 >= 76)
				SOFT_BREAK();
			col++;
			out[o++] = c;
			in++;
		}
	}
#undef SOFT_BREAK
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* pb2dict's map_flags: known names in table order, then what is left as hex. */
static void show_flags(struct json *j, uint64_t v, const struct flag_name *t)
{
	char buf[1024];
	size_t o = 0;
	uint64_t known = 0;

	buf[0] = '\0';
	for (; t->name; t++) {
		known |= t->bit;
		if (v & t->bit)
			o += snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " | " : "", t->name);
	}
	if (v & ~known)
		snprintf(buf + o, sizeof(buf) - o, "%s0x%" PRIx64, o ? " | " : "", v & ~known);
	json_cstr(j, buf);
}

static void show_hex(struct json *j, uint64_t v, int negative)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%s0x%" PRIx64, negative ? "-" : "", v);
	json_cstr(j, buf);
}

static void show_integer(struct json *j, const ProtobufCFieldDescriptor *fd,
			 const struct show_format *fmt, const void *p, int is_hex)
{
	int64_t s = 0;
	uint64_t u = 0;
	int is_signed = 1;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		s = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		s = *(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		u = *(const uint32_t *)p;
		is_signed = 0;
		break;
	default:
		u = *(const uint64_t *)p;
		is_signed = 0;
		break;
	}
	if (is_signed && s >= 0) {
		u = s;
		is_signed = 0;
	}
	if (is_hex || (fmt && fmt->kind == SHOW_HEX)) {
		show_hex(j, is_signed ? -(uint64_t)s : u, is_signed);
		return;
	}
	if (fmt && fmt->kind == SHOW_FLAGS && !is_signed) {
		show_flags(j, u, fmt->flags);
		return;
	}
	if (fmt && (fmt->kind == SHOW_DEV || fmt->kind == SHOW_ODEV) && !is_signed) {
		char buf[32];

		if (fmt->kind == SHOW_DEV)
			snprintf(buf, sizeof(buf), "%" PRIu64 ":%" PRIu64, u >> 20, u & ((1u << 20) - 1));
		else
			snprintf(buf, sizeof(buf), "%u:%u", major(u), minor(u));
		json_cstr(j, buf);
		return;
	}
	if (fmt && fmt->kind == SHOW_DICT && !is_signed) {
		const struct dict_name *d;

		for (d = fmt->dict; d->name; d++)
			if (d->value == u) {
				json_cstr(j, d->name);
				return;
			}
	}
	if (is_signed)
		json_i64(j, s);
	else
		json_u64(j, u);
}

static int show_message(struct json *j, const ProtobufCMessage *m, int is_hex);

/* One value of field FD stored at P. */
static int show_value(struct json *j, const ProtobufCMessageDescriptor *md,
		      const ProtobufCFieldDescriptor *fd, const void *p, int is_hex)
{
	const struct show_format *fmt = format_of(md, fd);
	const ProtobufCEnumValue *ev;
	const ProtobufCBinaryData *b;

	if (fmt && fmt->kind == SHOW_HEX)
		is_hex = 1;
	switch (fd->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return show_message(j, *(ProtobufCMessage *const *)p, is_hex);
	case PROTOBUF_C_TYPE_BYTES:
		b = p;
		if (fmt && fmt->kind == SHOW_QUOPRI) {
			size_t n;
			char *q = quopri(b->data, b->len, &n);

			if (!q)
				return error("show: out of memory for %zu bytes", b->len);
			json_str(j, q, n);
			free(q);
			return 0;
		}
		return show_bytes(j, b->data, b->len);
	case PROTOBUF_C_TYPE_STRING:
		json_cstr(j, *(char *const *)p ? *(char *const *)p : "");
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		json_bool(j, *(const protobuf_c_boolean *)p);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		/* crit has no name for a value its enum lacks; print the number */
		ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
		if (ev)
			json_cstr(j, ev->name);
		else
			json_i64(j, *(const int *)p);
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(j, *(const float *)p);
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(j, *(const double *)p);
		return 0;
	default:
		show_integer(j, fd, fmt, p, is_hex);
		return 0;
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *fd)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return sizeof(uint32_t);
	}
}

/* Whether ListFields() would list a non-repeated field. */
static int field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;
	const void *p = base + fd->offset;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)p != NULL;
	if (fd->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(char *const *)p;

		/* an absent optional string points at its default */
		return s && s != (const char *)fd->default_value;
	}
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	/* proto3 implicit presence: listed when not zero */
	if (fd->type == PROTOBUF_C_TYPE_BYTES)
		return ((const ProtobufCBinaryData *)p)->len != 0;
	if (value_size(fd) == 8)
		return *(const uint64_t *)p != 0;
	return *(const uint32_t *)p != 0;
}

/* pb2dict's ipadd: one word is IPv4, four IPv6 as Python's
 * ipaddress.compressed writes it (lowercase hex, the first longest run of
 * two or more zero groups as "::", v4-mapped ones in hex too). */
static void show_ipadd(struct json *j, const uint32_t *w, size_t n)
{
	char buf[48];
	unsigned g[8], i, best = 0, best_len = 0, len = 0, pos = 0;

	if (n == 1) {
		uint32_t a = ntohl(w[0]);

		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
		json_cstr(j, buf);
		return;
	}
	for (i = 0; i < 8; i++)
		g[i] = (ntohl(w[i / 2]) >> (i % 2 ? 0 : 16)) & 0xffff;
	for (i = 0; i < 8; i++) {
		len = g[i] ? 0 : len + 1;
		if (len > best_len) {
			best_len = len;
			best = i + 1 - len;
		}
	}
	if (best_len < 2)
		best_len = 0;
	buf[0] = 0;
	for (i = 0; i < 8; i++) {
		if (best_len && i == best) {
			pos += snprintf(buf + pos, sizeof(buf) - pos, i ? ":" : "::");
			i += best_len - 1;
			continue;
		}
		pos += snprintf(buf + pos, sizeof(buf) - pos, "%x%s", g[i], i < 7 ? ":" : "");
	}
	json_cstr(j, buf);
}

static int show_field(struct json *j, const ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *fd, int is_hex)
{
	const struct show_format *fmt = format_of(m->descriptor, fd);

	const ProtobufCMessageDescriptor *md = m->descriptor;
	const char *base = (const char *)m;
	size_t i, n;

	if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
		if (!field_present(m, fd))
			return 0;
		json_key(j, fd->name);
		return show_value(j, md, fd, base + fd->offset, is_hex);
	}
	n = *(const size_t *)(base + fd->quantifier_offset);
	if (!n)
		return 0;
	json_key(j, fd->name);
	json_arr_open(j);
	if (fmt && fmt->kind == SHOW_IPADD && fd->type == PROTOBUF_C_TYPE_UINT32 && (n == 1 || n == 4)) {
		show_ipadd(j, *(const uint32_t *const *)(base + fd->offset), n);
		json_arr_close(j);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const char *arr = *(char *const *)(base + fd->offset);

		if (show_value(j, md, fd, arr + i * value_size(fd), is_hex))
			return -1;
	}
	json_arr_close(j);
	return 0;
}

/* The members of M, without the braces: fields in field-number order. */
static int show_fields(struct json *j, const ProtobufCMessage *m, int is_hex)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	unsigned done = 0, last = 0;

	/* protoc-c sorts fields by number, but do not depend on it */
	while (done < md->n_fields) {
		const ProtobufCFieldDescriptor *next = NULL;
		unsigned i;

		for (i = 0; i < md->n_fields; i++)
			if (md->fields[i].id > last && (!next || md->fields[i].id < next->id))
				next = &md->fields[i];
		if (!next)
			break;
		if (show_field(j, m, next, is_hex))
			return -1;
		last = next->id;
		done++;
	}
	return 0;
}

static int show_message(struct json *j, const ProtobufCMessage *m, int is_hex)
{
	json_obj_open(j);
	if (m && show_fields(j, m, is_hex))
		return -1;
	json_obj_close(j);
	return 0;
}

static int show_image(const char *path)
{
	struct image *img = image_read(path, NULL, 1);
	struct json j;
	size_t i;
	int ret = 0;

	if (!img)
		return EXIT_FAIL;
	if (img->desc->flags & IMG_RAW) {
		error("%s: raw page data: no entries to show (see the pagemap image)", path);
		image_free(img);
		return EXIT_FAIL;
	}
	json_init(&j, stdout);
	json_obj_open(&j);
	json_key(&j, "magic");
	json_cstr(&j, img->desc->name);
	json_key(&j, "entries");
	json_arr_open(&j);
	for (i = 0; i < img->nr && !ret; i++) {
		const struct img_entry *e = &img->entries[i];

		json_obj_open(&j);
		ret = show_fields(&j, e->msg, 0);
		/* A ghost in chunks has its bytes after each chunk, none
		 * after its own entry (crit shows no "extra" there). */
		if (!ret && e->msg->descriptor == &tcp_stream_entry__descriptor) {
			/* crit splits a TCP stream's bytes into its two queues. */
			size_t inq = ((TcpStreamEntry *)e->msg)->inq_len;

			json_key(&j, "extra");
			json_obj_open(&j);
			json_key(&j, "inq");
			ret = show_bytes(&j, e->extra, inq);
			json_key(&j, "outq");
			ret = ret ? ret : show_bytes(&j, e->extra + inq, e->extra_len - inq);
			json_obj_close(&j);
		} else if (!ret && (img->desc->flags & IMG_EXTRA) &&
		    !(e->msg->descriptor == &ghost_file_entry__descriptor && ((GhostFileEntry *)e->msg)->chunks)) {
			json_key(&j, "extra");
			ret = show_bytes(&j, e->extra, e->extra_len);
		}
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_close(&j);
	fputc('\n', stdout);
	if (!ret && json_finish(&j))
		ret = error("%s: cannot write the JSON to stdout", path);
	image_free(img);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* --tree: crit x DIR ps, plus annotations after crit's columns. */
struct tree {
	struct image *pstree;
	struct image **cores;		/* core-PID.img per pstree entry */
	char *shown;			/* per pstree entry: printed already */
};

static const char *task_comm(const struct image *core)
{
	const CoreEntry *c = core && core->nr ? (const CoreEntry *)core->entries[0].msg : NULL;

	if (c && c->tc && c->tc->comm)
		return c->tc->comm;
	return "?";
}

static int task_is_zombie(const struct image *core)
{
	const CoreEntry *c = core && core->nr ? (const CoreEntry *)core->entries[0].msg : NULL;

	return c && c->tc && c->tc->task_state == TASK_DEAD;
}

static void tree_print(const struct tree *t, size_t idx, int depth)
{
	const PstreeEntry *p = (const PstreeEntry *)t->pstree->entries[idx].msg;
	size_t i;

	printf("%7u%7u%7u   %*s%s", p->pid, p->pgid, p->sid, 4 * depth, "", task_comm(t->cores[idx]));
	if (task_is_zombie(t->cores[idx]))
		printf(" (zombie)");
	if (p->n_threads > 1)
		printf(" (%zu threads)", p->n_threads);
	printf("\n");
	/* Each entry once: a pid listed twice (a corrupt pstree.img) would
	 * otherwise make every copy a child of every other, and the tree
	 * grow as the factorial of their number; a ppid loop ends here too. */
	t->shown[idx] = 1;
	for (i = 0; i < t->pstree->nr; i++) {
		const PstreeEntry *kid = (const PstreeEntry *)t->pstree->entries[i].msg;

		if (!t->shown[i] && kid->ppid == p->pid)
			tree_print(t, i, depth + 1);
	}
}

static int has_parent(const struct tree *t, size_t idx)
{
	const PstreeEntry *p = (const PstreeEntry *)t->pstree->entries[idx].msg;
	size_t i;

	if (!p->ppid)
		return 0;
	for (i = 0; i < t->pstree->nr; i++)
		if (i != idx && ((const PstreeEntry *)t->pstree->entries[i].msg)->pid == p->ppid)
			return 1;
	return 0;
}

static int show_tree(const char *dir)
{
	struct tree t = { NULL, NULL, NULL };
	char path[4096];
	size_t i;
	int ret = EXIT_FAIL;

	snprintf(path, sizeof(path), "%s/pstree.img", dir);
	t.pstree = image_read(path, NULL, 1);
	if (!t.pstree)
		return EXIT_FAIL;
	if (!t.pstree->nr) {
		error("%s: no tasks", path);
		goto out;
	}
	t.cores = calloc(t.pstree->nr, sizeof(*t.cores));
	t.shown = calloc(t.pstree->nr, 1);
	if (!t.cores || !t.shown) {
		error("%s: out of memory", path);
		goto out;
	}
	for (i = 0; i < t.pstree->nr; i++) {
		const PstreeEntry *p = (const PstreeEntry *)t.pstree->entries[i].msg;

		snprintf(path, sizeof(path), "%s/core-%u.img", dir, p->pid);
		t.cores[i] = image_read(path, NULL, 1);
		if (!t.cores[i])
			goto out;
	}
	printf("%7s%7s%7s   %s\n", "PID", "PGID", "SID", "COMM");
	/* crit starts from the task whose ppid is 0; a task whose parent is not
	 * in the tree is shown as a root too rather than dropped */
	for (i = 0; i < t.pstree->nr; i++)
		if (!t.shown[i] && !has_parent(&t, i))
			tree_print(&t, i, 0);
	ret = fflush(stdout) ? EXIT_FAIL : EXIT_OK;
out:
	if (t.cores)
		for (i = 0; i < t.pstree->nr; i++)
			image_free(t.cores[i]);
	free(t.cores);
	free(t.shown);
	image_free(t.pstree);
	return ret;
}

static void show_usage(FILE *f)
{
	fprintf(f, "usage: crstep show FILE.img     print an image as JSON, as `crit show` does\n"
		   "       crstep show --tree DIR   print the process tree, as `crit x DIR ps` does,\n"
		   "                                with \" (zombie)\" and \" (N threads)\" appended\n");
}

int cmd_show(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		show_usage(stdout);
		return EXIT_OK;
	}
	if (argc == 3 && !strcmp(argv[1], "--tree"))
		return show_tree(argv[2]);
	if (argc == 2 && argv[1][0] != '-')
		return show_image(argv[1]);
	if (argc == 2 && !strcmp(argv[1], "--")) {
		show_usage(stderr);
		return EXIT_USAGE;
	}
	if (argc == 3 && !strcmp(argv[1], "--"))
		return show_image(argv[2]);
	error("show: expected FILE.img or --tree DIR (see crstep show --help)");
	return EXIT_USAGE;
}

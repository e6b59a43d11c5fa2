/* cmd_restore.c: `crstep restore DIR [options]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "restore.h"
#include "stepper.h"
#include "ui.h"

static void restore_usage(FILE *f)
{
	fprintf(f,
		"usage: crstep restore DIR [options]\n"
		"  --protocol legacy|seed|criu4|pre-restorer   who switches which stage (default criu4)\n"
		"  --pidns new|host   restore into a fresh pid namespace (default) or this one\n"
		"  --batch            run to the end, print the switch log and the result\n"
		"  --detach           leave the restored tree running, exit 0 once COMPLETE is done\n"
		"  --pidfile FILE     write the restored root's pid (as crstep sees it)\n"
		"  --trace FILE       write every barrier event as a JSON line\n"
		"  --trace-format jsonl|chrome   chrome: the Chrome trace event format instead\n"
		"                     (Perfetto, chrome://tracing: a track per task, a slice per stage)\n"
		"  --stats            print the time spent in each stage\n"
		"  -ex CMD            run CMD (a stepper command) at the first stop; repeatable\n"
		"  -x FILE            run the commands in FILE\n"
		"                     (-ex lines run first, then FILE; each line waits for the\n"
		"                     previous command's stop; with --batch, once the script is\n"
		"                     exhausted the restore runs to its end)\n"
		"  --cli              the line interface (not the full-screen UI), even when\n"
		"                     stdin is not a terminal\n"
		"  --tui              the full-screen UI (on /dev/tty if stdio is not a terminal)\n"
		"  --watchdog SECS    a barrier with no progress for SECS is a hang (default 5, 0 off):\n"
		"                     stop (interactive) or report and exit 3 (batch)\n"
		"  --timeout SECS     the whole restore; past it, report and exit 3\n"
		"  --keep             leave a hung or failed tree stopped for a debugger (pids printed)\n"
		"  --inject KIND:task=PID|root|any:stage=STAGE   fault injection, repeatable;\n"
		"                     KIND: fail, hang, crash, slow:MS, exit; at COMPLETE it fires\n"
		"                     when the thread sees COMPLETE, under the controller's ptrace\n"
		"  --cpu-cap fpu|none refuse (default) or accept images whose CPU state this CPU\n"
		"                     lacks; with none that state is dropped (as CRIU's --cpu-cap)\n"
		"  --tcp-close        restore TCP connections closed (as CRIU's --tcp-close)\n"
		"Without --detach crstep waits for the restored root and exits with its status.\n"
		"On a terminal, without --batch, crstep opens the full-screen UI, stopped before\n"
		"the first switch (--cli: the (crstep) prompt instead).\n"
		"Exit codes: 0 success, 1 an expect failed, 2 the restore failed, 3 a hang or\n"
		"--timeout, 4 a usage or script error.  When several hold: 4 first, then\n"
		"3 hang > 2 restore failed > 1 expect failed > 0.  A kill, detach or quit of\n"
		"the script's (or yours) is no failure: a failed expect still gives 1 (a\n"
		"kill after it does not hide it), else 0; 2 only when the restore itself failed.\n");
}

static int parse_and_run(int argc, char **argv, struct restore_opts *op, struct stepper_opts *so);

static int parse_seconds(const char *arg, unsigned *ms)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || v < 0 || v > 86400)
		return -1;
	*ms = (unsigned)(v * 1000 + 0.5);
	return 0;
}

/* KIND[:MS]:task=PID|root|any:stage=STAGE */
static int parse_fault(const char *arg, struct restore_fault *f)
{
	static const char *const kinds[] = { NULL, "fail", "hang", "crash", "slow", "exit" };
	char buf[128], *tok, *save = NULL;
	int i, have_task = 0;

	snprintf(buf, sizeof(buf), "%s", arg);
	f->kind = FAULT_NONE;
	f->stage = STAGE_UNKNOWN;
	f->pid = FAULT_ANY_PID;
	f->ms = 0;
	tok = strtok_r(buf, ":", &save);
	for (i = 1; tok && i <= FAULT_EXIT; i++)
		if (!strcmp(tok, kinds[i]))
			f->kind = i;
	if (f->kind == FAULT_NONE)
		goto bad;
	if (f->kind == FAULT_SLOW) {
		tok = strtok_r(NULL, ":", &save);
		if (!tok || (f->ms = strtoul(tok, NULL, 10)) == 0)
			goto bad;
	}
	while ((tok = strtok_r(NULL, ":", &save))) {
		if (!strncmp(tok, "task=", 5)) {
			have_task = 1;
			if (!strcmp(tok + 5, "root"))
				f->pid = -1;
			else if (!strcmp(tok + 5, "any"))
				f->pid = FAULT_ANY_PID;
			else if ((f->pid = atoi(tok + 5)) <= 0)
				goto bad;
		} else if (!strncmp(tok, "stage=", 6)) {
			f->stage = stage_by_name(tok + 6);
		} else {
			goto bad;
		}
	}
	if (!have_task || f->stage < 0)
		goto bad;
	return 0;
bad:
	return error("--inject: '%s': want KIND:task=PID|root|any:stage=STAGE with KIND fail, hang, crash, "
		     "slow:MS or exit, and a stage", arg);
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = { .protocol = PROTO_DEFAULT, .watchdog_ms = 5000 };
	struct stepper_opts so = { .out = stdout, .cli_frontend = &cli_frontend,
				   .tui_frontend = &tui_frontend };
	const char **ex;
	int c, ret;

	/* gdb's -ex is one dash and two letters: take it (and -x) out first. */
	ex = calloc(argc + 1, sizeof(*ex));
	if (!ex)
		return error("out of memory") ? EXIT_FAIL : EXIT_FAIL;
	for (c = 1; c < argc; c++) {
		if ((strcmp(argv[c], "-ex") && strcmp(argv[c], "-x")) || c + 1 == argc)
			continue;
		if (!strcmp(argv[c], "-ex"))
			ex[so.nr_ex++] = argv[c + 1];
		else
			so.script = argv[c + 1];
		memmove(&argv[c], &argv[c + 2], (argc - c - 1) * sizeof(*argv));
		argc -= 2;
		c--;
	}
	so.ex = ex;
	ret = parse_and_run(argc, argv, &o, &so);
	free(ex);
	return ret;
}

static int parse_and_run(int argc, char **argv, struct restore_opts *op, struct stepper_opts *so)
{
	static const struct option longopts[] = {
		{ "protocol", required_argument, NULL, 'P' },
		{ "pidns", required_argument, NULL, 'N' },
		{ "batch", no_argument, NULL, 'b' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "trace", required_argument, NULL, 't' },
		{ "trace-format", required_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 's' },
		{ "cpu-cap", required_argument, NULL, 'C' },
		{ "tcp-close", no_argument, NULL, 'c' },
		{ "cli", no_argument, NULL, 'L' },
		{ "tui", no_argument, NULL, 'U' },
		{ "watchdog", required_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "keep", no_argument, NULL, 'K' },
		{ "inject", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts o = *op;
	struct stepper *s;
	struct restore_observer obs;
	int c, ret, cli = 0, tui = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "bdhs", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			o.protocol = protocol_by_name(optarg);
			if (o.protocol < 0) {
				error("--protocol: unknown variant '%s' (legacy, seed, criu4, pre-restorer)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
			if (strcmp(optarg, "new") && strcmp(optarg, "host")) {
				error("--pidns: '%s' is neither new nor host", optarg);
				return EXIT_USAGE;
			}
			o.host_pidns = !strcmp(optarg, "host");
			break;
		case 'C':
			if (strcmp(optarg, "none") && strcmp(optarg, "fpu")) {
				error("--cpu-cap: '%s' is neither fpu nor none", optarg);
				return EXIT_USAGE;
			}
			o.cpu_cap_none = !strcmp(optarg, "none");
			break;
		case 'L': cli = 1; break;
		case 'U': tui = 1; break;
		case 'K': o.keep = 1; break;
		case 'c': o.tcp_close = 1; break;
		case 'W':
		case 'T':
			if (parse_seconds(optarg, c == 'W' ? &o.watchdog_ms : &o.timeout_ms)) {
				error("--%s: '%s' is not a number of seconds", c == 'W' ? "watchdog" : "timeout", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'I':
			if (o.nr_faults == BARRIER_NR_FAULTS || parse_fault(optarg, &o.faults[o.nr_faults]))
				return EXIT_USAGE;
			o.nr_faults++;
			break;
		case 'b': o.batch = 1; break;
		case 'd': o.detach = 1; break;
		case 'p': o.pidfile = optarg; break;
		case 't': o.trace = optarg; break;
		case 'F':
			if (strcmp(optarg, "jsonl") && strcmp(optarg, "chrome")) {
				error("--trace-format: '%s' is neither jsonl nor chrome", optarg);
				return EXIT_USAGE;
			}
			o.trace_chrome = !strcmp(optarg, "chrome");
			break;
		case 's': o.stats = 1; break;
		case 'h':
			restore_usage(stdout);
			return EXIT_OK;
		default:
			error("restore: bad option '%s' (see crstep restore --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		error("usage: crstep restore DIR [options]");
		return EXIT_USAGE;
	}
	o.dir = argv[optind];
	so->batch = o.batch;
	so->cli = cli || (!o.batch && isatty(0));
	/* The full-screen UI on a terminal unless --cli; never with --batch. */
	so->tui = !o.batch && !cli && (tui || (isatty(0) && isatty(1)));
	s = stepper_new(so);
	if (!s)
		return EXIT_USAGE;
	if (stepper_active(s)) {
		stepper_observer(s, &obs);
		o.observer = &obs;
	}
	ret = stepper_exit_code(s, restore_run(&o));
	stepper_free(s);
	return ret;
}

/* cli.c: the line interface, the `(crstep) ` prompt.  libedit does the
 * line editing, the history (kept across runs in ~/.crstep_history) and,
 * through a function bound to TAB, the completion of command names, stage
 * names and pids, which the stepper's command table supplies
 * (stepper_complete()).  When stdin is not a terminal (--cli fed through a
 * pipe) lines are read plainly. */
#include <histedit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stepper.h"
#include "ui.h"

#define HISTORY_SIZE 1000

struct cli {
	struct stepper *s;
	FILE *out;
	EditLine *el;
	History *hist;
	char histfile[PATH_MAX];
	const char *prompt;
	char *line;		/* the last line, without its newline */
	size_t cap;
};

static char *prompt_fn(EditLine *el)
{
	struct cli *cli = NULL;

	el_get(el, EL_CLIENTDATA, &cli);
	return (char *)(cli && cli->prompt ? cli->prompt : "(crstep) ");
}

/* The longest prefix shared by every candidate. */
static size_t common_prefix(char **m)
{
	size_t n = strlen(m[0]), i, j;

	for (i = 1; m[i]; i++) {
		for (j = 0; j < n && m[i][j] == m[0][j]; j++)
			;
		n = j;
	}
	return n;
}

static unsigned char complete_fn(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);
	struct cli *cli = NULL;
	const char *start;
	char *line, **m;
	size_t len, wlen, common, i;
	unsigned char ret = CC_REFRESH;

	(void)ch;
	el_get(el, EL_CLIENTDATA, &cli);
	if (!cli)
		return CC_ERROR;
	if (!cli->s)
		return CC_REFRESH_BEEP;	/* `crstep attach`: no stepper to ask */
	for (start = li->cursor; start > li->buffer && start[-1] != ' ' && start[-1] != '\t' &&
	     start[-1] != '(';)
		start--;
	len = li->cursor - li->buffer;
	wlen = li->cursor - start;
	line = strndup(li->buffer, len);
	if (!line)
		return CC_ERROR;
	m = stepper_complete(cli->s, line, line + (len - wlen));
	free(line);
	if (!m || !m[0]) {
		free(m);
		return CC_REFRESH_BEEP;
	}
	common = common_prefix(m);
	if (common > wlen) {
		char *ins = strndup(m[0] + wlen, common - wlen);

		if (ins)
			el_insertstr(el, ins);
		free(ins);
	}
	if (!m[1] && m[0][strlen(m[0]) - 1] != '(') {
		el_insertstr(el, " ");
	} else if (m[1] && common <= wlen) {
		/* Nothing more to insert: show the choices. */
		fputc('\n', cli->out);
		for (i = 0; m[i]; i++)
			fprintf(cli->out, "%s%s", m[i], m[i + 1] ? "  " : "\n");
		fflush(cli->out);
		ret = CC_REDISPLAY;
	}
	for (i = 0; m[i]; i++)
		free(m[i]);
	free(m);
	return ret;
}

static void cli_free(struct cli *cli);

static struct cli *cli_new(struct stepper *s, FILE *out)
{
	struct cli *cli = calloc(1, sizeof(*cli));
	const char *home = getenv("HOME");
	HistEvent ev;

	if (!cli)
		return NULL;
	cli->s = s;
	cli->out = out;
	if (!isatty(STDIN_FILENO))
		return cli;
	cli->hist = history_init();
	cli->el = el_init("crstep", stdin, out, stderr);
	if (!cli->hist || !cli->el) {
		cli_free(cli);
		return NULL;
	}
	history(cli->hist, &ev, H_SETSIZE, HISTORY_SIZE);
	history(cli->hist, &ev, H_SETUNIQUE, 1);
	if (home && *home) {
		snprintf(cli->histfile, sizeof(cli->histfile), "%s/.crstep_history", home);
		history(cli->hist, &ev, H_LOAD, cli->histfile);
	}
	el_set(cli->el, EL_CLIENTDATA, cli);
	el_set(cli->el, EL_EDITOR, "emacs");
	el_set(cli->el, EL_PROMPT, prompt_fn);
	el_set(cli->el, EL_HIST, history, cli->hist);
	/* el_wset: the narrow EL_ADDFN copies its strings and never frees
	 * them (libedit's eln.c); wide literals need no copy. */
	el_wset(cli->el, EL_ADDFN, L"crstep-complete", L"complete a command, stage or pid", complete_fn);
	el_set(cli->el, EL_BIND, "^I", "crstep-complete", NULL);
	/* ~/.editrc, as every libedit program. */
	el_source(cli->el, NULL);
	return cli;
}

static const char *keep(struct cli *cli, const char *text, size_t n)
{
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n + 1 > cli->cap) {
		char *p = realloc(cli->line, n + 1);

		if (!p)
			return NULL;
		cli->line = p;
		cli->cap = n + 1;
	}
	memcpy(cli->line, text, n);
	cli->line[n] = 0;
	return cli->line;
}

static const char *cli_gets(struct cli *cli, const char *prompt)
{
	const char *text, *line;
	HistEvent ev;
	int n = 0;

	cli->prompt = prompt;
	if (!cli->el) {
		char *buf = NULL;
		size_t cap = 0;
		ssize_t got;

		fputs(prompt, cli->out);
		fflush(cli->out);
		got = getline(&buf, &cap, stdin);
		line = got < 0 ? NULL : keep(cli, buf, got);
		if (!line)
			fputc('\n', cli->out);
		free(buf);
		return line;
	}
	text = el_gets(cli->el, &n);
	if (!text || n <= 0)
		return NULL;
	line = keep(cli, text, n);
	if (line && line[strspn(line, " \t")]) {
		history(cli->hist, &ev, H_ENTER, line);
		if (cli->histfile[0])
			history(cli->hist, &ev, H_SAVE, cli->histfile);
	}
	return line;
}

static void cli_free(struct cli *cli)
{
	if (!cli)
		return;
	if (cli->el)
		el_end(cli->el);
	if (cli->hist)
		history_end(cli->hist);
	free(cli->line);
	free(cli);
}

static void *cli_open(struct stepper *s, FILE *out)
{
	return cli_new(s, out);
}

static const char *cli_gets_line(void *cli, const struct stepper_view *v, const char *prompt)
{
	(void)v;
	return cli_gets(cli, prompt);
}

static void cli_close(void *cli)
{
	cli_free(cli);
}

const struct stepper_frontend cli_frontend = {
	.open = cli_open,
	.gets = cli_gets_line,
	.close = cli_close,
};

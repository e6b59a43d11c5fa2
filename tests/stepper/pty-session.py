#!/usr/bin/env python3
"""pty-session.py INPUT CMD [ARG...]: run CMD on a pseudo-terminal, as a
person would: wait for the `(crstep) ` prompt (or the `>` of `commands`),
type the next line of INPUT, and so on; then wait for CMD to end.  In INPUT
a `\\t` stands for the TAB key and an empty line is an empty line (RET).
Prints the transcript (carriage returns removed) and exits with CMD's code.
"""
import os
import pty
import select
import sys
import time

PROMPTS = (b"(crstep) ", b">")
TIMEOUT = 30.0


def read_some(fd, out, wait):
    r, _, _ = select.select([fd], [], [], wait)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    out.extend(data)
    return True


def at_prompt(out, since):
    """A prompt printed after offset `since` ends the output."""
    tail = bytes(out[since:]).rstrip(b" ")
    for p in PROMPTS:
        q = p.rstrip(b" ")
        if tail.endswith(q) and bytes(out[since:]).find(q) >= 0:
            return True
    return False


def main():
    lines = open(sys.argv[1]).read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    os.environ["TERM"] = "dumb"
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    out = bytearray()
    since = 0
    alive = True
    deadline = time.time() + TIMEOUT
    for line in lines:
        while alive and not at_prompt(out, since) and time.time() < deadline:
            alive = read_some(fd, out, 0.2)
        if not alive or time.time() >= deadline:
            break
        # let the prompt settle, then type the line
        time.sleep(0.05)
        since = len(out)
        os.write(fd, line.replace("\\t", "\t").encode() + b"\r")
    while alive and time.time() < deadline:
        alive = read_some(fd, out, 0.2)
    if time.time() >= deadline:
        os.kill(pid, 9)
        sys.stdout.write("# pty-session: timed out\n")
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


main()

#!/usr/bin/python3
"""Runs every case of tests/data/malformed/EXPECTED.tsv through the built
`mirada` (made by tests/gen/make-malformed.py) and checks that each is
refused cleanly: the expected exit code, exactly one stderr line
"mirada: ..." holding the expected substring, no sanitizer report, done
within TIMEOUT seconds, and never more than 4 GiB of address space (the
HDF5 reader process, mirada-h5-reader, sets its own limits).

    test-malformed.py MIRADA SRCDIR      (SRCDIR = the tests/ folder)

Standard library only.  Prints TAP.
"""
import os
import resource
import subprocess
import sys
import time

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
DIR = os.path.join(SRC, "data", "malformed")
TIMEOUT = float(os.environ.get("MIRADA_MALFORMED_TIMEOUT", "20"))
# Address space per run: catches runaway allocations.  ASan reserves
# terabytes of shadow memory, so it gets no limit (it reports huge
# allocations itself: allocation-size-too-big, with allocator_may_return_null=0).
AS_LIMIT = 4 << 30
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")

SUBST = {"GOOD": "good.h5", "IMAGE": "image.png", "GRID": "grid.json"}


def sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = sanitized(MIRADA)


def limit():
    if not ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def main():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("LSAN_OPTIONS", "suppressions=" +
                   os.path.join(SRC, "..", "build-aux", "lsan.supp"))
    env["LC_ALL"] = "C.UTF-8"
    # libhdf5 hangs on some cases (h5-libhdf5-hang-*): Mirada's HDF5 reader
    # process is given 5 s plus 1 s per 16 MiB of file (mir-h5-file.c)
    # before it is killed; MIRADA_H5_TIMEOUT is not set, so that default is
    # what is tested.
    env.pop("MIRADA_H5_TIMEOUT", None)
    env["G_DEBUG"] = "fatal-criticals"
    cases = []
    with open(os.path.join(DIR, "EXPECTED.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, command, code, substring = line.rstrip("\n").split("\t")
            cases.append((name, [SUBST.get(a, a) for a in command.split()], int(code),
                          substring))
    print("1..%d" % len(cases))
    failed = 0
    for i, (name, args, code, substring) in enumerate(cases, 1):
        start = time.monotonic()
        problems = []
        try:
            p = subprocess.run([MIRADA] + args, cwd=DIR, capture_output=True, env=env,
                               timeout=TIMEOUT, preexec_fn=limit)
            err = p.stderr.decode("utf-8", "replace")
            lines = err.splitlines()
            if p.returncode != code:
                problems.append("exit %d, want %d" % (p.returncode, code))
            if any(m in err for m in SANITIZER_MARKS):
                problems.append("sanitizer report")
            if len(lines) != 1 or not lines[0].startswith("mirada: "):
                problems.append("want one stderr line 'mirada: ...'")
            elif substring not in lines[0]:
                problems.append("stderr lacks %r" % substring)
        except subprocess.TimeoutExpired:
            err = ""
            problems.append("no answer within %g s" % TIMEOUT)
        took = time.monotonic() - start
        if problems:
            failed += 1
            print("not ok %d - %s: %s (%.1f s)" % (i, name, "; ".join(problems), took))
            for line in err.splitlines()[:40]:
                print("# " + line); print("# " + line, file=sys.stderr)  # meson shows stderr
        else:
            print("ok %d - %s (%.1f s) # %s" % (i, name, took, err.strip()))
    print("# %d of %d cases refused cleanly" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""TAP output for the standard-library Python tests (test-po.py,
test-i18n-cli.py): collect checks, print them, exit non-zero on a failure."""
import sys

_results = []


def check(ok, name, detail=""):
    """One TAP line; detail is printed as diagnostics when the check fails."""
    _results.append((bool(ok), name, detail))


def finish():
    print(f"1..{len(_results)}")
    for i, (ok, name, detail) in enumerate(_results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok and detail:
            for line in detail.splitlines():
                print("# " + line); print("# " + line, file=sys.stderr)  # meson shows stderr
    sys.exit(0 if all(ok for ok, _n, _d in _results) else 1)

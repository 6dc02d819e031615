#!/usr/bin/python3
"""The window starts as a newcomer starts it, with nothing of Mirada
installed: no GSETTINGS_SCHEMA_DIR, a fresh HOME, and the built binary run
in place (build/app/mirada).  MIRADA_SMOKE=1 makes it quit with 0 once a frame
showing the detector's boxes was drawn (app/gui/mirada-smoke.c).

    test-newcomer.py MIRADA SRCROOT [DBUS_RUN_SESSION]

Cases:
  - no schema anywhere GLib looks (the bug a newcomer met: SIGTRAP,
    "Settings schema 'io.github.mirada.Mirada' is not installed");
  - a stale schema installed system-wide, lacking keys this build reads (a
    developer's old `meson install`);
  - a second start with the same HOME opens the built-in model and scene
    again (the first-start-only default left an empty window);
  - a control: with MIRADA_SMOKE_TIMEOUT tiny, the check reports failure
    (exit 1), so a pass means the boxes were seen.
Runs under the xvfb-run the test is started with; each start of the window
gets a session bus of its own (DBUS_RUN_SESSION, default dbus-run-session).
Standard library only.  Prints TAP.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
SCHEMA = os.path.join(SRC, "resources", "io.github.mirada.Mirada.gschema.xml")
DBUS_RUN_SESSION = sys.argv[3] if len(sys.argv) > 3 else "dbus-run-session"


def run(home, extra=None, timeout_s="120"):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "XDG_DATA_DIRS": "/usr/share",
        "MIRADA_SMOKE": "1",
        "MIRADA_SMOKE_TIMEOUT": timeout_s,
        "GDK_BACKEND": "x11",
        "GTK_A11Y": "none",
    }
    # the display and bus this test runs under, and a sanitizer build's own
    # settings (build-aux/test: leak suppressions, options): not Mirada's
    for key in ("DISPLAY", "XAUTHORITY", "ASAN_OPTIONS",
                "UBSAN_OPTIONS", "LSAN_OPTIONS", "MALLOC_PERTURB_"):
        if key in os.environ:
            env[key] = os.environ[key]
    if "ASAN_OPTIONS" in env:
        # what this test checks is the start-up path; leaks of the whole GTK
        # application are the GUI tests' business (their suppressions).  And
        # build-aux/test's fast_unwind_on_malloc=0 (full stacks for leak
        # reports) unwinds every malloc of a whole GTK start: no frame within
        # minutes in a fresh chroot
        env["ASAN_OPTIONS"] += ":detect_leaks=0:fast_unwind_on_malloc=1"
    env.update(extra or {})
    return subprocess.run([DBUS_RUN_SESSION, "--", MIRADA], env=env, capture_output=True,
                          text=True, timeout=300)


def shown(proc):
    return proc.returncode == 0 and re.search(r"smoke test: the window shows [1-9]\d* boxes",
                                              proc.stdout)


with tempfile.TemporaryDirectory() as tmp:
    home = os.path.join(tmp, "home")
    p = run(home)
    check(shown(p), "no schema installed: the window opens and shows boxes",
          f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    # The first view of the demo finds every item of the scene and draws no
    # false box, with the default settings (issue: 3 of 6 found before).
    m = re.search(r"shows (\d+) boxes.*ground truth: (\d+) of (\d+) found, precision ([\d.]+)",
                  p.stdout)
    check(m and m.group(2) == m.group(3) and m.group(1) == m.group(3) and float(m.group(4)) == 1.0,
          "first view of the demo: every item found, no false box", p.stdout)
    p = run(home)
    check(shown(p), "second start, same HOME: the built-in model and scene again",
          f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")

    # A stale schema "installed system-wide": the same id without the stride key.
    stale = os.path.join(tmp, "sys", "glib-2.0", "schemas")
    os.makedirs(stale)
    with open(SCHEMA, encoding="utf-8") as f:
        xml = f.read()
    xml, n = re.subn(r'\s*<key name="stride".*?</key>', "", xml, flags=re.S)
    assert n == 1
    with open(os.path.join(stale, "io.github.mirada.Mirada.gschema.xml"), "w",
              encoding="utf-8") as f:
        f.write(xml)
    subprocess.run(["glib-compile-schemas", stale], check=True)
    p = run(os.path.join(tmp, "home2"),
            {"XDG_DATA_DIRS": os.path.join(tmp, "sys") + ":/usr/share"})
    check(shown(p), "a stale system-wide schema (no 'stride' key) does not abort the window",
          f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")

    p = run(os.path.join(tmp, "home3"), timeout_s="0.01")
    check(p.returncode == 1 and "no boxes on screen" in p.stderr,
          "control: with no time to classify, the smoke check fails",
          f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")

finish()

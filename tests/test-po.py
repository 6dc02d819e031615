#!/usr/bin/python3
"""Translations are complete and in sync with the sources.

    test-po.py SRCROOT       (the project's top folder)

For every language in po/LINGUAS:
  - `msgfmt -c --check-accelerators=_ --statistics` passes (format
    specifiers, plural forms, header, one mnemonic underscore) and reports
    no fuzzy and no untranslated message;
  - every message in a template extracted now from po/POTFILES.in (the
    same xgettext arguments as meson's glib preset) has a translation in
    the .po (`msgcmp`): a new _() string fails here until someone runs
    po/update-po and translates it.
And po/POTFILES.in lists every source file of engine/ and app/ that marks
strings, and only files that exist.

Standard library and the gettext tools only.  Prints TAP.
"""
import os
import re
import subprocess
import sys
import tempfile

from tap import check, finish

SRC = os.path.abspath(sys.argv[1])
PO = os.path.join(SRC, "po")

# meson's i18n.gettext(preset: 'glib') keywords (mesonbuild/modules/i18n.py).
XGETTEXT_ARGS = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format",
    "--flag=NC_:2:pass-c-format", "--flag=g_dngettext:2:pass-c-format",
]
# A format macro inside a marked string: xgettext cannot expand it, so the
# catalogue holds a message cut short that never matches at run time.
MACRO_IN_MSGID = re.compile(
    r'(?<![A-Za-z0-9_])(?:N?_|NC?_)\s*\((?:\s*"(?:[^"\\]|\\.)*"\s*,)?'
    r'(?:\s*"(?:[^"\\]|\\.)*")+\s*(G_G[A-Z0-9]*_(?:FORMAT|MODIFIER))')
MARK = re.compile(r'(?<![A-Za-z0-9_])(?:N?_|C_|NC_|Q_|ngettext|g_dngettext|g_dpgettext2?)\s*\(\s*"')

macros = []


def potfiles():
    with open(os.path.join(PO, "POTFILES.in"), encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def marked_sources():
    found = []
    global macros
    for top in ("engine", "app"):
        for dirpath, _dirs, files in os.walk(os.path.join(SRC, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
                if MARK.search(text):
                    found.append(os.path.relpath(path, SRC))
                for m in MACRO_IN_MSGID.finditer(text):
                    macros.append(f"{os.path.relpath(path, SRC)}: {m.group(1)}")
    return sorted(found)


listed = potfiles()
missing = [f for f in marked_sources() if f not in listed]
check(not missing, "POTFILES.in lists every engine/app file with translatable strings",
      "add to po/POTFILES.in: " + ", ".join(missing))
gone = [f for f in listed if not os.path.exists(os.path.join(SRC, f))]
check(not gone, "every file in POTFILES.in exists", "remove: " + ", ".join(gone))

with tempfile.TemporaryDirectory(prefix="mirada-po-test-") as tmp:
    pot = os.path.join(tmp, "mirada.pot")
    listed_existing = [f for f in listed if f not in gone]
    files_from = os.path.join(tmp, "POTFILES")
    with open(files_from, "w", encoding="utf-8") as f:
        f.write("\n".join(listed_existing) + "\n")
    p = subprocess.run(["xgettext", "--package-name=mirada", "--directory=" + SRC,
                        "--files-from=" + files_from, "-o", pot] + XGETTEXT_ARGS,
                       capture_output=True, text=True)
    check(p.returncode == 0 and os.path.exists(pot), "xgettext extracts the template",
          p.stderr.strip())
    # A msgid cut short by a macro (e.g. "%" G_GINT64_FORMAT) never matches at
    # run time: use PRId64/PRIu64 or %zu instead.
    cut = [l for l in p.stderr.splitlines() if "in the middle of a directive" in l]
    check(not cut and not macros, "no message is cut short by a format macro",
          "\n".join(cut + macros))

    with open(os.path.join(PO, "LINGUAS"), encoding="utf-8") as f:
        langs = [w for l in f if not l.startswith("#") for w in l.split()]
    check(len(langs) > 0, "po/LINGUAS names languages")
    for lang in langs:
        po = os.path.join(PO, lang + ".po")
        p = subprocess.run(["msgfmt", "-c", "--check-accelerators=_", "--statistics",
                            "-o", os.devnull, po], capture_output=True, text=True,
                           env=dict(os.environ, LC_ALL="C", LANGUAGE=""))
        stats = p.stderr.strip()
        check(p.returncode == 0, f"{lang}: msgfmt -c passes", stats)
        check(re.search(r"\d+ translated message", stats) is not None
              and "fuzzy" not in stats and "untranslated" not in stats,
              f"{lang}: no fuzzy or untranslated messages", stats)
        if os.path.exists(pot):
            p = subprocess.run(["msgcmp", po, pot], capture_output=True, text=True,
                               env=dict(os.environ, LC_ALL="C", LANGUAGE=""))
            check(p.returncode == 0, f"{lang}: every message in the sources is translated",
                  "run po/update-po and translate:\n" + p.stderr.strip()[:4000])

finish()

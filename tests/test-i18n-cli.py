#!/usr/bin/python3
"""The built `mirada` speaks the user's language: help texts, option
descriptions (GOptionContext's translation domain) and error messages from
both the CLI and the engine, in every language of po/LINGUAS.

    test-i18n-cli.py MIRADA SRCROOT LOCALEDIR

LOCALEDIR is the build tree's po/ folder (LANG/LC_MESSAGES/mirada.mo); the
binary finds it through MIRADA_LOCALEDIR.  The expected text is read from
the .po files (msgid -> msgstr), not copied from Mirada's output: each
literal fragment of the msgstr (between format directives) must appear, in
order.  A control run with an empty locale folder must give the English
msgid instead, so a test that passes proves the catalogue was used.

Standard library only.  Prints TAP.
"""
import os
import re
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
LOCALEDIR = os.path.abspath(sys.argv[3])
MODEL = os.path.join(SRC, "resources", "default", "model.h5")
SCENE = os.path.join(SRC, "resources", "default", "scene.png")

DIRECTIVE = re.compile(r"%(?:\d+\$)?[-+ #0-9.*]*(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfFgGaAcsp]"
                       r"|%<PRI[a-z0-9]+>")
UNESCAPE = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def unescape(s):
    return re.sub(r"\\(.)", lambda m: UNESCAPE.get(m.group(1), m.group(1)), s)


def load_po(path):
    """msgid -> msgstr of the translated, context-free, singular messages."""
    table = {}
    with open(path, encoding="utf-8") as f:
        blocks = f.read().split("\n\n")
    for block in blocks:
        fields = {}
        key = None
        for line in block.splitlines():
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) "(.*)"$', line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if "msgid" in fields and "msgstr" in fields and "msgctxt" not in fields \
                and fields["msgid"] and fields["msgstr"]:
            table[unescape(fields["msgid"])] = unescape(fields["msgstr"])
    return table


def fragments(template):
    return [p for p in DIRECTIVE.split(template.replace("%%", "%")) if p.strip()]


def contains_in_order(text, template):
    pos = 0
    for frag in fragments(template):
        i = text.find(frag, pos)
        if i < 0:
            return False
        pos = i + len(frag)
    return True


def run(lang, localedir, *args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG")}
    # C.UTF-8 is always there; gettext ignores LANGUAGE only in the "C" locale.
    env.update(LANG="C.UTF-8", LANGUAGE=lang, MIRADA_LOCALEDIR=localedir)
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, env=env,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


# (what, arguments, exit code, stream, msgids that must show up translated)
CASES = [
    ("mirada --help", ["--help"], 0, "stdout",
     ["Usage:", "Commands:", "Show a model's layers, output shapes and parameters",
      "Run “mirada COMMAND --help” for the options of a command."]),
    ("mirada detect --help (option descriptions)", ["detect", "--help"], 0, "stdout",
     ["Threshold P(x) of a class (name or index), or of all (default 0.99)",
      "Exception factor f_e(x): value of a neighbour outside the grid (default 0.5)",
      "Step between windows (default 40)", "[CLASS=]P"]),
    ("unknown option", ["detect", "--no-such-option"], 1, "stderr",
     ["Try “mirada %s --help” for more information.\n"]),
    ("missing model file (CLI)", ["info", "/nonexistent/model.h5"], 2, "stderr",
     ["Cannot open '%s': %s"]),
    ("missing image (engine)", ["predict", MODEL, "/nonexistent/image.png"], 2, "stderr",
     ["Cannot open image '%s': no such file"]),
    # a bad option value is a usage error, exit 1 (HACKING.md: one rule for the CLI)
    ("unknown class, a PRId64 message", ["gradcam", MODEL, SCENE, "--class", "no-such-class",
                                         "-o", os.devnull], 1, "stderr",
     ["Unknown class '%s': give a class name from the model's labels or an index from 0 "
      "to %<PRId64>"]),
]

with open(os.path.join(SRC, "po", "LINGUAS"), encoding="utf-8") as f:
    langs = [w for l in f if not l.startswith("#") for w in l.split()]

with tempfile.TemporaryDirectory(prefix="mirada-i18n-test-") as empty:
    for lang in langs:
        mo = os.path.join(LOCALEDIR, lang, "LC_MESSAGES", "mirada.mo")
        check(os.path.exists(mo), f"{lang}: the build tree has {mo}")
        table = load_po(os.path.join(SRC, "po", lang + ".po"))
        for what, args, code, stream, msgids in CASES:
            rc, out, err = run(lang, LOCALEDIR, *args)
            text = out if stream == "stdout" else err
            check(rc == code, f"{lang}: {what} exits {code}", f"exit {rc}\n{out}{err}")
            for msgid in msgids:
                msgstr = table.get(msgid)
                check(msgstr is not None and msgstr != msgid
                      and contains_in_order(text, msgstr),
                      f"{lang}: {what} shows “{msgid[:50].strip()}” translated",
                      f"expected the fragments of: {msgstr!r}\ngot:\n{text}")
            # Control: without the catalogue the same run is in English.
            rc, out, err = run(lang, empty, *args)
            text = out if stream == "stdout" else err
            check(all(contains_in_order(text, m) for m in msgids),
                  f"{lang}: {what} is English without the catalogue", text)

finish()

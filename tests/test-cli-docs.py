#!/usr/bin/python3
"""The man page and the bash and zsh completions (issue 21) against the
binary's own help, which this test parses itself:

- every command prints its help in one format: "Usage:", the line
  "mirada COMMAND [OPTION…] …", a summary, then "Options:" (GLib's
  "Help Options:"/"Application Options:" layout is the old, inconsistent one);
- the man page renders with groff without a warning, and its text has every
  command's usage line and every option;
- bash, with the completion loaded, completes command names, every long
  option of every command (with "=" when it takes a value), file names after
  a FILE option (both "--truth FILE" and "--truth=FILE"), and nothing after a
  numeric option;
- the zsh file parses (zsh -n) and names every option of every command.

    test-cli-docs.py MIRADA MAN BASH_COMPLETION ZSH_COMPLETION     Prints TAP.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA, MAN, BASH, ZSH = (os.path.abspath(a) for a in sys.argv[1:5])
ENV = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE="")
ENV.pop("MIRADA_LOCALEDIR", None)
OPTION = re.compile(r"^\s+(?:-(\w), )?--([a-z0-9][\w-]*)(=\S+)?\s{2,}")


def out(*args):
    return subprocess.run(list(args), env=ENV, capture_output=True, text=True, timeout=60)


main_help = out(MIRADA, "--help").stdout
commands = [l.split()[0] for l in main_help.split("Commands:")[1].split("\n\n")[0].splitlines()
            if l.startswith("  ") and l.split()[0] != "help"]
check(len(commands) >= 12, "the main help lists the commands", main_help)

options = {}
for cmd in commands:
    h = out(MIRADA, cmd, "--help")
    lines = h.stdout.splitlines()
    fmt_ok = (h.returncode == 0 and len(lines) > 4 and lines[0] == "Usage:" and
              lines[1].startswith(f"  mirada {cmd} [OPTION") and "Options:" in lines and
              "Help Options:" not in lines and lines[2] == "" and lines[3].strip() != "")
    check(fmt_ok, f"{cmd} --help: usage line names the command, summary, Options:", h.stdout)
    options[cmd] = [(m.group(1), m.group(2), m.group(3) is not None)
                    for m in map(OPTION.match, lines) if m]
    check(len(options[cmd]) >= 2, f"{cmd} --help lists options", h.stdout)

# ------------------------------------------------------------------ man page
groff = shutil.which("groff")
check(groff is not None, "groff is installed (build-aux/install-deps: groff-base)")
if groff:
    r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True, text=True)
    check(r.returncode == 0 and r.stderr.strip() == "", "the man page renders without warnings",
          r.stderr)
    text = subprocess.run([groff, "-man", "-Tutf8", "-P", "-cbou", MAN], capture_output=True,
                          text=True, env=ENV).stdout
    flat = re.sub(r"\s+", " ", text.replace("\u2010", "-"))
    for cmd in commands:
        usage = out(MIRADA, cmd, "--help").stdout.splitlines()[1].strip()
        missing = [f"--{lng}" for _s, lng, _v in options[cmd] if f"--{lng}" not in flat]
        check(usage in flat and not missing, f"man page: {cmd}'s usage and all its options",
              f"usage: {usage!r} in page: {usage in flat}; missing: {missing}")

# ---------------------------------------------------------------- bash
def complete(words, cwd):
    """COMPREPLY of _mirada for the command line `words` (last = word being typed)."""
    arr = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source '{BASH}'\nCOMP_WORDS=({arr})\nCOMP_CWORD={len(words) - 1}\n"
              "_mirada\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    return [l for l in r.stdout.splitlines() if l], r.stderr


with tempfile.TemporaryDirectory() as tmp:
    open(os.path.join(tmp, "scene-truth.json"), "w").close()
    got, err = complete(["mirada", "de"], tmp)
    check(got == ["detect"], "bash: `mirada de` completes to detect", f"{got} {err}")
    got, err = complete(["mirada", "help", "expl"], tmp)
    check(got == ["explain-unit"], "bash: `mirada help expl` completes to explain-unit", f"{got} {err}")
    bad = []
    for cmd in commands:
        for short, lng, takes in options[cmd]:
            got, err = complete(["mirada", cmd, f"--{lng}"], tmp)
            want = f"--{lng}=" if takes else f"--{lng}"
            if want not in got:
                bad.append(f"{cmd} --{lng}: {got} {err.strip()}")
    check(not bad, "bash: every long option of every command completes", "\n".join(bad))
    got, err = complete(["mirada", "detect", "--truth", "scene"], tmp)
    check(got == ["scene-truth.json"], "bash: a file after `--truth `", f"{got} {err}")
    got, err = complete(["mirada", "detect", "--truth", "=", "scene"], tmp)
    check(got == ["scene-truth.json"], "bash: a file after `--truth=`", f"{got} {err}")
    got, err = complete(["mirada", "detect", "--stride", "="], tmp)
    check(got == [], "bash: nothing offered for a number (--stride=)", f"{got} {err}")
    got, err = complete(["mirada", "predict", "model.h5", "scene"], tmp)
    check(got == ["scene-truth.json"], "bash: files as positional arguments", f"{got} {err}")

# ---------------------------------------------------------------- zsh
zsh = shutil.which("zsh")
check(zsh is not None, "zsh is installed (build-aux/install-deps: zsh)")
if zsh:
    r = subprocess.run([zsh, "-n", ZSH], capture_output=True, text=True)
    check(r.returncode == 0, "zsh: the completion file parses", r.stderr)
zsh_text = open(ZSH, encoding="utf-8").read()
check(zsh_text.startswith("#compdef mirada"), "zsh: #compdef mirada")
missing = [f"{cmd} --{lng}" for cmd in commands for _s, lng, _v in options[cmd]
           if f"--{lng}" not in zsh_text]
check(not missing and all(f"'{c}:" in zsh_text for c in commands),
      "zsh: every command and option", " ".join(missing))
finish()

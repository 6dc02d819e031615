#!/usr/bin/python3
"""Issue 16: when nothing says how a model's input is scaled, the CLI says so.

    test-preprocess-note.py MIRADA SRCDIR LOCALEDIR   (SRCDIR = the tests/ folder)

A Keras .h5 with no Rescaling/Normalization layer, no sidecar and no
Teachable Machine labels file runs with 'none' (0..255) and prints one
"mirada: note: ..." line on stderr; --preprocess, a sidecar with
"preprocess", the model's own Rescaling layer or a Teachable Machine
labels.txt (which means 'tf') each make it known, and then there is no
note.  `info --json` tells where the preprocessing came from
(preprocess_from).

Standard library only.  Prints TAP.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tap import check, finish

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
LOCALEDIR = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
DATA = os.path.join(SRC, "data", "cli")
PHOTO = os.path.join(DATA, "photo.png")
GREY = os.path.join(DATA, "grey.png")

tmp = tempfile.mkdtemp(prefix="mirada-note-test-")


def run(*args, env=None):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=120,
                       env=env)
    return p.returncode, p.stdout, p.stderr


def notes(err):
    return [l for l in err.splitlines() if l.startswith("mirada: note:")]


def place(folder, name, source="tiny_softmax.h5"):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    shutil.copy(os.path.join(DATA, source), path)
    return path


def info_json(path):
    rc, out, err = run("info", "--json", path)
    return json.loads(out) if rc == 0 else {"error": err}


# ---------------------------------------------------------------- unknown
bare = place(os.path.join(tmp, "bare"), "fashion.h5")
rc, out, err = run("predict", bare, PHOTO, GREY)
n = notes(err)
check(rc == 0, "no sidecar, no Rescaling: predict still runs", err)
check(len(n) == 1, "no sidecar, no Rescaling: one note on stderr for two images", err)
check(n and "fashion.h5" in n[0] and "--preprocess scale" in n[0]
      and "fashion.mirada.json" in n[0] and "0..255" in n[0],
      "the note names the model, the default, the option and the sidecar", err)
check("note" not in out, "the note is not on stdout", out)
rc, out, err = run("predict", "--json", bare, PHOTO)
check(rc == 0 and len(notes(err)) == 1 and json.loads(out)["preprocess"] == "none",
      "--json: stdout stays JSON, the note is on stderr", out + err)
rc, out, err = run("gradcam", "--method", "gradients", "-o", os.path.join(tmp, "g.png"),
                   bare, PHOTO)
check(rc == 0 and len(notes(err)) == 1, "gradcam prints the note too", err)
rc, out, err = run("predict", bare, os.path.join(tmp, "missing.png"))
check(rc == 2 and len(err.splitlines()) == 1 and not notes(err),
      "a failure stays one stderr line (the note comes only after results)", err)
got = info_json(bare)
check(got.get("preprocess_from") == "unknown", "info --json: preprocess_from unknown", got)
rc, out, err = run("info", bare)
check(rc == 0 and "is assumed" in out, "info (text) says 'none' is assumed", out + err)

# ---------------------------------------------------------------- known
rc, out, err = run("predict", "--preprocess", "none", bare, PHOTO)
check(rc == 0 and not notes(err), "--preprocess none: no note", err)
rc, out, err = run("predict", "--preprocess", "scale", bare, PHOTO)
check(rc == 0 and not notes(err), "--preprocess scale: no note", err)

with_sidecar = place(os.path.join(tmp, "sidecar"), "fashion.h5")
with open(os.path.join(tmp, "sidecar", "fashion.mirada.json"), "w") as f:
    f.write('{"mirada": 1, "preprocess": "none"}\n')
rc, out, err = run("predict", with_sidecar, PHOTO)
check(rc == 0 and not notes(err), "a sidecar saying 'none': no note", err)
check(info_json(with_sidecar).get("preprocess_from") == "sidecar",
      "info --json: preprocess_from sidecar", info_json(with_sidecar))

names_only = place(os.path.join(tmp, "names"), "fashion.h5")
with open(os.path.join(tmp, "names", "fashion.mirada.json"), "w") as f:
    f.write('{"mirada": 1, "class_names": ["a", "b", "c"]}\n')
rc, out, err = run("predict", names_only, PHOTO)
check(rc == 0 and len(notes(err)) == 1, "a sidecar with class names only: still the note", err)

rescaling = place(os.path.join(tmp, "rescaling"), "own.h5", "tiny_rescaling.h5")
rc, out, err = run("predict", rescaling, PHOTO)
check(rc == 0 and not notes(err), "the model's own Rescaling layer: no note", err)
check(info_json(rescaling).get("preprocess_from") == "layers",
      "info --json: preprocess_from layers", info_json(rescaling))

# Teachable Machine's Keras export: keras_model.h5 + labels.txt ("0 name").
tm = place(os.path.join(tmp, "tm"), "keras_model.h5")
with open(os.path.join(tmp, "tm", "labels.txt"), "w") as f:
    f.write("0 red\n1 green\n2 blue\n")
rc, out, err = run("predict", "--json", tm, PHOTO)
check(rc == 0 and json.loads(out)["preprocess"] == "tf" and not notes(err),
      "labels.txt (Teachable Machine) beside an .h5: tf, no note", out + err)
got = info_json(tm)
check(got.get("preprocess") == "tf" and got.get("preprocess_from") == "labels",
      "info --json: tf from labels", got)
# Renamed together, as tests/data/models keeps it.
tm2 = place(os.path.join(tmp, "tm2"), "963n__keras_model.h5")
with open(os.path.join(tmp, "tm2", "963n__keras_model.labels.txt"), "w") as f:
    f.write("0 red\n1 green\n2 blue\n")
got = info_json(tm2)
check(got.get("preprocess") == "tf" and got.get("preprocess_from") == "labels",
      "<x>keras_model.labels.txt beside <x>keras_model.h5: tf from labels", got)
# A plain list of names is not Teachable Machine's: nothing implied.
plain = place(os.path.join(tmp, "plain"), "fashion.h5")
with open(os.path.join(tmp, "plain", "labels.txt"), "w") as f:
    f.write("red\ngreen\nblue\n")
rc, out, err = run("predict", plain, PHOTO)
check(rc == 0 and len(notes(err)) == 1, "a plain labels.txt: still the note", err)

# ---------------------------------------------------------------- translated
if LOCALEDIR and os.path.isdir(LOCALEDIR):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG")}
    env.update(LANG="C.UTF-8", LANGUAGE="es", MIRADA_LOCALEDIR=LOCALEDIR)
    rc, out, err = run("predict", bare, PHOTO, env=env)
    n = [l for l in err.splitlines() if l.startswith("mirada: ")]
    check(rc == 0 and len(n) == 1 and "--preprocess scale" in n[0]
          and not n[0].startswith("mirada: note:"), "LANGUAGE=es: the note is translated", err)

shutil.rmtree(tmp, ignore_errors=True)
finish()

#!/usr/bin/python3
"""`mirada predict` on many files and folders (issue 16): a folder stands for
its files (sorted by name, not recursive, hidden files skipped); a file that
is not a readable image is reported on stderr ("mirada: FILE: why") and the
others are still classified; exit 2 when any input failed, 0 otherwise;
--json lists the failures under "errors"; --csv has one row per image.

Probabilities are checked against tests/data/cli/expected.json (Pillow +
numpy, see tests/data/cli/gen-cli-data.py), parsed with the json and csv
modules.

    test-cli-batch.py MIRADA SRCDIR      (SRCDIR = the tests/ folder)

Standard library only.  Prints TAP.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
DATA = os.path.join(SRC, "data", "cli")
MODEL = os.path.join(DATA, "tiny_softmax.h5")
EXPECTED = json.load(open(os.path.join(DATA, "expected.json")))["tiny_softmax.h5"]
TOL = 1e-5  # float32 engine vs float64 reference, lossless images
GOOD = ["alpha.png", "grey.png", "photo.png"]

results = []
tmp = tempfile.mkdtemp(prefix="mirada-batch-test-")


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def run(*args):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def close_to_reference(name, predictions):
    """predictions: {class index: probability}."""
    ref = EXPECTED[name]
    return all(abs(predictions.get(i, -1) - ref[i]) <= TOL for i in range(len(ref)))


# A folder: three images, two files that are not images, a broken PNG, a
# hidden file and a subfolder (neither looked at).
folder = os.path.join(tmp, "images")
os.makedirs(os.path.join(folder, "sub"))
for name in GOOD:
    shutil.copy(os.path.join(DATA, name), os.path.join(folder, name))
shutil.copy(os.path.join(DATA, "photo.png"), os.path.join(folder, "sub", "deeper.png"))
with open(os.path.join(folder, "notes.txt"), "w") as f:
    f.write("not an image\n")
with open(os.path.join(folder, "broken.png"), "wb") as f:
    f.write(open(os.path.join(DATA, "photo.png"), "rb").read()[:60])
with open(os.path.join(folder, ".hidden.png"), "w") as f:
    f.write("hidden\n")
BAD = ["broken.png", "notes.txt"]

# ------------------------------------------------------------ --json
rc, out, err = run("predict", "--json", "--top", "3", MODEL, folder)
check("folder --json: exit 2 (some inputs failed)", rc == 2, err)
try:
    got = json.loads(out)
except ValueError as e:
    got = None
    check("folder --json: valid JSON", False, "%s\n%s" % (e, out))
if got is not None:
    names = [os.path.basename(r["image"]) for r in got.get("images", [])]
    check("folder --json: the images, sorted by name, not the subfolder's", names == GOOD,
          names)
    for r in got.get("images", []):
        name = os.path.basename(r["image"])
        probs = {p["class"]: p["probability"] for p in r["predictions"]}
        check("folder --json: %s within %g of the reference" % (name, TOL),
              name in EXPECTED and close_to_reference(name, probs), probs)
    errors = got.get("errors")
    check("folder --json: an \"errors\" list naming the bad files",
          isinstance(errors, list)
          and sorted(os.path.basename(e["image"]) for e in errors) == BAD
          and all(e["error"] for e in errors), errors)
lines = err.splitlines()
check("folder: one stderr line per bad file, 'mirada: FILE: why'",
      len(lines) == len(BAD) and all(l.startswith("mirada: ") for l in lines)
      and all(any(b in l for l in lines) for b in BAD), err)

# ------------------------------------------------------------ text
rc, out, err = run("predict", MODEL, folder)
check("folder text: exit 2", rc == 2, err)
check("folder text: every good image listed",
      all(os.path.join(folder, n) in out.splitlines() for n in GOOD), out)
check("folder text: the bad ones not on stdout", not any(b in out for b in BAD), out)

# ------------------------------------------------------------ --csv
rc, out, err = run("predict", "--csv", "--top", "3", MODEL, folder,
                   os.path.join(DATA, "rotated.jpg"))
check("folder + file --csv: exit 2", rc == 2, err)
rows = list(csv.reader(io.StringIO(out)))
head = rows[0] if rows else []
check("--csv: header file, class_k, probability_k for k = 1..3",
      head == ["file", "class_1", "probability_1", "class_2", "probability_2",
               "class_3", "probability_3"], head)
body = rows[1:]
check("--csv: one row per good image, as many fields as the header",
      [os.path.basename(r[0]) for r in body] == GOOD + ["rotated.jpg"]
      and all(len(r) == len(head) for r in body), rows)
# The CSV names classes; the sidecar maps them to indices.
classes = json.load(open(os.path.join(DATA, "tiny_softmax.mirada.json")))["class_names"]
for r in body:
    name = os.path.basename(r[0])
    if name not in GOOD:
        continue
    try:
        probs = {classes.index(r[i]): float(r[i + 1]) for i in range(1, len(r), 2)}
    except ValueError:
        probs = {}
    check("--csv: %s within %g of the reference" % (name, TOL),
          close_to_reference(name, probs), r)

# ------------------------------------------------------------ all good, single files
rc, out, err = run("predict", "--json", MODEL, *[os.path.join(folder, n) for n in GOOD])
got = json.loads(out) if rc == 0 else {}
check("only good files: exit 0, empty errors list",
      rc == 0 and got.get("errors") == [] and len(got.get("images", [])) == 3, err)
rc, out, err = run("predict", MODEL, os.path.join(folder, "broken.png"),
                   os.path.join(folder, "photo.png"))
check("bad file first: the good one still classified, exit 2",
      rc == 2 and os.path.join(folder, "photo.png") in out, out + err)
check("bad file first: one stderr line naming it",
      len(err.splitlines()) == 1 and err.startswith("mirada: ")
      and "broken.png" in err, err)
rc, out, err = run("predict", MODEL, os.path.join(tmp, "missing.png"))
check("one missing file: exit 2, one line", rc == 2 and len(err.splitlines()) == 1
      and "missing.png" in err, err)
empty = os.path.join(tmp, "empty")
os.mkdir(empty)
rc, out, err = run("predict", MODEL, empty)
check("empty folder: exit 2, one line naming it", rc == 2 and len(err.splitlines()) == 1
      and empty in err, err)
rc, out, err = run("predict", "--json", "--csv", MODEL, folder)
check("--json with --csv: usage error", rc == 1, err)

shutil.rmtree(tmp, ignore_errors=True)

print("1..%d" % len(results))
failed = 0
for i, (name, ok, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        failed += 1
        for line in str(detail)[:2000].splitlines():
            print("# " + line); print("# " + line, file=sys.stderr)  # meson shows stderr
sys.exit(1 if failed else 0)

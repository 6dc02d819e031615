#!/usr/bin/python3
"""Machine-readable output must not depend on the locale (issue 16).

Runs every `mirada` command that writes JSON or CSV under locales whose
decimal separator is a comma (es_ES.UTF-8, pt_BR.UTF-8) and reads the result
with real parsers: Python's json module, and its csv module with every row
holding as many fields as the header and every number a float.

    test-cli-locale.py MIRADA SRCDIR      (SRCDIR = the tests/ folder)

The locales must be installed (build-aux/install-deps generates them); a
missing one is a failure, not a skip.  Standard library only.  Prints TAP.
"""
import csv
import io
import json
import locale
import math
import os
import shutil
import subprocess
import sys
import tempfile

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
TOP = os.path.dirname(SRC)
DATA = os.path.join(SRC, "data", "cli")
DEFAULT_MODEL = os.path.join(TOP, "resources", "default", "model.h5")
SCENE = os.path.join(TOP, "resources", "default", "scene.png")
SCENE_TRUTH = os.path.join(TOP, "resources", "default", "scene.json")
SOFTMAX = os.path.join(DATA, "tiny_softmax.h5")
PHOTO = os.path.join(DATA, "photo.png")
LOCALES = ["es_ES.UTF-8", "pt_BR.UTF-8"]

results = []
tmp = tempfile.mkdtemp(prefix="mirada-locale-test-")


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def installed_locales():
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    return {l.strip().lower().replace("utf-8", "utf8") for l in out.splitlines()}


def run(loc, *args):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LC_") or k in ("LANG", "LANGUAGE"):
            del env[k]
    env["LC_ALL"] = loc
    env["LANG"] = loc
    p = subprocess.run([MIRADA] + list(args), capture_output=True, text=True, env=env,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def numbers_in(value):
    """Every number in a parsed JSON value."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in numbers_in(v)]
    return [n for v in value.values() for n in numbers_in(v)]


def check_json(name, text):
    """Parses @text as JSON; returns it or None."""
    try:
        value = json.loads(text)
    except ValueError as e:
        check(name + ": valid JSON", False, "%s\n%s" % (e, text[:1500]))
        return None
    nums = numbers_in(value)
    check(name + ": valid JSON, %d numbers, all finite" % len(nums),
          all(math.isfinite(n) for n in nums), text[:1500])
    return value


def check_csv(name, text, text_columns=(), min_rows=1):
    """Parses @text as CSV: header, rows of as many fields, every field outside
    @text_columns empty (a missing value) or a float."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        check(name + ": CSV has a header", False, repr(text[:500]))
        return None
    head, body = rows[0], rows[1:]
    bad = [r for r in body if len(r) != len(head)]
    check(name + ": %d rows of %d fields, as the header" % (len(body), len(head)),
          not bad and len(body) >= min_rows, "%r\n%r" % (head, bad[:3] or body[:3]))
    not_numbers = []
    for r in body:
        for h, v in zip(head, r):
            if h in text_columns or v == "":
                continue
            try:
                float(v)
            except ValueError:
                not_numbers.append((h, v))
    check(name + ": numbers parse as float", not not_numbers, not_numbers[:5])
    return head, body


def is_finite_float(v):
    try:
        return math.isfinite(float(v))
    except ValueError:
        return False


def out_file(loc, name):
    return os.path.join(tmp, loc + "-" + name)


# ------------------------------------------------------------ the locales
have = installed_locales()
usable = []
for loc in LOCALES:
    present = loc.lower().replace("utf-8", "utf8") in have
    check("locale %s is installed" % loc, present,
          "missing: run build-aux/install-deps (it generates en_US, es_ES and pt_BR UTF-8)")
    if not present:
        continue
    # Make sure it really writes numbers with a decimal comma, or the test
    # proves nothing.
    probe = subprocess.run([sys.executable, "-c",
                            "import locale; locale.setlocale(locale.LC_ALL, %r); "
                            "print(locale.localeconv()['decimal_point'])" % loc],
                           capture_output=True, text=True)
    check("locale %s has a decimal comma" % loc, probe.stdout.strip() == ",",
          probe.stdout + probe.stderr)
    usable.append(loc)

# A tiny labelled dataset for evaluate (one folder per class).
dataset = os.path.join(tmp, "dataset")
for cls in ("blue", "green", "red"):
    os.makedirs(os.path.join(dataset, cls))
    for img in ("photo.png", "alpha.png"):
        shutil.copy(os.path.join(DATA, img), os.path.join(dataset, cls, img))

sneaker = [o for o in json.load(open(SCENE_TRUTH))["objects"] if o["class"] == "Sneaker"][0]
window = ",".join(str(v) for v in sneaker["box"])

for loc in usable:
    L = "[%s] " % loc

    rc, out, err = run(loc, "info", "--json", DEFAULT_MODEL)
    check(L + "info --json: exit 0", rc == 0, err)
    check_json(L + "info --json", out)

    rc, out, err = run(loc, "predict", "--json", SOFTMAX, PHOTO, os.path.join(DATA, "grey.png"))
    check(L + "predict --json: exit 0", rc == 0, err)
    got = check_json(L + "predict --json", out)
    if got:
        probs = [p["probability"] for im in got["images"] for p in im["predictions"]]
        check(L + "predict --json: probabilities in [0, 1], not truncated at the comma",
              probs and all(0 < p < 1 for p in probs), probs)

    rc, out, err = run(loc, "predict", "--csv", SOFTMAX, PHOTO, os.path.join(DATA, "grey.png"))
    check(L + "predict --csv: exit 0", rc == 0, err)
    check_csv(L + "predict --csv", out, ("file", "class_1", "class_2", "class_3"), 2)

    rc, out, err = run(loc, "bench", "--runs", "1", "--json", SOFTMAX)
    check(L + "bench --json: exit 0", rc == 0, err)
    check_json(L + "bench --json", out)

    deletion = out_file(loc, "deletion.csv")
    mapcsv = out_file(loc, "map.csv")
    rc, out, err = run(loc, "gradcam", "--json", "--faithfulness", "--deletion-csv", deletion,
                       "--csv", mapcsv, "--window", window, DEFAULT_MODEL, SCENE)
    check(L + "gradcam --json: exit 0", rc == 0, err)
    got = check_json(L + "gradcam --json", out)
    if got:
        check(L + "gradcam --json: probability in (0, 1]",
              0 < got[0]["probability"] <= 1 and "faithfulness" in got[0], got)
    if os.path.exists(deletion):
        check_csv(L + "gradcam --deletion-csv", open(deletion).read(), (), 2)
    else:
        check(L + "gradcam --deletion-csv written", False)
    if os.path.exists(mapcsv):
        rows = list(csv.reader(open(mapcsv)))
        widths = {len(r) for r in rows}
        bad = [v for r in rows for v in r if not is_finite_float(v)]
        check(L + "gradcam --csv: %d rows of %s values, all floats" % (len(rows), widths),
              len(rows) > 1 and len(widths) == 1 and not bad, bad[:5])
    else:
        check(L + "gradcam --csv written", False)

    # Several methods: labelled deletion curves with a label column.
    deletion2 = out_file(loc, "deletion2.csv")
    rc, out, err = run(loc, "gradcam", "--json", "-m", "gradcam,random", "--deletion-csv",
                       deletion2, "--window", window, DEFAULT_MODEL, SCENE)
    check(L + "gradcam two methods: exit 0", rc == 0, err)
    check_json(L + "gradcam two methods --json", out)
    if os.path.exists(deletion2):
        check_csv(L + "gradcam two methods --deletion-csv", open(deletion2).read(), ("curve",), 2)

    grid = out_file(loc, "grid.json")
    rc, out, err = run(loc, "detect", "--json", "--truth", SCENE_TRUTH, "--save-grid", grid,
                       DEFAULT_MODEL, SCENE)
    check(L + "detect --json --truth: exit 0", rc == 0, err)
    got = check_json(L + "detect --json", out)
    if got:
        check(L + "detect --json: boxes (\"objects\", the ground-truth format) and evaluation",
              got.get("objects") and "evaluation" in got, out[:500])
    if os.path.exists(grid):
        g = check_json(L + "detect --save-grid", open(grid).read())
        if g:
            probs = [p for row in g["probs"] for p in row]
            check(L + "detect --save-grid: probabilities in [0, 1]",
                  probs and all(0 <= p <= 1 for p in probs))
    else:
        check(L + "detect --save-grid written", False)

    rc, out, err = run(loc, "detect", "--csv", DEFAULT_MODEL, SCENE)
    check(L + "detect --csv: exit 0", rc == 0, err)
    parsed = check_csv(L + "detect --csv", out, ("class",), 1)
    if parsed:
        check(L + "detect --csv: the detection columns (docs/detector.md)",
              parsed[0] == ["class", "class_index", "scale", "scale_window", "scale_factor",
                            "window", "row", "col", "x", "y", "width", "height",
                            "probability", "mean", "members"], parsed[0])

    for fmt in ("--csv", "--json"):
        rc, out, err = run(loc, "detect", "--truth", SCENE_TRUTH, "--sweep",
                           "threshold=0.5,0.75", fmt, DEFAULT_MODEL, SCENE)
        check(L + "detect --truth --sweep %s: exit 0" % fmt, rc == 0, err)
        if fmt == "--csv":
            parsed = check_csv(L + "detect --truth --sweep --csv", out, ("method",), 2)
            if parsed:
                head, body = parsed
                col = head.index("precision") if "precision" in head else -1
                vals = [r[col] if 0 <= col < len(r) else "" for r in body]
                check(L + "detect --sweep --csv: precision column in [0, 1]",
                      vals and all(is_finite_float(v) and 0 <= float(v) <= 1 for v in vals),
                      vals)
        else:
            check_json(L + "detect --truth --sweep --json", out)

    conf = out_file(loc, "confusion.csv")
    rc, out, err = run(loc, "evaluate", SOFTMAX, dataset, "--csv", conf)
    check(L + "evaluate --csv: exit 0", rc == 0, err)
    if os.path.exists(conf):
        parsed = check_csv(L + "evaluate --csv", open(conf).read(), ("true\\predicted",), 3)
        if parsed:
            head, body = parsed
            counts = [v for r in body for v in r[1:]]
            check(L + "evaluate --csv: counts add up to the 6 images",
                  all(v.isdigit() for v in counts) and sum(map(int, counts)) == 6, body)
    else:
        check(L + "evaluate --csv written", False)

    scenes = out_file(loc, "scenes")
    rc, out, err = run(loc, "scene", "--out-dir", scenes, "--default")
    check(L + "scene: exit 0", rc == 0, err)
    jsons = [f for f in os.listdir(scenes) if f.endswith(".json")] if os.path.isdir(scenes) else []
    check(L + "scene: a JSON written", jsons, err)
    for f in jsons:
        check_json(L + "scene " + f, open(os.path.join(scenes, f)).read())

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

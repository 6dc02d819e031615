#!/usr/bin/python3
"""The engine's extension tables are complete:
- every layer class defined in engine/layers/*.c is in the one list,
  engine/layers/mir-layer-list.h, and the list names nothing undefined (a
  class left out of it could never be loaded);
- every explanation function declared in engine/explain/mir-explain.h (a
  MirExplainFunc: model, input, options, cancellable, error) is in the one
  method table, engine/explain/mir-explain-methods.c (a method left out of
  it would be in no menu, no CLI option and no test).

    check-layer-list.py SRCROOT          Prints TAP."""
import glob
import os
import re
import sys

from tap import check, finish

root = sys.argv[1]
defined = set()
for path in glob.glob(os.path.join(root, "engine", "layers", "*.c")):
    text = open(path).read()
    defined |= set(re.findall(r"^const MirLayerClass mir_layer_(\w+)_class\b", text, re.M))
    # classes made by a file's own macro: MERGE_CLASS (mir_layer_add_class, "Add");
    defined |= set(re.findall(r"^[A-Z_]+_CLASS \(mir_layer_(\w+)_class,", text, re.M))
listed = re.findall(r"^MIR_LAYER_CLASS \((\w+)\)$",
                    open(os.path.join(root, "engine", "layers", "mir-layer-list.h")).read(), re.M)
check(len(defined) >= 40, f"{len(defined)} layer classes defined")
check(not defined - set(listed), "every defined class is listed in mir-layer-list.h",
      " ".join(sorted(defined - set(listed))))
check(not set(listed) - defined, "every listed class is defined", " ".join(sorted(set(listed) - defined)))
check(len(listed) == len(set(listed)), "no class listed twice")

header = open(os.path.join(root, "engine", "explain", "mir-explain.h")).read()
declared = set(re.findall(r"^MirExplanation \*mir_explain_(\w+)\s*\(MirModel\s*\*\s*model,\s*"
                          r"MirTensor\s*\*\s*input,\s*const MirExplainOptions", header, re.M))
table = open(os.path.join(root, "engine", "explain", "mir-explain-methods.c")).read()
in_table = re.findall(r"^\s*\{ \"[^\"]+\", N_\(\"[^\"]+\"\), mir_explain_(\w+),", table, re.M)
check(len(declared) >= 15, f"{len(declared)} explanation functions declared")
check(declared == set(in_table), "every explanation function is in the method table, once",
      f"missing: {sorted(declared - set(in_table))}, unknown: {sorted(set(in_table) - declared)}")
check(len(in_table) == len(set(in_table)), "no method listed twice")
finish()

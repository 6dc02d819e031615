#!/usr/bin/python3
"""Tiny ONNX graphs for the onnx fuzz corpus (issue 20: the shape ops, folding,
LayerNormalization and the patterns), each a few hundred bytes so libFuzzer
mutates the graph rather than weights.

    /usr/bin/python3 fuzz/make-onnx-seeds.py fuzz/corpus/onnx

Files are named by their SHA-1, as libFuzzer names corpus entries.
"""
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, value, dtype=np.int64):
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.array(value, dtype), name))


def model(nodes, out_shape, opset, inits=()):
    g = helper.make_graph(
        nodes, "seed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=list(inits))
    return helper.make_model(g, producer_name="pytorch",
                             opset_imports=[helper.make_opsetid("", opset)])


def seeds():
    f32 = np.float32
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape; Squeeze, Cast
    yield model([helper.make_node("Shape", ["x"], ["s"]),
                 const("i", 1), helper.make_node("Gather", ["s", "i"], ["c"], axis=0),
                 const("ax", [0]), helper.make_node("Unsqueeze", ["c", "ax"], ["cu"]),
                 helper.make_node("Squeeze", ["cu", "ax"], ["cs"]),
                 helper.make_node("Unsqueeze", ["cs", "ax"], ["cu2"]),
                 helper.make_node("Cast", ["cu2"], ["cc"], to=TensorProto.INT64),
                 const("one", [1]), const("rest", [-1]),
                 helper.make_node("Concat", ["one", "cc", "rest"], ["shape"], axis=0),
                 helper.make_node("Reshape", ["x", "shape"], ["r"]),
                 helper.make_node("Flatten", ["r"], ["y"])], [1, 36], 13)
    # Slice along channels with negative bounds, Split into equal parts, Sub of maps
    yield model([const("st", [-3]), const("en", [100]), const("ax", [1]),
                 helper.make_node("Slice", ["x", "st", "en", "ax"], ["a"]),
                 helper.make_node("Split", ["a"], ["p", "q", "r"], axis=1),
                 helper.make_node("Sub", ["p", "q"], ["d"]),
                 helper.make_node("Div", ["d", "two"], ["y"])], [1, 1, 3, 3], 13,
                [numpy_helper.from_array(np.array([2.0], f32), "two")])
    # LayerNormalization after a Transpose to N, H, W, C, and back; MatMul on the channels
    yield model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                 helper.make_node("LayerNormalization", ["t", "g", "b"], ["n"], epsilon=1e-6),
                 helper.make_node("MatMul", ["n", "w"], ["m"]),
                 helper.make_node("Transpose", ["m"], ["y"], perm=[0, 3, 1, 2])],
                [1, 2, 3, 3], 17,
                [numpy_helper.from_array(np.linspace(0.5, 1.5, 4).astype(f32), "g"),
                 numpy_helper.from_array(np.zeros(4, f32), "b"),
                 numpy_helper.from_array(np.ones((4, 2), f32), "w")])
    # GELU as torch writes it, on the N, H, W, C layout
    yield model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                 const("s2", [1.4142135], f32), helper.make_node("Div", ["t", "s2"], ["d"]),
                 helper.make_node("Erf", ["d"], ["e"]),
                 const("o", [1.0], f32), helper.make_node("Add", ["e", "o"], ["a"]),
                 helper.make_node("Mul", ["t", "a"], ["m"]),
                 const("h", [0.5], f32), helper.make_node("Mul", ["m", "h"], ["g"]),
                 helper.make_node("Transpose", ["g"], ["y"], perm=[0, 3, 1, 2])],
                [1, 4, 3, 3], 13)
    # LayerNormalization as ReduceMean / Sub / Pow / Sqrt / Div (opset 13)
    yield model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
                 helper.make_node("ReduceMean", ["t"], ["m"], axes=[-1]),
                 helper.make_node("Sub", ["t", "m"], ["d"]),
                 const("two", [2.0], f32), helper.make_node("Pow", ["d", "two"], ["p"]),
                 helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
                 const("eps", [1e-6], f32), helper.make_node("Add", ["v", "eps"], ["ve"]),
                 helper.make_node("Sqrt", ["ve"], ["s"]),
                 helper.make_node("Div", ["d", "s"], ["n"]),
                 helper.make_node("Transpose", ["n"], ["y"], perm=[0, 3, 1, 2])],
                [1, 4, 3, 3], 13)


def main(out):
    os.makedirs(out, exist_ok=True)
    for m in seeds():
        data = m.SerializeToString()
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/python3
"""Tiny datasets in their real distribution formats, for tests/test-datasets.c.

CIFAR-10 binary (https://www.cs.toronto.edu/~kriz/cifar.html): each record is
<1 label byte><1024 red><1024 green><1024 blue>, rows of 32 pixels; CIFAR-100:
<coarse label><fine label><3072 pixel bytes>.  The archives are made with
tarfile exactly as the official ones are laid out (cifar-10-batches-bin/,
cifar-100-binary/).  MNIST IDX: magic 0x00000803 / 0x00000801, big-endian
dimensions, then bytes.

Expected values are written independently of the format: the images in HWC
order (numpy transpose of the planar records) as raw bytes, the labels in
expected.json.  Also broken files: a truncated archive, a batch with a
partial record, a label out of range, a truncated IDX file.

Run: tests/gen/make-datasets.py tests/data/datasets
"""
import gzip
import io
import json
import os
import shutil
import struct
import sys
import tarfile

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "datasets")
rng = np.random.default_rng(21)
expected = {}

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def cifar_records(n, n_label_bytes, n_fine):
    planar = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    coarse = rng.integers(0, 20, size=n, dtype=np.uint8)
    fine = rng.integers(0, n_fine, size=n, dtype=np.uint8)
    recs = bytearray()
    for i in range(n):
        if n_label_bytes == 2:
            recs += bytes([coarse[i], fine[i]])
        else:
            recs += bytes([fine[i]])
        recs += planar[i].tobytes()
    hwc = planar.transpose(0, 2, 3, 1)  # N, 32, 32, 3
    return bytes(recs), hwc, [int(x) for x in fine]


def tar_gz(path, members):
    """members: [(name, bytes)] in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1230000000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    write(path, gzip.compress(buf.getvalue(), mtime=0))


# CIFAR-10: two training batches (3 + 2 records), a test batch of 2.
b1, h1, l1 = cifar_records(3, 1, 10)
b2, h2, l2 = cifar_records(2, 1, 10)
bt, ht, lt = cifar_records(2, 1, 10)
meta10 = ("\n".join(CIFAR10_NAMES) + "\n\n").encode()
folder10 = os.path.join(out, "cifar-10-batches-bin")
shutil.rmtree(folder10, ignore_errors=True)
# Batch 2 before batch 1 in the archive: the reader orders by N.
members10 = [("cifar-10-batches-bin/batches.meta.txt", meta10),
             ("cifar-10-batches-bin/readme.html", b"<html></html>\n"),
             ("cifar-10-batches-bin/data_batch_2.bin", b2),
             ("cifar-10-batches-bin/data_batch_1.bin", b1),
             ("cifar-10-batches-bin/test_batch.bin", bt)]
for name, data in members10:
    write(os.path.join(out, name), data)
tar_gz(os.path.join(out, "cifar-10-binary.tar.gz"), members10)
write(os.path.join(out, "cifar10-train.hwc"), np.concatenate([h1, h2]).tobytes())
write(os.path.join(out, "cifar10-test.hwc"), ht.tobytes())
expected["cifar10"] = {"train_labels": l1 + l2, "test_labels": lt, "names": CIFAR10_NAMES}

# CIFAR-100: train.bin (3 records), test.bin (2), 100 fine names.
tr, htr, ltr = cifar_records(3, 2, 100)
te, hte, lte = cifar_records(2, 2, 100)
names100 = ["fine_%02d" % i for i in range(100)]
members100 = [("cifar-100-binary/coarse_label_names.txt",
               ("\n".join("coarse_%02d" % i for i in range(20)) + "\n").encode()),
              ("cifar-100-binary/fine_label_names.txt", ("\n".join(names100) + "\n").encode()),
              ("cifar-100-binary/train.bin", tr),
              ("cifar-100-binary/test.bin", te)]
shutil.rmtree(os.path.join(out, "cifar-100-binary"), ignore_errors=True)
for name, data in members100:
    write(os.path.join(out, name), data)
tar_gz(os.path.join(out, "cifar-100-binary.tar.gz"), members100)
write(os.path.join(out, "cifar100-train.hwc"), htr.tobytes())
write(os.path.join(out, "cifar100-test.hwc"), hte.tobytes())
expected["cifar100"] = {"train_labels": ltr, "test_labels": lte, "names": names100}


# MNIST-style IDX folder: 4 training images of 6×5 (gzip), 2 test images (plain).
def idx(images, labels):
    n, h, w = images.shape
    return (struct.pack(">IIII", 0x803, n, h, w) + images.tobytes(),
            struct.pack(">II", 0x801, n) + labels.tobytes())


shutil.rmtree(os.path.join(out, "mnist-idx"), ignore_errors=True)
ti = rng.integers(0, 256, size=(4, 6, 5), dtype=np.uint8)
tl = np.array([3, 0, 9, 3], dtype=np.uint8)
si = rng.integers(0, 256, size=(2, 6, 5), dtype=np.uint8)
sl = np.array([1, 7], dtype=np.uint8)
a, b = idx(ti, tl)
write(os.path.join(out, "mnist-idx", "train-images-idx3-ubyte.gz"), gzip.compress(a, mtime=0))
write(os.path.join(out, "mnist-idx", "train-labels-idx1-ubyte.gz"), gzip.compress(b, mtime=0))
a, b = idx(si, sl)
write(os.path.join(out, "mnist-idx", "t10k-images-idx3-ubyte"), a)
write(os.path.join(out, "mnist-idx", "t10k-labels-idx1-ubyte"), b)
write(os.path.join(out, "mnist-train.hw"), ti.tobytes())
write(os.path.join(out, "mnist-test.hw"), si.tobytes())
expected["mnist"] = {"train_labels": tl.tolist(), "test_labels": sl.tolist()}

# Broken inputs.
bad = os.path.join(out, "bad")
shutil.rmtree(bad, ignore_errors=True)
whole = gzip.decompress(open(os.path.join(out, "cifar-10-binary.tar.gz"), "rb").read())
write(os.path.join(bad, "truncated.tar.gz"), gzip.compress(whole[:len(whole) // 2], mtime=0))
write(os.path.join(bad, "not-a-tar.tar.gz"), gzip.compress(b"hello " * 200, mtime=0))
write(os.path.join(bad, "partial-record", "data_batch_1.bin"), b1[:-100])
write(os.path.join(bad, "cifar100-as-10", "data_batch_1.bin"), tr)  # 3074-byte records
tar_gz(os.path.join(bad, "cifar-10-python.tar.gz"),
       [("cifar-10-batches-py/data_batch_1", b"\x80\x02}q\x00."),
        ("cifar-10-batches-py/batches.meta", b"\x80\x02}q\x00.")])
lab = bytearray(b1)
lab[3073] = 200
write(os.path.join(bad, "bad-label", "data_batch_1.bin"), bytes(lab))
a, b = idx(ti, tl)
write(os.path.join(bad, "idx-truncated", "train-images-idx3-ubyte"), a[:-7])
write(os.path.join(bad, "idx-truncated", "train-labels-idx1-ubyte"), b)

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")

#!/usr/bin/python3
"""Where `-o FILE` (and every other single-file output) writes (issue 16):

- `-` is standard output (no file named "-");
- a symbolic link is followed: its target is written, the link stays;
- a FIFO is written in place (a reader gets the bytes); with no reader the
  command fails at once with a clear message instead of hanging;
- a character device (/dev/null, and one made with mknod when root) stays a
  device;
- a folder is refused; a regular file is replaced whole, no temporary left.

    test-cli-output.py MIRADA SRCDIR      (SRCDIR = the tests/ folder)

MIRADA_TEST_SKIP_DEV_NULL=1 leaves /dev/null alone (to run this against an
old binary that would replace it).  Standard library only.  Prints TAP.
"""
import os
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

MIRADA = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
DATA = os.path.join(SRC, "data", "cli")
MODEL = os.path.join(DATA, "tiny_softmax.h5")
PHOTO = os.path.join(DATA, "photo.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NPY_MAGIC = b"\x93NUMPY"

results = []
tmp = tempfile.mkdtemp(prefix="mirada-output-test-")


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def run(*args, timeout=60):
    p = subprocess.run([MIRADA] + list(args), capture_output=True, cwd=tmp, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def gradcam(*args, timeout=60):
    return run("gradcam", "-m", "gradcam", MODEL, PHOTO, *args, timeout=timeout)


def png_ok(data):
    """A whole PNG: signature, IHDR first, IEND last."""
    if not data.startswith(PNG_MAGIC) or len(data) < 8 + 25 + 12:
        return False
    n, kind = struct.unpack(">I4s", data[8:16])
    return kind == b"IHDR" and data.endswith(b"IEND\xaeB`\x82")


def leftovers(folder, keep):
    return sorted(set(os.listdir(folder)) - set(keep))


# ------------------------------------------------------------ "-"
rc, out, err = gradcam("-o", "-")
check("-o -: exit 0", rc == 0, err)
check("-o -: a whole PNG on stdout, nothing else", png_ok(out), out[:64])
check("-o -: the text report on stderr", "gradcam" in err, err)
check("-o -: no file named '-'", not os.path.exists(os.path.join(tmp, "-")),
      os.listdir(tmp))

rc, out, err = gradcam("--raw", "-")
check("--raw -: .npy on stdout", rc == 0 and out.startswith(NPY_MAGIC), err + repr(out[:32]))
rc, out, err = gradcam("--csv", "-")
rows = out.decode().splitlines() if rc == 0 else []
check("--csv -: the map as CSV on stdout", rc == 0 and len(rows) > 1
      and all(len(r.split(",")) == len(rows[0].split(",")) for r in rows), err)
rc, out, err = gradcam("-o", "-", "--raw", "-")
check("two outputs on '-': usage error (exit 1)", rc == 1 and "standard output" in err, err)
rc, out, err = gradcam("--json", "-o", "-")
check("--json with -o -: usage error (exit 1)", rc == 1, err)
rc, out, err = run("activations", "--layer", "conv", "-o", "-", MODEL, PHOTO)
check("activations -o -: a PNG on stdout", rc == 0 and png_ok(out), err)
check("no file named '-' after all that", not os.path.exists(os.path.join(tmp, "-")))

# ------------------------------------------------------------ symlinks
target = os.path.join(tmp, "target.png")
link = os.path.join(tmp, "link.png")
os.symlink("target.png", link)  # dangling: the target does not exist yet
rc, out, err = gradcam("-o", link)
check("dangling link: exit 0", rc == 0, err)
check("dangling link: still a link to target.png",
      os.path.islink(link) and os.readlink(link) == "target.png")
check("dangling link: the target written", os.path.isfile(target)
      and png_ok(open(target, "rb").read()))
with open(target, "wb") as f:
    f.write(b"old")
rc, out, err = gradcam("-o", link)
check("link to a file: exit 0, link kept, target replaced", rc == 0 and os.path.islink(link)
      and png_ok(open(target, "rb").read()), err)
sub = os.path.join(tmp, "sub")
os.mkdir(sub)
chain = os.path.join(sub, "chain.png")
os.symlink(os.path.join("..", "link.png"), chain)  # link -> link -> file, relative
os.remove(target)
rc, out, err = gradcam("--csv", chain)
check("chain of relative links: exit 0, both links kept", rc == 0 and os.path.islink(chain)
      and os.path.islink(link), err)
check("chain of relative links: the final target written",
      os.path.isfile(target) and open(target).read().count(",") > 0)
check("links: no temporary files left", leftovers(tmp, ["target.png", "link.png", "sub"]) == []
      and os.listdir(sub) == ["chain.png"], (os.listdir(tmp), os.listdir(sub)))

# ------------------------------------------------------------ FIFOs
fifo = os.path.join(tmp, "out.fifo")
os.mkfifo(fifo)
got = {}


def reader():
    with open(fifo, "rb") as f:
        got["data"] = f.read()


t = threading.Thread(target=reader, daemon=True)  # a broken mirada must not hang the test
t.start()
time.sleep(0.2)  # let the reader open its end
rc, out, err = gradcam("-o", fifo)
t.join(30)
check("FIFO with a reader: exit 0", rc == 0, err)
check("FIFO with a reader: the reader got the whole PNG", png_ok(got.get("data", b"")))
check("FIFO: still a FIFO", stat.S_ISFIFO(os.lstat(fifo).st_mode))

start = time.monotonic()
try:
    rc, out, err = gradcam("-o", fifo, timeout=20)
    hung = False
except subprocess.TimeoutExpired:
    rc, err, hung = None, "", True
check("FIFO without a reader: no hang (%.1f s)" % (time.monotonic() - start), not hung)
check("FIFO without a reader: exit 2, one line naming the reader",
      rc == 2 and len(err.splitlines()) == 1 and err.startswith("mirada: ")
      and "FIFO" in err, err)
check("FIFO without a reader: still a FIFO", stat.S_ISFIFO(os.lstat(fifo).st_mode))

# ------------------------------------------------------------ devices
if os.environ.get("MIRADA_TEST_SKIP_DEV_NULL") != "1":
    before = os.stat("/dev/null")
    rc, out, err = gradcam("-o", "/dev/null")
    after = os.stat("/dev/null")
    check("-o /dev/null: exit 0", rc == 0, err)
    check("-o /dev/null: still a character device (1, 3)", stat.S_ISCHR(after.st_mode)
          and after.st_rdev == before.st_rdev, oct(after.st_mode))
    rc, out, err = run("evaluate", "--help")  # /dev/null usable afterwards
    with open("/dev/null", "rb") as f:
        check("/dev/null reads empty afterwards", f.read() == b"")
if os.geteuid() == 0:
    dev = os.path.join(tmp, "null.dev")
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made = True
    except OSError:
        made = False  # no CAP_MKNOD in this container
    if made:
        rc, out, err = gradcam("-o", dev, "--raw", os.path.join(tmp, "map.npy"))
        check("-o a device made with mknod: exit 0, still a device", rc == 0
              and stat.S_ISCHR(os.lstat(dev).st_mode), err)
        os.remove(dev)

# ------------------------------------------------------------ folders, regular files
rc, out, err = gradcam("-o", sub)
check("-o FOLDER: exit 2, says it is a folder", rc == 2 and "folder" in err, err)
check("-o FOLDER: the folder untouched", os.path.isdir(sub) and os.listdir(sub) == ["chain.png"])
plain = os.path.join(tmp, "plain.png")
with open(plain, "wb") as f:
    f.write(b"x" * 100000)
rc, out, err = gradcam("-o", plain)
check("-o FILE over a bigger file: replaced whole", rc == 0
      and png_ok(open(plain, "rb").read()), err)
check("regular file: no temporary files left",
      not [f for f in os.listdir(tmp) if f.startswith("plain.png.")], os.listdir(tmp))

for f in os.listdir(tmp):
    p = os.path.join(tmp, f)
    if os.path.isdir(p) and not os.path.islink(p):
        for g in os.listdir(p):
            os.remove(os.path.join(p, g))
        os.rmdir(p)
    else:
        os.remove(p)
os.rmdir(tmp)

print("1..%d" % len(results))
failed = 0
for i, (name, ok, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        failed += 1
        for line in str(detail)[:2000].splitlines():
            print("# " + line); print("# " + line, file=sys.stderr)  # meson shows stderr
sys.exit(1 if failed else 0)

/* mir-onnx-walk.h: an ONNX file without its large weight payloads.
 *
 * protobuf-c's unpack copies every `bytes` field, so unpacking a 531 MB
 * ModelProto holds the file twice (the read buffer and the copies).  The
 * walker reads the file's protobuf framing with pread() and writes a
 * "skeleton": the same ModelProto with the raw_data of each large
 * GraphProto.initializer left out, and for each of those initializers where
 * its raw_data lies in the file.  The skeleton (kilobytes to a few MB) is
 * unpacked by protobuf-c as before; mir-onnx.c then reads each payload from
 * the file once, straight into the memory of the converted weight.
 *
 * The file is read, not memory-mapped (see mir-file.h): a file truncated
 * while it is loaded gives a short read, which becomes a GError.
 *
 * The walker does not report errors itself: for anything it does not expect
 * (bad framing, a field repeated that should not be, payloads past the end
 * of the file) it returns FALSE and the loader reads and unpacks the whole
 * file as before, so a damaged file gets protobuf-c's verdict and the same
 * message as always.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* raw_data payloads at least this long are left in the file. */
#define MIR_ONNX_WALK_MIN_DEFER ((gsize) 64 << 10)

typedef struct
{
  gsize initializer;  /* index in GraphProto.initializer */
  guint64 offset;     /* of the payload in the file */
  guint64 length;     /* bytes */
} MirOnnxDeferred;

/* Walks the ModelProto in @fd (a regular file of @size bytes).  On success
 * *@skeleton is the ModelProto to unpack and *@deferred (MirOnnxDeferred,
 * in file order) the payloads left out; both transfer full. */
gboolean mir_onnx_walk (int          fd,
                        guint64      size,
                        GByteArray **skeleton,
                        GArray     **deferred);

/* Tests: leave raw_data of at least @bytes in the file (0 restores the
 * default, MIR_ONNX_WALK_MIN_DEFER). */
void     mir_onnx_walk_set_min_defer (gsize bytes);

G_END_DECLS

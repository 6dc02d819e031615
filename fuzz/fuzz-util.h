/* fuzz-util.h: what the libFuzzer harnesses share.
 *
 * Each harness defines LLVMFuzzerTestOneInput(), and LLVMFuzzerInitialize()
 * when it needs more than fuzz-util.c's default (mir_fuzz_init()).  With -Dfuzzing=true it is
 * linked with libFuzzer (-fsanitize=fuzzer); otherwise with fuzz-main.c, a
 * plain driver that replays files (the committed corpus and regressions) as
 * a meson test. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* TRUE in the replay driver (fuzz-main.c), FALSE under libFuzzer. */
extern gboolean mir_fuzz_replaying;

/* Makes GLib criticals fatal (a g_return_if_fail reached from file content
 * is a bug) and silences HDF5's error printing. */
void        mir_fuzz_init        (void);
/* Writes @data to this process's scratch file @suffix (in $TMPDIR) and
 * returns its path (owned by the helper, reused per call). */
const char *mir_fuzz_write_temp  (const uint8_t *data, size_t size, const char *suffix);

/* A scratch folder of this process (in $TMPDIR), for loaders that read
 * several files side by side; mir_fuzz_write_file() writes one in it. */
const char *mir_fuzz_temp_dir    (void);
void        mir_fuzz_write_file  (const char *dir, const char *name,
                                  const uint8_t *data, size_t size);
/* Splits an input into @n_parts: each but the last is a 32-bit
 * little-endian length (clamped to what is left) followed by that many
 * bytes; the last part is the rest.  Seeds are made by
 * fuzz/make-split-seed. */
void        mir_fuzz_split       (const uint8_t *data, size_t size, guint n_parts,
                                  const uint8_t **parts, size_t *sizes);

G_END_DECLS

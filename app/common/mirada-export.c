#define G_LOG_DOMAIN "mirada-export"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "mirada-export.h"

gboolean
mirada_export_npy_2d (const char *path, const float *values, int rows, int cols, GError **error)
{
  g_autoptr(GString) header = g_string_new (NULL);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  static const guint8 magic[] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0 };
  guint16 hlen;

  g_string_printf (header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                   rows, cols);
  /* pad so that magic + length + header is a multiple of 64, ending in \n */
  while ((sizeof magic + 2 + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  hlen = GUINT16_TO_LE ((guint16) header->len);
  g_byte_array_append (out, magic, sizeof magic);
  g_byte_array_append (out, (const guint8 *) &hlen, 2);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  for (gsize i = 0; i < (gsize) rows * cols; i++)
    {
      guint32 bits;
      memcpy (&bits, &values[i], 4);
      bits = GUINT32_TO_LE (bits);
      g_byte_array_append (out, (const guint8 *) &bits, 4);
    }
  return g_file_set_contents (path, (const char *) out->data, out->len, error);
}

gboolean
mirada_export_csv_2d (const char *path, const float *values, int rows, int cols, GError **error)
{
  g_autoptr(GString) s = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int r = 0; r < rows; r++)
    {
      for (int c = 0; c < cols; c++)
        {
          g_ascii_formatd (buf, sizeof buf, "%.9g", values[(gsize) r * cols + c]);
          g_string_append_printf (s, "%s%s", c ? "," : "", buf);
        }
      g_string_append_c (s, '\n');
    }
  return g_file_set_contents (path, s->str, (gssize) s->len, error);
}

/* mir-detect-draw.c: boxes and labels drawn into an 8-bit image with a
 * built-in 5×7 font (upper case, digits, a little punctuation). */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>
#include <glib.h>

#include "mir-detect.h"

static const guint8 fixed_colors[][3] = {
  { 255, 0, 0 },     /* seed: red for dogs (class 0) */
  { 0, 0, 255 },     /* seed: blue for cats (class 1) */
  { 0, 170, 0 },
  { 255, 140, 0 },
  { 200, 0, 200 },
  { 0, 180, 200 },
  { 230, 210, 0 },
  { 120, 60, 20 },
};

/* Okabe, M. and Ito, K. (2008), "Color Universal Design": told apart with
 * every common colour-vision deficiency; none of them is white or black,
 * the colours of a selection and of the demo photo's background. */
static const guint8 safe_colors[][3] = {
  { 0xd5, 0x5e, 0x00 },  /* vermillion */
  { 0x56, 0xb4, 0xe9 },  /* sky blue */
  { 0xe6, 0x9f, 0x00 },  /* orange */
  { 0x00, 0x9e, 0x73 },  /* bluish green */
  { 0xf0, 0xe4, 0x42 },  /* yellow */
  { 0x00, 0x72, 0xb2 },  /* blue */
  { 0xcc, 0x79, 0xa7 },  /* reddish purple */
};

void
mir_detect_class_color_safe (guint c, guint8 rgb[3])
{
  guint n = G_N_ELEMENTS (safe_colors);

  if (c < n)
    memcpy (rgb, safe_colors[c], 3);
  else if (c < 2 * n)
    {
      /* Fashion-MNIST has 10 classes and a background: the same seven
       * again, half-way to white (light on a dark photo, and lighter than
       * their first use) */
      for (int i = 0; i < 3; i++)
        rgb[i] = (guint8) ((safe_colors[c - n][i] + 255 + 1) / 2);
    }
  else
    mir_detect_class_color (c, rgb);
}

void
mir_detect_class_color (guint c, guint8 rgb[3])
{
  double h, s = 0.85, v = 0.9, f, p, q, t;
  int i;

  if (c < G_N_ELEMENTS (fixed_colors))
    {
      rgb[0] = fixed_colors[c][0];
      rgb[1] = fixed_colors[c][1];
      rgb[2] = fixed_colors[c][2];
      return;
    }
  /* golden-ratio hue steps keep neighbouring classes apart */
  h = fmod ((c - G_N_ELEMENTS (fixed_colors)) * 0.618033988749895 + 0.1, 1.0) * 6.0;
  i = (int) h;
  f = h - i;
  p = v * (1 - s);
  q = v * (1 - s * f);
  t = v * (1 - s * (1 - f));
  {
    double r, g, b;

    switch (i % 6)
      {
      case 0: r = v; g = t; b = p; break;
      case 1: r = q; g = v; b = p; break;
      case 2: r = p; g = v; b = t; break;
      case 3: r = p; g = q; b = v; break;
      case 4: r = t; g = p; b = v; break;
      default: r = v; g = p; b = q; break;
      }
    rgb[0] = (guint8) lround (r * 255);
    rgb[1] = (guint8) lround (g * 255);
    rgb[2] = (guint8) lround (b * 255);
  }
}

typedef struct
{
  char ch;
  guint8 rows[7]; /* 5 bits each, bit 4 = leftmost column */
} Glyph;

static const Glyph font[] = {
  { ' ', { 0, 0, 0, 0, 0, 0, 0 } },
  { '0', { 0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E } },
  { '1', { 0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E } },
  { '2', { 0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F } },
  { '3', { 0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E } },
  { '4', { 0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02 } },
  { '5', { 0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E } },
  { '6', { 0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E } },
  { '7', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
  { '8', { 0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E } },
  { '9', { 0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C } },
  { 'A', { 0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11 } },
  { 'B', { 0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E } },
  { 'C', { 0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E } },
  { 'D', { 0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C } },
  { 'E', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F } },
  { 'F', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10 } },
  { 'G', { 0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F } },
  { 'H', { 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11 } },
  { 'I', { 0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E } },
  { 'J', { 0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C } },
  { 'K', { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 } },
  { 'L', { 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F } },
  { 'M', { 0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11 } },
  { 'N', { 0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11 } },
  { 'O', { 0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
  { 'P', { 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10 } },
  { 'Q', { 0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D } },
  { 'R', { 0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11 } },
  { 'S', { 0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E } },
  { 'T', { 0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 } },
  { 'U', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
  { 'V', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04 } },
  { 'W', { 0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A } },
  { 'X', { 0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11 } },
  { 'Y', { 0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04 } },
  { 'Z', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F } },
  { '.', { 0, 0, 0, 0, 0, 0x0C, 0x0C } },
  { ',', { 0, 0, 0, 0, 0x0C, 0x04, 0x08 } },
  { '-', { 0, 0, 0, 0x1F, 0, 0, 0 } },
  { '_', { 0, 0, 0, 0, 0, 0, 0x1F } },
  { ':', { 0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0 } },
  { '%', { 0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03 } },
  { '(', { 0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02 } },
  { ')', { 0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08 } },
  { '/', { 0, 0x01, 0x02, 0x04, 0x08, 0x10, 0 } },
  { '=', { 0, 0, 0x1F, 0, 0x1F, 0, 0 } },
  { '?', { 0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04 } },
};

static const Glyph *
find_glyph (char ch)
{
  ch = g_ascii_toupper (ch);
  for (guint i = 0; i < G_N_ELEMENTS (font); i++)
    if (font[i].ch == ch)
      return &font[i];
  return &font[G_N_ELEMENTS (font) - 1]; /* '?' */
}

static inline void
put_pixel (MirImage *image, int x, int y, const guint8 rgb[3])
{
  guint8 *p;

  if (x < 0 || y < 0 || x >= image->width || y >= image->height)
    return;
  p = image->pixels + (gsize) y * image->rowstride + (gsize) x * (gsize) image->channels;
  if (image->channels >= 3)
    {
      p[0] = rgb[0];
      p[1] = rgb[1];
      p[2] = rgb[2];
    }
  else
    p[0] = (guint8) ((rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000);
}

static void
fill_rect (MirImage *image, int x0, int y0, int x1, int y1, const guint8 rgb[3])
{
  x0 = MAX (x0, 0);
  y0 = MAX (y0, 0);
  x1 = MIN (x1, image->width);
  y1 = MIN (y1, image->height);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      put_pixel (image, x, y, rgb);
}

/* Text of @scale-times 5×7 glyphs with one column of spacing. */
static void
draw_text (MirImage *image, int x, int y, int scale, const char *text, const guint8 rgb[3])
{
  for (const char *s = text; *s; s++, x += 6 * scale)
    {
      const Glyph *g = find_glyph (*s);

      for (int r = 0; r < 7; r++)
        for (int c = 0; c < 5; c++)
          if (g->rows[r] & (0x10 >> c))
            fill_rect (image, x + c * scale, y + r * scale, x + (c + 1) * scale,
                       y + (r + 1) * scale, rgb);
    }
}

void
mir_detect_draw (MirImage              *image,
                 const MirDetectResult *result,
                 const char *const     *class_names,
                 int                    thickness)
{
  static const guint8 white[3] = { 255, 255, 255 };
  const int scale = 2;

  g_return_if_fail (image != NULL && result != NULL);
  thickness = MAX (thickness, 1);

  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);
      int x0 = (int) lround (b->x), y0 = (int) lround (b->y);
      int x1 = (int) lround (b->x + b->width), y1 = (int) lround (b->y + b->height);
      const char *name = NULL;
      g_autofree char *fallback = NULL;
      g_autofree char *label = NULL;
      guint8 rgb[3];
      int tw, th, ty;

      mir_detect_class_color (b->class_index, rgb);
      fill_rect (image, x0, y0, x1, y0 + thickness, rgb);
      fill_rect (image, x0, y1 - thickness, x1, y1, rgb);
      fill_rect (image, x0, y0, x0 + thickness, y1, rgb);
      fill_rect (image, x1 - thickness, y0, x1, y1, rgb);

      if (class_names && g_strv_length ((char **) class_names) > b->class_index)
        name = class_names[b->class_index];
      if (name == NULL)
        name = fallback = g_strdup_printf ("%u", b->class_index);
      label = g_strdup_printf ("%s %.3f", name, b->prob);
      tw = (int) strlen (label) * 6 * scale + 2;
      th = 7 * scale + 4;
      /* above the box, or just inside it at the top of the image */
      ty = y0 - th >= 0 ? y0 - th : y0 + thickness;
      fill_rect (image, x0, ty, x0 + tw, ty + th, rgb);
      draw_text (image, x0 + 2, ty + 2, scale, label, white);
    }
}

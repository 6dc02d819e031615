/* Seed 002's normalisations and layouts on hand-made arrays whose expected
 * bytes are worked out in the comments. */
#include <math.h>
#include <string.h>

#include "mir.h"
#include "mir-activation-grid.h"
#include "mir-filter-pattern.h"
#include "mir-colormap.h"

static void
test_seed_channel_normalisation (void)
{
  /* x = 0,1,2,3: mean 1.5, population std sqrt(1.25) = 1.1180340
   * (x - 1.5) / 1.1180340 * 64 + 128 = 42.13, 99.38, 156.62, 213.87 → uint8 */
  const float v[4] = { 0, 1, 2, 3 };
  guint8 out[4];
  const float flat[3] = { 5, 5, 5 };
  guint8 fout[3];

  mir_grid_normalise_channel (v, 4, 1, MIR_GRID_NORM_CHANNEL, 0, 0, out);
  g_assert_cmpuint (out[0], ==, 42);
  g_assert_cmpuint (out[1], ==, 99);
  g_assert_cmpuint (out[2], ==, 156);
  g_assert_cmpuint (out[3], ==, 213);
  /* min-max: 0, 85, 170, 255 */
  mir_grid_normalise_channel (v, 4, 1, MIR_GRID_NORM_MINMAX, 0, 0, out);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 85);
  g_assert_cmpuint (out[2], ==, 170);
  g_assert_cmpuint (out[3], ==, 255);
  /* layer statistics given: mean 0, std 2 → x/2*64 + 128 = 128, 160, 192, 224 */
  mir_grid_normalise_channel (v, 4, 1, MIR_GRID_NORM_LAYER, 0.0, 2.0, out);
  g_assert_cmpuint (out[1], ==, 160);
  g_assert_cmpuint (out[3], ==, 224);
  /* a constant channel is mid grey, not NaN */
  mir_grid_normalise_channel (flat, 3, 1, MIR_GRID_NORM_CHANNEL, 0, 0, fout);
  g_assert_cmpuint (fout[0], ==, 128);
  /* strided: every second value of 0,9,1,9,2,9,3,9 is the same channel as v */
  {
    const float s[8] = { 0, 9, 1, 9, 2, 9, 3, 9 };
    mir_grid_normalise_channel (s, 4, 2, MIR_GRID_NORM_CHANNEL, 0, 0, out);
    g_assert_cmpuint (out[2], ==, 156);
  }
}

static void
test_seed_deprocess (void)
{
  /* x = 0,1,2,3: (x - 1.5) / (1.1180340 + 1e-5) = ±0.4472, ±1.3416;
   * * 0.1 + 0.5 = 0.36584, 0.45528, 0.54472, 0.63416; * 255 = 93.29,
   * 116.10, 138.90, 161.71 → 93, 116, 138, 161 */
  float x[4] = { 0, 1, 2, 3 };
  guint8 out[4];
  /* clipping: ±50 std → 0 and 255 */
  float y[101];

  mir_filter_deprocess (x, 4, out);
  g_assert_cmpuint (out[0], ==, 93);
  g_assert_cmpuint (out[1], ==, 116);
  g_assert_cmpuint (out[2], ==, 138);
  g_assert_cmpuint (out[3], ==, 161);
  for (int i = 0; i < 101; i++)
    y[i] = 0;
  y[0] = 1000;
  y[1] = -1000;
  {
    guint8 o[101];
    mir_filter_deprocess (y, 101, o);
    g_assert_cmpuint (o[0], ==, 255);
    g_assert_cmpuint (o[1], ==, 0);
    g_assert_cmpuint (o[2], ==, 127); /* 0.5 * 255 = 127.5, truncated */
  }
}

static MirImage *
solid (int size, guint8 value)
{
  MirImage *im = mir_image_new (size, size, 3, NULL);
  memset (im->pixels, value, im->rowstride * im->height);
  return im;
}

static void
test_filter_grid_layout (void)
{
  /* seed: pattern i + 8 j at row i, column j; here per side 2, 3 patterns:
   * k=0 → (row 0, col 0), k=1 → (row 1, col 0), k=2 → (row 0, col 1). */
  MirImage *p[3] = { solid (4, 10), solid (4, 20), solid (4, 30) };
  g_autoptr(GError) error = NULL;
  g_autoptr(MirImage) g = mir_filter_grid (p, 3, 2, 1, &error);

  g_assert_no_error (error);
  g_assert_cmpint (g->width, ==, 9);  /* 2 columns: 4 + 1 + 4 */
  g_assert_cmpint (g->height, ==, 9); /* 2 rows */
  g_assert_cmpuint (g->pixels[0], ==, 10);
  g_assert_cmpuint (g->pixels[5 * g->rowstride], ==, 20);     /* row 1, col 0 */
  g_assert_cmpuint (g->pixels[3 * 5], ==, 30);                /* row 0, col 1 */
  g_assert_cmpuint (g->pixels[4 * g->rowstride], ==, 0);      /* margin is black */
  g_assert_cmpuint (g->pixels[5 * g->rowstride + 3 * 5], ==, 0); /* empty cell */
  for (int i = 0; i < 3; i++)
    mir_image_unref (p[i]);
}

static void
test_activation_grid (void)
{
  /* 17 channels of 2×3, 16 per row → 2 rows; channel k holds k*i so every
   * channel but 0 has the same normalised picture and channel 0 is dead. */
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) t = mir_tensor_new_4d (1, 2, 3, 17, NULL);
  MirGridOptions o = MIR_GRID_OPTIONS_DEFAULT;
  g_autofree MirChannelStats *stats = NULL;
  g_autoptr(MirImage) g = NULL;
  const guint8 *c;

  for (int i = 0; i < 6; i++)
    for (int k = 0; k < 17; k++)
      t->data[i * 17 + k] = (float) (k * i);
  o.gap = 1;
  g = mir_activation_grid (t, 0, &o, &stats, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g->width, ==, 16 * 4 - 1);
  g_assert_cmpint (g->height, ==, 2 * 3 - 1);
  g_assert_true (stats[0].dead);
  g_assert_false (stats[1].dead);
  g_assert_cmpfloat_with_epsilon (stats[2].mean, 5.0f, 1e-6); /* 2 * mean(0..5) */
  g_assert_cmpfloat_with_epsilon (stats[3].zero_fraction, 1.0f / 6, 1e-6);
  /* channel 16 is alone on row 1 at column 0; its first value (0) is
   * (0 - 2.5k) / (1.7078 k) * 64 + 128 = 34.3 → viridis[34] */
  c = mir_colormap_viridis[34];
  g_assert_cmpmem (g->pixels + 3 * g->rowstride, 3, c, 3);
  /* dead channel 0: constant → 128 */
  g_assert_cmpmem (g->pixels, 3, mir_colormap_viridis[128], 3);
}

/* Tile positions with a gap and a scale: every pixel of the grid is either
 * a gap (white) or value (y / scale, x / scale) of the channel whose tile
 * covers it, coloured from the layer's mean and std computed here. */
static void
test_activation_grid_gap (void)
{
  const int H = 3, W = 4, C = 7, per_row = 3, scale = 2, gap = 3;
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) t = mir_tensor_new_4d (1, H, W, C, NULL);
  MirGridOptions o = MIR_GRID_OPTIONS_DEFAULT;
  g_autoptr(MirImage) g = NULL;
  double mean = 0, var = 0;
  int tile_w = W * scale + gap, tile_h = H * scale + gap;
  guint checked = 0, gaps = 0;

  for (int i = 0; i < H * W; i++)
    for (int k = 0; k < C; k++)
      t->data[i * C + k] = (float) (10 * k + i);
  for (int i = 0; i < H * W * C; i++)
    mean += t->data[i];
  mean /= H * W * C;
  for (int i = 0; i < H * W * C; i++)
    var += (t->data[i] - mean) * (t->data[i] - mean);
  var /= H * W * C;

  o.per_row = per_row;
  o.scale = scale;
  o.gap = gap;
  o.norm = MIR_GRID_NORM_LAYER;
  g = mir_activation_grid (t, 0, &o, NULL, &error);
  g_assert_no_error (error);
  /* 3 columns, 3 rows (7 channels), no gap after the last */
  g_assert_cmpint (g->width, ==, 3 * W * scale + 2 * gap);
  g_assert_cmpint (g->height, ==, 3 * H * scale + 2 * gap);
  for (int y = 0; y < g->height; y++)
    for (int x = 0; x < g->width; x++)
      {
        const guint8 *p = g->pixels + y * g->rowstride + 3 * x;
        int col = x / tile_w, row = y / tile_h, k = row * per_row + col;
        int tx = x % tile_w, ty = y % tile_h;

        if (tx >= W * scale || ty >= H * scale || k >= C)
          {
            static const guint8 white[3] = { 255, 255, 255 };

            g_assert_cmpmem (p, 3, white, 3);
            gaps++;
          }
        else
          {
            double v = 10 * k + (ty / scale) * W + tx / scale;
            double n = CLAMP ((v - mean) / sqrt (var) * 64 + 128, 0, 255);

            g_assert_cmpmem (p, 3, mir_colormap_viridis[(int) n], 3);
            checked++;
          }
      }
  g_assert_cmpuint (checked, ==, C * H * W * scale * scale);
  g_assert_cmpuint (gaps, >, 0);
  /* the hit-test helper agrees */
  for (int k = 0; k < C; k++)
    {
      int x0, y0;

      mir_activation_grid_tile_origin (&o, H, W, k, &x0, &y0);
      g_assert_cmpint (x0, ==, (k % per_row) * tile_w);
      g_assert_cmpint (y0, ==, (k / per_row) * tile_h);
    }
}

static void
test_overlay_blend (void)
{
  /* seed 001 blend: (1 − α)·image + α·jet(v)·255, α = 0.5, v = 1 → jet[255] =
   * (0.5, 0, 0): R = 50 + 63.75 = 113.75 → 114, G = B = 50. */
  g_autoptr(GError) error = NULL;
  g_autoptr(MirImage) img = mir_image_new (2, 1, 3, NULL);
  g_autoptr(MirImage) out = NULL;
  float heat[1] = { 1.0f };

  memset (img->pixels, 100, img->rowstride);
  out = mir_colormap_overlay (img, heat, 1, 1, MIR_COLORMAP_JET, 0.5f, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (out->pixels[0], ==, 114);
  g_assert_cmpuint (out->pixels[1], ==, 50);
  g_assert_cmpuint (out->pixels[5], ==, 50);
  /* alpha outside 0..1 is refused */
  g_assert_null (mir_colormap_overlay (img, heat, 1, 1, MIR_COLORMAP_JET, 2.0f, FALSE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

static void
test_overlay_keras (void)
{
  /* Keras example on a 1×2 heat map (0, 1) over a black 1×2 image, α = 0.4:
   * jet[0] = (0, 0, 0.5), jet[255] = (0.5, 0, 0) → array_to_img min-max over
   * all channels (0..0.5) → (0,0,255) and (255,0,0); resized 2→2 is the
   * identity; · 0.4 + 0 = (0,0,102), (102,0,0) → min-max again → (0,0,255),
   * (255,0,0). */
  g_autoptr(MirImage) img = mir_image_new (2, 1, 3, NULL);
  g_autoptr(MirImage) out = NULL;
  float heat[2] = { 0.0f, 1.0f };

  memset (img->pixels, 0, img->rowstride);
  out = mir_colormap_overlay (img, heat, 2, 1, MIR_COLORMAP_JET, 0.4f, TRUE, NULL);
  g_assert_cmpuint (out->pixels[0], ==, 0);
  g_assert_cmpuint (out->pixels[2], ==, 255);
  g_assert_cmpuint (out->pixels[3], ==, 255);
  g_assert_cmpuint (out->pixels[5], ==, 0);
}

static void
test_colormap_names (void)
{
  MirColormap m;
  g_autoptr(GError) error = NULL;

  g_assert_true (mir_colormap_from_name ("inferno", &m, NULL));
  g_assert_cmpint (m, ==, MIR_COLORMAP_INFERNO);
  g_assert_false (mir_colormap_from_name ("rainbow", &m, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  /* the tables are matplotlib's: jet starts dark blue and ends dark red */
  g_assert_cmpuint (mir_colormap_jet[0][2], ==, 128);
  g_assert_cmpuint (mir_colormap_jet[255][0], ==, 128);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/visualize/seed-channel-normalisation", test_seed_channel_normalisation);
  g_test_add_func ("/visualize/seed-deprocess", test_seed_deprocess);
  g_test_add_func ("/visualize/filter-grid-layout", test_filter_grid_layout);
  g_test_add_func ("/visualize/activation-grid", test_activation_grid);
  g_test_add_func ("/visualize/activation-grid-gap", test_activation_grid_gap);
  g_test_add_func ("/visualize/overlay-blend", test_overlay_blend);
  g_test_add_func ("/visualize/overlay-keras", test_overlay_keras);
  g_test_add_func ("/visualize/colormap-names", test_colormap_names);
  return g_test_run ();
}

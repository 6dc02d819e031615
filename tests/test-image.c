/* Image resizing, colour conversion and preprocessing (mir-image.c).
 *
 * Hand-worked cases first (the expected numbers are derived in the
 * comments), then Pillow's own output (tests/data/pil/, written by
 * gen-pil-refs.py with Pillow 9.4) for NEAREST indices and RGB->L. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mir-test-util.h"

static MirImage *
make_image (int w, int h, int ch, const guint8 *values)
{
  g_autoptr(GError) error = NULL;
  MirImage *image = mir_image_new (w, h, ch, &error);

  g_assert_no_error (error);
  for (int y = 0; y < h; y++)
    memcpy (image->pixels + y * image->rowstride, values + (gsize) y * w * ch, (gsize) w * ch);
  return image;
}

/* A one-row grey image whose pixel values are their column indices, so a
 * resized row shows which source column each pixel came from. */
static void
nearest_indices (int src, int dst, int *out)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *v = g_new (guint8, src);
  g_autoptr(MirImage) in = NULL, r = NULL;

  g_assert_cmpint (src, <=, 256);
  for (int i = 0; i < src; i++)
    v[i] = (guint8) i;
  in = make_image (src, 1, 1, v);
  r = mir_image_resize (in, dst, 1, MIR_RESIZE_NEAREST, &error);
  g_assert_no_error (error);
  for (int i = 0; i < dst; i++)
    out[i] = r->pixels[i];
}

static void
test_nearest_hand (void)
{
  int idx[5];

  /* 4 -> 3: floor ((x + 0.5) * 4/3) = floor (0.67, 2.0, 3.33) = 0, 2, 3. */
  nearest_indices (4, 3, idx);
  g_assert_cmpint (idx[0], ==, 0);
  g_assert_cmpint (idx[1], ==, 2);
  g_assert_cmpint (idx[2], ==, 3);
  /* 3 -> 5: floor ((x + 0.5) * 3/5) = floor (0.3, 0.9, 1.5, 2.1, 2.7) = 0, 0, 1, 2, 2. */
  nearest_indices (3, 5, idx);
  g_assert_cmpint (idx[0], ==, 0);
  g_assert_cmpint (idx[1], ==, 0);
  g_assert_cmpint (idx[2], ==, 1);
  g_assert_cmpint (idx[3], ==, 2);
  g_assert_cmpint (idx[4], ==, 2);
}

/* Same in 2-D on RGB: every channel follows its pixel. */
static void
test_nearest_2d (void)
{
  g_autoptr(GError) error = NULL;
  guint8 v[4 * 4 * 3];
  g_autoptr(MirImage) in = NULL, r = NULL;
  const int ix[3] = { 0, 2, 3 };

  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      {
        v[(y * 4 + x) * 3 + 0] = (guint8) (10 * y + x);
        v[(y * 4 + x) * 3 + 1] = (guint8) (100 + x);
        v[(y * 4 + x) * 3 + 2] = (guint8) (200 + y);
      }
  in = make_image (4, 4, 3, v);
  r = mir_image_resize (in, 3, 3, MIR_RESIZE_NEAREST, &error);
  g_assert_no_error (error);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++)
      {
        const guint8 *p = r->pixels + y * r->rowstride + x * 3;
        g_assert_cmpint (p[0], ==, 10 * ix[y] + ix[x]);
        g_assert_cmpint (p[1], ==, 100 + ix[x]);
        g_assert_cmpint (p[2], ==, 200 + ix[y]);
      }
}

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "pil", name, NULL);
}

/* Pillow's NEAREST for many size pairs, including 640 -> 224 where the
 * closed form floor ((x + 0.5) * src / dst) and Pillow's stepping differ. */
static void
test_nearest_pillow (void)
{
  g_autofree char *path = data_path ("nearest.txt");
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  guint n_pairs = 0;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (guint l = 0; lines[l]; l++)
    {
      g_auto(GStrv) f = NULL;
      int src, dst;
      g_autofree int *got = NULL;

      if (lines[l][0] == '#' || lines[l][0] == '\0')
        continue;
      f = g_strsplit (lines[l], " ", -1);
      src = atoi (f[0]);
      dst = atoi (f[1]);
      g_assert_cmpuint (g_strv_length (f), ==, (guint) dst + 2);
      got = g_new (int, dst);
      if (src <= 256)
        nearest_indices (src, dst, got);
      else
        {
          /* Wider than 8-bit values: encode the index in two channels. */
          g_autofree guint8 *v = g_new0 (guint8, (gsize) src * 3);
          g_autoptr(MirImage) in = NULL, r = NULL;

          for (int i = 0; i < src; i++)
            {
              v[i * 3] = (guint8) (i & 0xff);
              v[i * 3 + 1] = (guint8) (i >> 8);
            }
          in = make_image (src, 1, 3, v);
          r = mir_image_resize (in, dst, 1, MIR_RESIZE_NEAREST, &error);
          g_assert_no_error (error);
          for (int i = 0; i < dst; i++)
            got[i] = r->pixels[i * 3] | (r->pixels[i * 3 + 1] << 8);
        }
      for (int i = 0; i < dst; i++)
        if (got[i] != atoi (f[2 + i]))
          {
            g_test_message ("%d -> %d: column %d reads %d, Pillow %s", src, dst, i, got[i],
                            f[2 + i]);
            g_assert_cmpint (got[i], ==, atoi (f[2 + i]));
          }
      n_pairs++;
    }
  g_assert_cmpuint (n_pairs, >=, 19);
}

/* TF half-pixel bilinear, worked by hand.
 * Upscaling 2 -> 4: source x = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
 * clamped to the edges: weights of pixel 1 are 0, 0.25, 0.75, 1.
 * Downscaling 4 -> 2: source x = (x + 0.5) * 2 - 0.5 = 0.5, 2.5: the mean of
 * pixels (0, 1) and (2, 3), nothing wider (unlike Pillow's BILINEAR). */
static void
test_bilinear (void)
{
  g_autoptr(GError) error = NULL;
  const guint8 v[4] = { 0, 100, 200, 40 };
  const guint8 row[4] = { 0, 10, 20, 31 };
  const double w[4] = { 0, 0.25, 0.75, 1 };
  g_autoptr(MirImage) in = make_image (2, 2, 1, v);
  g_autoptr(MirImage) up = mir_image_resize (in, 4, 4, MIR_RESIZE_BILINEAR, &error);
  g_autoptr(MirImage) in_row = make_image (4, 1, 1, row);
  g_autoptr(MirImage) down = NULL;

  g_assert_no_error (error);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      {
        double top = v[0] * (1 - w[x]) + v[1] * w[x];
        double bottom = v[2] * (1 - w[x]) + v[3] * w[x];
        double expect = top * (1 - w[y]) + bottom * w[y];

        g_assert_cmpfloat (fabs (up->pixels[y * up->rowstride + x] - expect), <=, 0.5 + 1e-6);
      }
  /* A few in full: (1, 1) = 25 + (160 - 25) * 0.25 = 58.75 -> 59. */
  g_assert_cmpint (up->pixels[0], ==, 0);
  g_assert_cmpint (up->pixels[3], ==, 100);
  g_assert_cmpint (up->pixels[1 * up->rowstride + 1], ==, 59);
  g_assert_cmpint (up->pixels[3 * up->rowstride + 3], ==, 40);

  down = mir_image_resize (in_row, 2, 1, MIR_RESIZE_BILINEAR, &error);
  g_assert_no_error (error);
  g_assert_cmpint (down->pixels[0], ==, 5);  /* (0 + 10) / 2 */
  g_assert_cmpint (down->pixels[1], ==, 26); /* (20 + 31) / 2 = 25.5, rounded to 26 */
}

static MirTensor *
to_tensor (const MirImage *image, gint64 c, MirPreprocessMode mode)
{
  g_autoptr(GError) error = NULL;
  MirTensor *t = mir_tensor_new_4d (2, image->height, image->width, c, &error);

  g_assert_no_error (error);
  mir_tensor_fill (t, -999.0f);
  g_assert_true (mir_image_to_tensor (image, t, 1, mode, &error));
  g_assert_no_error (error);
  /* Slot 0 untouched. */
  g_assert_cmpfloat (t->data[0], ==, -999.0f);
  return t;
}

#define assert_close(a, b) g_assert_cmpfloat_with_epsilon ((double) (a), (double) (b), 1e-4)

/* Pixel (255, 128, 0) in every mode, the constants written out here. */
static void
test_preprocess (void)
{
  const guint8 px[3] = { 255, 128, 0 };
  g_autoptr(MirImage) image = make_image (1, 1, 3, px);
  struct
  {
    MirPreprocessMode mode;
    double expect[3];
  } cases[] = {
    { MIR_PREPROCESS_NONE, { 255, 128, 0 } },
    { MIR_PREPROCESS_SCALE, { 1, 128 / 255.0, 0 } },
    { MIR_PREPROCESS_TF, { 1, 128 / 127.5 - 1, -1 } },
    /* BGR order, minus the ImageNet means of B, G, R. */
    { MIR_PREPROCESS_CAFFE, { 0 - 103.939, 128 - 116.779, 255 - 123.68 } },
    { MIR_PREPROCESS_TORCH,
      { (1 - 0.485) / 0.229, (128 / 255.0 - 0.456) / 0.224, (0 - 0.406) / 0.225 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MirTensor) t = to_tensor (image, 3, cases[i].mode);
      const float *p = t->data + t->stride[0];

      for (int c = 0; c < 3; c++)
        assert_close (p[c], cases[i].expect[c]);
    }
}

static void
test_mode_names (void)
{
  const char *names[] = { "none", "scale", "tf", "caffe", "torch" };
  g_autoptr(GError) error = NULL;
  MirPreprocessMode mode;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_true (mir_preprocess_mode_from_string (names[i], &mode, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (mir_preprocess_mode_to_string (mode), ==, names[i]);
    }
  g_assert_false (mir_preprocess_mode_from_string ("imagenet", &mode, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

/* RGB into a 1-channel tensor: Pillow's convert("L") values. */
static void
test_grey (void)
{
  g_autofree char *path = data_path ("luma.txt");
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GArray) rgb = g_array_new (FALSE, FALSE, 1);
  g_autoptr(GArray) grey = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) t = NULL;
  /* By hand: 0.299 * 255 + 0.587 * 128 + 0.114 * 0 = 151.38 -> 151. */
  const guint8 px[3] = { 255, 128, 0 };
  g_autoptr(MirImage) one = make_image (1, 1, 3, px);
  g_autoptr(MirTensor) t1 = to_tensor (one, 1, MIR_PREPROCESS_NONE);

  g_assert_cmpfloat (t1->data[1], ==, 151.0f);

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (guint l = 0; lines[l]; l++)
    {
      int r, g, b, L;
      if (sscanf (lines[l], "%d %d %d %d", &r, &g, &b, &L) == 4)
        {
          guint8 v[3] = { (guint8) r, (guint8) g, (guint8) b };
          g_array_append_vals (rgb, v, 3);
          g_array_append_val (grey, L);
        }
    }
  g_assert_cmpuint (grey->len, >=, 256);
  image = make_image ((int) grey->len, 1, 3, (const guint8 *) rgb->data);
  t = to_tensor (image, 1, MIR_PREPROCESS_SCALE);
  for (guint i = 0; i < grey->len; i++)
    assert_close (t->data[t->stride[0] + i], g_array_index (grey, int, i) / 255.0);
}

/* A grey image into a 3-channel tensor repeats the value. */
static void
test_grey_to_rgb (void)
{
  const guint8 px[2] = { 7, 200 };
  g_autoptr(MirImage) image = make_image (2, 1, 1, px);
  g_autoptr(MirTensor) t = to_tensor (image, 3, MIR_PREPROCESS_NONE);
  const float *p = t->data + t->stride[0];

  for (int c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (p[c], ==, 7.0f);
      g_assert_cmpfloat (p[3 + c], ==, 200.0f);
    }
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  const guint8 px[3] = { 1, 2, 3 };
  g_autoptr(MirImage) image = make_image (1, 1, 3, px);
  g_autoptr(MirTensor) wrong = mir_tensor_new_4d (1, 2, 2, 3, NULL);
  g_autoptr(MirTensor) four = mir_tensor_new_4d (1, 1, 1, 4, NULL);

  g_assert_null (mir_image_new (0, 5, 3, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (mir_image_new (MIR_IMAGE_MAX_SIDE + 1, 5, 3, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_LIMIT);
  g_clear_error (&error);
  g_assert_false (mir_image_to_tensor (image, wrong, 0, MIR_PREPROCESS_NONE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (mir_image_to_tensor (image, four, 0, MIR_PREPROCESS_NONE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_null (mir_image_crop (image, 0, 0, 2, 1, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

static void
test_crop (void)
{
  g_autoptr(GError) error = NULL;
  guint8 v[3 * 3];
  g_autoptr(MirImage) image = NULL, c = NULL;

  for (int i = 0; i < 9; i++)
    v[i] = (guint8) i;
  image = make_image (3, 3, 1, v);
  c = mir_image_crop (image, 1, 1, 2, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c->pixels[0], ==, 4);
  g_assert_cmpint (c->pixels[1], ==, 5);
  g_assert_cmpint (c->pixels[c->rowstride], ==, 7);
  g_assert_cmpint (c->pixels[c->rowstride + 1], ==, 8);
}

/* mir_image_prepare on an input-only model: resize to its 3×3 input with
 * the meta's resize mode, then its preprocessing. */
static void
test_prepare (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_model_new ("m");
  MirShape shape = { 4, { -1, 3, 3, 1 } };
  MirShape shape3 = { 3, { -1, 3, 3 } };
  guint8 v[4 * 4];
  const int ix[3] = { 0, 2, 3 };
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) t = NULL, t3 = NULL;
  g_autoptr(MirModel) model3 = mir_model_new ("m3");
  guint out;

  for (int i = 0; i < 16; i++)
    v[i] = (guint8) (i * 10);
  image = make_image (4, 4, 1, v);
  g_assert_cmpint (mir_model_add_input (model, "in", &shape, &error), ==, 0);
  out = 0;
  g_assert_true (mir_model_set_outputs (model, &out, 1, &error));
  model->meta.preprocess = MIR_PREPROCESS_SCALE;
  t = mir_image_prepare (image, model, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t->ndim, ==, 4);
  g_assert_cmpint (t->shape[1], ==, 3);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++)
      assert_close (t->data[y * 3 + x], (ix[y] * 4 + ix[x]) * 10 / 255.0);

  /* (H, W) inputs (Flatten-first MNIST models) get a 1×H×W tensor. */
  g_assert_cmpint (mir_model_add_input (model3, "in", &shape3, &error), ==, 0);
  g_assert_true (mir_model_set_outputs (model3, &out, 1, &error));
  t3 = mir_image_prepare (image, model3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t3->ndim, ==, 3);
  g_assert_cmpfloat (t3->data[4], ==, (float) (2 * 4 + 2) * 10);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/nearest/hand", test_nearest_hand);
  g_test_add_func ("/image/nearest/2d", test_nearest_2d);
  g_test_add_func ("/image/nearest/pillow", test_nearest_pillow);
  g_test_add_func ("/image/bilinear", test_bilinear);
  g_test_add_func ("/image/preprocess", test_preprocess);
  g_test_add_func ("/image/mode-names", test_mode_names);
  g_test_add_func ("/image/grey", test_grey);
  g_test_add_func ("/image/grey-to-rgb", test_grey_to_rgb);
  g_test_add_func ("/image/crop", test_crop);
  g_test_add_func ("/image/errors", test_errors);
  g_test_add_func ("/image/prepare", test_prepare);
  return g_test_run ();
}

/* mirada-architecture-panel.c: a GtkColumnView over the MirModel's nodes. */
#define G_LOG_DOMAIN "mirada-architecture-panel"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-architecture-panel.h"

/* One row: strings computed once from the immutable model. */
#define MIRADA_TYPE_NODE_ITEM (mirada_node_item_get_type ())
G_DECLARE_FINAL_TYPE (MiradaNodeItem, mirada_node_item, MIRADA, NODE_ITEM, GObject)

struct _MiradaNodeItem
{
  GObject parent_instance;
  char *columns[5]; /* name, type, output shape, params; Keras' full output shape (tooltip) */
};

G_DEFINE_FINAL_TYPE (MiradaNodeItem, mirada_node_item, G_TYPE_OBJECT)

static void
mirada_node_item_finalize (GObject *object)
{
  MiradaNodeItem *self = MIRADA_NODE_ITEM (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->columns); i++)
    g_free (self->columns[i]);
  G_OBJECT_CLASS (mirada_node_item_parent_class)->finalize (object);
}

static void
mirada_node_item_class_init (MiradaNodeItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mirada_node_item_finalize;
}

static void
mirada_node_item_init (MiradaNodeItem *self)
{
}

struct _MiradaArchitecturePanel
{
  GtkBox parent_instance;

  /* template */
  GtkColumnView *column_view;
  GtkLabel *summary_label;

  /* owned */
  GListStore *nodes;
  GtkSingleSelection *selection;
};

G_DEFINE_FINAL_TYPE (MiradaArchitecturePanel, mirada_architecture_panel, GTK_TYPE_BOX)

enum {
  LAYER_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
selection_changed_cb (MiradaArchitecturePanel *self)
{
  guint i = gtk_single_selection_get_selected (self->selection);

  if (i != GTK_INVALID_LIST_POSITION)
    g_signal_emit (self, signals[LAYER_SELECTED], 0, (gint) i);
}

void
mirada_architecture_panel_select (MiradaArchitecturePanel *self,
                                  gint                     node)
{
  g_return_if_fail (MIRADA_IS_ARCHITECTURE_PANEL (self));
  gtk_single_selection_set_selected (self->selection, node >= 0 ? (guint) node : GTK_INVALID_LIST_POSITION);
}

static void
setup_cell_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);
  guint column = GPOINTER_TO_UINT (user_data);

  gtk_label_set_xalign (GTK_LABEL (label), column == 3 ? 1.0 : 0.0);
  if (column < 2)
    {
      /* long Keras names ("block_16_depthwise_BN"): keep shape and params in view */
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
      gtk_label_set_width_chars (GTK_LABEL (label), column == 0 ? 10 : 8);
    }
  if (column >= 2)
    gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
bind_tooltip (GtkListItem *item,
              const char  *text)
{
  gtk_widget_set_tooltip_text (gtk_list_item_get_child (item), text);
}

static void
bind_cell_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  MiradaNodeItem *node = gtk_list_item_get_item (item);
  guint column = GPOINTER_TO_UINT (user_data);

  gtk_label_set_label (GTK_LABEL (gtk_list_item_get_child (item)), node->columns[column]);
  bind_tooltip (item, column < 2 ? node->columns[column] : column == 2 ? node->columns[4] : NULL);
}

/* The output shape per example, compact: "28×28×32" for Keras'
 * "(None, 28, 28, 32)" (the full form is the cell's tooltip), so the four
 * columns fit a quarter of the window. */
static char *
format_shape (const MirShape *shape)
{
  GString *s = g_string_new (NULL);

  for (guint i = shape->ndim > 1 ? 1 : 0; i < shape->ndim; i++)
    {
      if (s->len > 0)
        g_string_append (s, "×");
      if (shape->dim[i] < 0)
        g_string_append_c (s, '?');
      else
        g_string_append_printf (s, "%" G_GINT64_FORMAT, shape->dim[i]);
    }
  return g_string_free (s, FALSE);
}

static char *
format_count (gint64 n)
{
  /* thousands separated as the locale does it */
  return g_strdup_printf ("%'" G_GINT64_FORMAT, n);
}

void
mirada_architecture_panel_set_model (MiradaArchitecturePanel *self,
                                     MirModel                *model)
{
  g_autofree char *total_str = NULL;
  g_autofree char *summary = NULL;
  gint64 total, trainable = 0;
  guint n;

  g_return_if_fail (MIRADA_IS_ARCHITECTURE_PANEL (self));

  g_list_store_remove_all (self->nodes);
  if (model == NULL)
    {
      gtk_label_set_label (self->summary_label, _("No model open."));
      return;
    }

  n = mir_model_get_n_nodes (model);
  for (guint i = 0; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      g_autoptr(MiradaNodeItem) item = g_object_new (MIRADA_TYPE_NODE_ITEM, NULL);

      item->columns[0] = g_strdup (node->name);
      item->columns[1] = g_strdup (node->layer != NULL ? node->layer->klass->name : "?");
      item->columns[2] = format_shape (&node->shape);
      item->columns[4] = mir_shape_to_string (&node->shape);
      item->columns[3] = format_count (node->layer != NULL ? mir_layer_count_params (node->layer, NULL) : 0);
      g_list_store_append (self->nodes, item);
    }

  total = mir_model_count_params (model, &trainable);
  total_str = format_count (total);
  summary = g_strdup_printf (ngettext ("%s: %u node, %s parameters", "%s: %u nodes, %s parameters", n),
                             model->name != NULL ? model->name : _("Model"), n, total_str);
  gtk_label_set_label (self->summary_label, summary);
}

GListModel *
mirada_architecture_panel_get_nodes (MiradaArchitecturePanel *self)
{
  return G_LIST_MODEL (self->nodes);
}

static void
mirada_architecture_panel_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_ARCHITECTURE_PANEL);
  G_OBJECT_CLASS (mirada_architecture_panel_parent_class)->dispose (object);
}

static void
mirada_architecture_panel_finalize (GObject *object)
{
  MiradaArchitecturePanel *self = MIRADA_ARCHITECTURE_PANEL (object);

  g_clear_object (&self->selection);
  g_clear_object (&self->nodes);
  G_OBJECT_CLASS (mirada_architecture_panel_parent_class)->finalize (object);
}

static void
mirada_architecture_panel_class_init (MiradaArchitecturePanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_architecture_panel_dispose;
  object_class->finalize = mirada_architecture_panel_finalize;

  /* A row was selected: its node index. */
  signals[LAYER_SELECTED] =
    g_signal_new ("layer-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE "/ui/mirada-architecture-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, MiradaArchitecturePanel, column_view);
  gtk_widget_class_bind_template_child (widget_class, MiradaArchitecturePanel, summary_label);
}

static void
mirada_architecture_panel_init (MiradaArchitecturePanel *self)
{
  const char *titles[] = { N_("Layer"), N_("Type"), N_("Output"), N_("Params") };

  gtk_widget_init_template (GTK_WIDGET (self));

  self->nodes = g_list_store_new (MIRADA_TYPE_NODE_ITEM);
  /* selecting a layer sets it in the other panels (the window listens) */
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->nodes)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->selection, "notify::selected", G_CALLBACK (selection_changed_cb), self);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (g_object_ref (self->selection)));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->column_view),
                               _("Select a layer to show it in the heat-map, activation and filter panels"));

  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      g_autoptr(GtkColumnViewColumn) column = NULL;

      g_signal_connect (factory, "setup", G_CALLBACK (setup_cell_cb), GUINT_TO_POINTER (i));
      g_signal_connect (factory, "bind", G_CALLBACK (bind_cell_cb), GUINT_TO_POINTER (i));
      column = gtk_column_view_column_new (_(titles[i]), factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, i == 0);
      /* narrow enough for the four to fit a quarter of a 1600 px window;
       * long names and types ellipsize, the full text is their tooltip */
      if (i < 2)
        gtk_column_view_column_set_fixed_width (column, i == 0 ? 120 : 100);
      gtk_column_view_append_column (self->column_view, column);
    }
}

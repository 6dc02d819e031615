/* mir.h: the Mirada inference engine (plain C over GLib; no GTK). */
#pragma once

#include "mir-error.h"
#include "mir-tensor.h"
#include "mir-activations.h"
#include "mir-layer.h"
#include "mir-model.h"
#include "mir-image.h"

#include "mir-error.h"

G_DEFINE_QUARK (mir-error-quark, mir_error)

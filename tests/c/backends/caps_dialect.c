#define MB_NAME "CAPSDIALECT"
#define MB_CAPS_TWEAK(c) ((c)->dialect[0] = 0)
#include "mini_backend.h"

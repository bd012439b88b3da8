#define MB_NAME "CAPSLOCAL"
#define MB_CAPS_TWEAK(c) ((c)->global_max[0] = 1024, (c)->local_max[0] = 2048)
#include "mini_backend.h"

#define MB_NAME "BADMAJOR"
#define MB_MAJOR 2
#include "mini_backend.h"

#define MB_NAME "NEWMINOR"
#define MB_MIN_MINOR 5
#include "mini_backend.h"

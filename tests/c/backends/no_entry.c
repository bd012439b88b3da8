#define MB_NAME "NOENTRY"
#define MB_NO_ENTRY 1
#include "mini_backend.h"

#define MB_NAME "NULLFN"
#define MB_API_TWEAK(a) ((a)->launch = NULL)
#include "mini_backend.h"

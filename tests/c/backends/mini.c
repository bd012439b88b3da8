#define MB_NAME "MINI"
#include "mini_backend.h"

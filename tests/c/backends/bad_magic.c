#define MB_NAME "BADMAGIC"
#define MB_MAGIC 0x12345678u
#include "mini_backend.h"

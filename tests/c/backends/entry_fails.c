#define MB_NAME "ENTRYFAIL"
#define MB_ENTRY_STATUS TG_ERR_DEVICE
#include "mini_backend.h"

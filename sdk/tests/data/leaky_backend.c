/* free() and shutdown release nothing: the leak cases must FAIL. */
#define PB_LEAK 1
#include "planted_backend.h"

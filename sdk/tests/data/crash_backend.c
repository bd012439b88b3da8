/* Segfaults in buffer_view: runtime.buffer_view must come out CRASH, and the cases after it must still run. */
#define PB_CRASH_IN "buffer_view"
#include "planted_backend.h"

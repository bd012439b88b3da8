/* Never returns from buffer_view: runtime.buffer_view must come out TIMEOUT, and the cases after it must still run. */
#define PB_HANG_IN "buffer_view"
#include "planted_backend.h"

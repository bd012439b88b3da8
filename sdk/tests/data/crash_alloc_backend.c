/* Segfaults in every alloc: many runtime cases crash, so the runner stops restarting and marks the rest CRASH. */
#define PB_CRASH_IN "alloc"
#include "planted_backend.h"

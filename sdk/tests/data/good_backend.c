/* The planted backend with nothing planted: every loader and runtime case passes or is NOT_RUN/NOT_SUPPORTED. */
#include "planted_backend.h"

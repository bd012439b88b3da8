#define MB_NAME "ACME"
#define MB_UNAVAILABLE "no ACME driver (libacme.so.1 not found)"
#include "mini_backend.h"

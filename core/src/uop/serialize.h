/* uop/serialize.h -- UOp graphs as JSON (see serialize.c for the form), the bridge to tinygrad 0.14.0 in tests. */
#ifndef TG_UOP_SERIALIZE_H
#define TG_UOP_SERIALIZE_H
#include <stddef.h>

#include "uop/ops.h"

/* Parses a graph; returns a new reference to its root, or NULL with TG_ERR_CORRUPT/OUT_OF_MEMORY and a message. */
tg_uop *tg_uop_from_json(const char *text, size_t len);
/* The graph under root as JSON (malloc'd; free() it), or NULL with an error. */
char *tg_uop_to_json(tg_uop *root);
#endif

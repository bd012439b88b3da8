/* renderer/renderer.h -- tinygrad 0.14.0's Renderer, as the codegen sees it: one entry per dialect named in
** tg_device_caps.dialect. A dialect supplies its printer (Renderer.render over the linearized program) and its
** extra_matcher (the dialect's rewrites run in the final pass, before the printer). Each dialect's file defines one
** tg_renderer; renderer.c lists them. */
#ifndef TG_RENDERER_RENDERER_H
#define TG_RENDERER_RENDERER_H
#include <stddef.h>

#include "uop/ops.h"
#include "uop/rewrite.h"

typedef struct tg_renderer {
  const char *dialect;
  /* Renderer.render: malloc'd source, or NULL with the error set. uops borrowed; fname is tinygrad's function_name. */
  char *(*render)(const struct tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname);
  /* Renderer.extra_matcher, or NULL for none */
  const tg_pm *(*extra_matcher)(void);
  const void *data; /* the dialect's own table (a cs_lang for the C-family printer) */
} tg_renderer;

/* tinygrad's wgsl.py is_nan as a rewrite result: (bits(a) & sign-less mask) > exponent-all-ones, an integer test on the bits
** that a driver assuming no NaN cannot fold (a != a it can); negate: the test != True. A new reference, NULL (not a float
** dtype), or tg_rw_fail's value. Defined in wgsl.c. */
tg_uop *tg_render_nan_check(tg_rw *rw, tg_uop *a, int negate);

/* The renderer for a dialect name, or NULL when core has none. */
const tg_renderer *tg_renderer_named(const char *dialect);

#endif

/* renderer/renderer.c -- the dialects core renders, by name (renderer/renderer.h). */
#include "renderer/renderer.h"

#include <string.h>

extern const tg_renderer tg_renderer_c, tg_renderer_cuda, tg_renderer_hip, tg_renderer_metal, tg_renderer_wgsl, tg_renderer_glsl;

static const tg_renderer *const g_renderers[] = {
  &tg_renderer_c, &tg_renderer_cuda, &tg_renderer_hip, &tg_renderer_metal, &tg_renderer_wgsl, &tg_renderer_glsl,
};

const tg_renderer *tg_renderer_named(const char *dialect) {
  if (!dialect) return NULL;
  for (size_t i = 0; i < sizeof g_renderers / sizeof g_renderers[0]; i++)
    if (!strcmp(g_renderers[i]->dialect, dialect)) return g_renderers[i];
  return NULL;
}

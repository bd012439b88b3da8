/* tgvk.h -- what vulkan.c (the backend) needs from glsl.c (GLSL -> SPIR-V through glslang, and a small SPIR-V reader). */
#ifndef TGVK_H
#define TGVK_H
#include "tg_backend.h"

/* What the backend needs to know about a compute module before it builds a pipeline for it. */
typedef struct tgvk_module_info {
  uint32_t n_bindings;    /* storage buffers in descriptor set 0: bindings 0 .. n_bindings-1 */
  uint32_t push_size;     /* bytes of the push-constant block (the kernel's vals), 0 if none */
  uint32_t local[3];      /* OpExecutionMode LocalSize: the workgroup size compiled in */
  uint32_t spec_local[3]; /* 1 where local_size_{x,y,z}_id makes that dimension a specialization constant */
} tgvk_module_info;

/* GLSL compute shader -> SPIR-V for a Vulkan 1.`vk_minor` target (1 or 2). On success *words (malloc'd, `*nbytes` bytes) and
** possibly a warning log in *log (malloc'd or NULL). On TG_ERR_COMPILE *log holds glslang's info log. */
tg_status tgvk_glsl_compile(const char *source, int vk_minor, uint32_t **words, size_t *nbytes, char **log);

/* Reads a SPIR-V module (n 32-bit words): its compute entry "main", buffer bindings, push constants and local size.
** Returns 0, or -1 with the reason in why. */
int tgvk_spirv_info(const uint32_t *w, size_t n, tgvk_module_info *out, char *why, size_t whylen);

#endif

/* wgsl_abi.h -- what the plugin reads from a WGSL kernel's text: its resource bindings and the @workgroup_size of its entry
** point (README: the WGSL dialect ABI). naga validates the shader; this only maps launch arguments onto bindings. */
#ifndef TGC_WGSL_ABI_H
#define TGC_WGSL_ABI_H

#include <stddef.h>
#include <stdint.h>

#define WGSL_MAX_BINDINGS 1000 /* wgpu's maxBindingsPerBindGroup */

typedef enum { WGSL_UNIFORM = 1, WGSL_STORAGE_RW = 2, WGSL_STORAGE_RO = 3 } wgsl_kind;

typedef struct wgsl_binding {
  uint32_t binding;
  wgsl_kind kind;
} wgsl_binding;

typedef struct wgsl_abi {
  wgsl_binding *bindings; /* malloc'ed, n entries in source order; free with wgsl_abi_free */
  size_t n;
  int has_entry;          /* an `@compute ... fn <entry>` was found */
  int wg_known;           /* 1 when the entry's @workgroup_size is made of integer literals only */
  uint32_t wg[3];         /* that size, missing dimensions 1 */
} wgsl_abi;

/* Scans `src` (NUL-terminated) for group-0 bindings and the entry point `entry`. Returns 0, or -1 with a message in err
** (a binding outside the ABI: another group, not var<uniform>/var<storage>, a repeated number; out of host memory). */
int wgsl_abi_scan(const char *src, const char *entry, wgsl_abi *out, char *err, size_t errn);
void wgsl_abi_free(wgsl_abi *abi);

#endif

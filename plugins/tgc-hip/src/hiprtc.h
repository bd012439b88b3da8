/* hiprtc.h -- hiprtc (HIP C++ -> AMDGPU code object), declared by us and dlopen'ed at run time. Shared by the plugin
** (hip.c) and the compile-only test tool (tests/hiprtc_co.c), so CI compiles kernels through exactly the plugin's code
** and flags.
**
** Where hiprtc comes from, first hit wins:
**   1. $TGC_HIPRTC_PATH: the library file (no fallback when it is set);
**   2. libhiprtc.so.7, libhiprtc.so.6, libhiprtc.so by the dynamic loader's search (ROCm 6 and later ship hiprtc apart);
**   3. the HIP runtime library itself (ROCm 5 builds hiprtc into libamdhip64.so.5): `runtime`, when the caller has one;
**   4. libamdhip64.so.5 by the loader's search (compile-only machines: Debian's libamdhip64-5).
** Thread-safety: every function may be called from any thread. */
#ifndef TGC_HIP_HIPRTC_H
#define TGC_HIP_HIPRTC_H
#include <stddef.h>
#include "tg_backend.h"

/* Loads hiprtc once; `runtime` is a dlopen handle of libamdhip64 to look in when no libhiprtc is found (may be NULL).
** TG_OK, or TG_ERR_UNAVAILABLE with *why (static storage) saying what was tried. */
tg_status tghip_rtc_load(void *runtime, const char **why);

/* "hiprtc of ROCm 5.2 (/usr/lib/x86_64-linux-gnu/libamdhip64.so.5.2.21153)" after a successful load, else "". Static storage. */
const char *tghip_rtc_describe(void);

/* Compiles `source` for `arch` ("gfx90a", "gfx1030:sramecc+:xnack-": the feature suffix is kept, as the device reports
** it) into a code object (an AMDGPU ELF, as hipModuleLoadData takes it). On success *co is malloc'd and *size its bytes.
** On failure TG_ERR_COMPILE (the message holds hiprtc's log), TG_ERR_UNAVAILABLE (no hiprtc) or TG_ERR_OUT_OF_MEMORY,
** and *msg is a malloc'd message (NULL only if even that allocation failed). Free both with free(). */
tg_status tghip_rtc_compile(void *runtime, const char *source, const char *name, const char *arch, char **co, size_t *size, char **msg);

#endif

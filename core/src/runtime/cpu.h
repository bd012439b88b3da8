/* runtime/cpu.h -- the built-in CPU backend (tinygrad's runtime/ops_cpu.py).
**
** runtime/cpu.c implements include/tg_backend.h exactly as an external plugin would. Inside libtgc it is linked
** in and reached through the two internal symbols below (hidden: libtgc exports only tg.h). Built with
** -DTG_CPU_AS_PLUGIN=1 (CMake target tgc_cpu_plugin) the same file instead exports the standard
** `tg_backend_manifest` and `tg_backend_entry_v1`, and none of these names.
**
** Environment: TGC_CC (compiler command, default "cc", split on spaces: "python -m ziglang cc"),
** TGC_CPU_THREADS (worker threads, default the online CPUs), TGC_CPU_NOCACHE=1 (no compile cache),
** XDG_CACHE_HOME / TGC_CACHE_DIR (where the compile cache lives, see tg_cache_dir in helpers.h). */
#ifndef TG_RUNTIME_CPU_H
#define TG_RUNTIME_CPU_H
#include <stdint.h>

#include "tg_backend.h"

#define TG_CPU_HIDDEN __attribute__((visibility("hidden")))

/* The manifest and entry point of the built-in CPU backend; same contract as tg_backend_manifest and
** tg_backend_entry_v1 in tg_backend.h. */
TG_CPU_HIDDEN extern const tg_manifest tg_cpu_backend_manifest;
TG_CPU_HIDDEN tg_status tg_cpu_backend_entry(const tg_backend_host *host, const tg_backend_api **out);

/* Number of times this process actually ran the C compiler (cache hits do not count). Thread-safe. */
TG_CPU_HIDDEN uint64_t tg_cpu_compile_count(void);

#endif

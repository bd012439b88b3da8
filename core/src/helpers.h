/* helpers.h -- small self-contained utilities shared by the core and the built-in CPU backend
** (tinygrad's helpers.py: hashing, environment, disk-cache directory). No dependency on the rest of libtgc,
** so runtime/cpu.c can also be built as a standalone plugin with just this file. */
#ifndef TG_HELPERS_H
#define TG_HELPERS_H
#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4). */
typedef struct tg_sha256_ctx {
  uint32_t h[8];
  uint64_t len;
  uint8_t buf[64];
  size_t nbuf;
} tg_sha256_ctx;
void tg_sha256_init(tg_sha256_ctx *c);
void tg_sha256_update(tg_sha256_ctx *c, const void *data, size_t n);
void tg_sha256_final(tg_sha256_ctx *c, uint8_t out[32]);
void tg_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void tg_hex(const uint8_t *in, size_t n, char *out);

/* Integer environment variable, `dflt` when unset or not a number (tinygrad's getenv). */
long tg_getenv_int(const char *name, long dflt);

/* The private cache directory "$XDG_CACHE_HOME/tgc/<sub>" (default ~/.cache/tgc/<sub>; TGC_CACHE_DIR overrides the
** "$XDG_CACHE_HOME/tgc" part), created 0700 if missing. Returns 0 and the path in out, or -1 with a reason in
** `why` when the directory cannot be created or is unsafe: not owned by the user, or writable by group/others
** (at the leaf or the tgc level). */
int tg_cache_dir(const char *sub, char *out, size_t outsz, char *why, size_t whysz);
#endif

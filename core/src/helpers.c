/* helpers.c -- SHA-256, hex, integer environment variables and the private cache directory (tinygrad's
** helpers.py). Depends only on libc so that runtime/cpu.c can be built as a standalone plugin with it. */
#define _GNU_SOURCE
#include "helpers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------- SHA-256 (FIPS 180-4, section 6.2) ---------------- */

static const uint32_t sha_k[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64], v[8];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  memcpy(v, h, sizeof(v));
  for (int t = 0; t < 64; t++) {
    uint32_t S1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
    uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
    uint32_t t1 = v[7] + S1 + ch + sha_k[t] + w[t];
    uint32_t S0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
    uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
    memmove(v + 1, v, 7 * sizeof(uint32_t));
    v[4] += t1;
    v[0] = t1 + S0 + maj;
  }
  for (int i = 0; i < 8; i++) h[i] += v[i];
}

void tg_sha256_init(tg_sha256_ctx *c) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof(iv));
  c->len = 0;
  c->nbuf = 0;
}

void tg_sha256_update(tg_sha256_ctx *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->len += n;
  while (n > 0) {
    size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
    memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take, p += take, n -= take;
    if (c->nbuf == 64) sha_block(c->h, c->buf), c->nbuf = 0;
  }
}

void tg_sha256_final(tg_sha256_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->len * 8;
  uint8_t pad[72] = {0x80};
  size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf; /* leave exactly 8 bytes for the length */
  for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
  tg_sha256_update(c, pad, npad + 8);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(c->h[i] >> (24 - 8 * j));
}

void tg_sha256(const void *data, size_t n, uint8_t out[32]) {
  tg_sha256_ctx c;
  tg_sha256_init(&c);
  tg_sha256_update(&c, data, n);
  tg_sha256_final(&c, out);
}

void tg_hex(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = digits[in[i] >> 4], out[2 * i + 1] = digits[in[i] & 15];
  out[2 * n] = '\0';
}

/* ---------------- Environment ---------------- */

long tg_getenv_int(const char *name, long dflt) {
  const char *s = getenv(name);
  if (s == NULL || *s == '\0') return dflt;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  while (*end == ' ' || *end == '\t' || *end == '\n') end++;
  return (errno != 0 || *end != '\0') ? dflt : v;
}

/* ---------------- Cache directory ---------------- */

__attribute__((format(printf, 3, 4))) static int say(char *why, size_t whysz, const char *fmt, ...) {
  if (why && whysz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* mkdir -p for every component of `path` (a writable copy); new directories are private (0700). */
static int mkdirs(char *path, char *why, size_t whysz) {
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    int r = mkdir(path, 0700);
    int err = errno;
    *p = c;
    if (r != 0 && err != EEXIST)
      return say(why, whysz, "cannot create cache directory %.*s: %s", (int)(p - path), path, strerror(err));
    if (c == '\0') return 0;
  }
}

/* A directory is safe when it is ours and only we can write into it. */
static int check_private(const char *dir, char *why, size_t whysz) {
  struct stat st;
  if (stat(dir, &st) != 0) return say(why, whysz, "cannot stat cache directory %s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return say(why, whysz, "cache path %s is not a directory", dir);
  if (st.st_uid != getuid()) return say(why, whysz, "cache directory %s is not owned by the current user (uid %u)", dir, (unsigned)getuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return say(why, whysz, "cache directory %s is writable by group or others (mode %03o; chmod 700 it)", dir, (unsigned)(st.st_mode & 0777));
  return 0;
}

/* The parent of the tgc level may be shared (e.g. /tmp) but then it needs the sticky bit: otherwise another
** user could rename our directory away and plant their own in its place. Group write is let through here: with
** user-private groups (umask 002) ~/.cache is commonly 0775. */
static int check_parent(const char *dir, char *why, size_t whysz) {
  char parent[4096];
  snprintf(parent, sizeof(parent), "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash == NULL) return 0;
  if (slash == parent) slash[1] = '\0';
  else *slash = '\0';
  struct stat st;
  if (stat(parent, &st) != 0) return say(why, whysz, "cannot stat %s: %s", parent, strerror(errno));
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
    return say(why, whysz, "%s is writable by others without the sticky bit (mode %03o), so %s could be replaced", parent,
               (unsigned)(st.st_mode & 0777), dir);
  return 0;
}

/* "$TGC_CACHE_DIR", else "$XDG_CACHE_HOME/tgc", else "$HOME/.cache/tgc"; relative XDG paths are ignored (XDG spec). */
static int base_dir(char *out, size_t outsz, char *why, size_t whysz) {
  const char *env = getenv("TGC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int n;
  if (env && *env) n = snprintf(out, outsz, "%s", env);
  else if (xdg && xdg[0] == '/') n = snprintf(out, outsz, "%s/tgc", xdg);
  else if (home && *home) n = snprintf(out, outsz, "%s/.cache/tgc", home);
  else return say(why, whysz, "no cache directory: none of TGC_CACHE_DIR, XDG_CACHE_HOME, HOME is set");
  if (n < 0 || (size_t)n >= outsz) return say(why, whysz, "cache directory path too long");
  if (out[0] != '/') return say(why, whysz, "cache directory %s is not an absolute path", out);
  while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
  return 0;
}

int tg_cache_dir(const char *sub, char *out, size_t outsz, char *why, size_t whysz) {
  char base[4096], parent[4096];
  if (sub == NULL || *sub == '\0' || strchr(sub, '/') || !strcmp(sub, ".") || !strcmp(sub, "..") || out == NULL)
    return say(why, whysz, "bad cache subdirectory name '%s'", sub ? sub : "(null)");
  if (base_dir(base, sizeof(base), why, whysz) != 0) return -1;
  /* Create and check the parent before writing anything under it. */
  snprintf(parent, sizeof(parent), "%s", base);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (mkdirs(parent, why, whysz) != 0) return -1;
  }
  if (check_parent(base, why, whysz) != 0) return -1;
  if (mkdir(base, 0700) != 0 && errno != EEXIST)
    return say(why, whysz, "cannot create cache directory %s: %s", base, strerror(errno));
  if (check_private(base, why, whysz) != 0) return -1;
  int n = snprintf(out, outsz, "%s/%s", base, sub);
  if (n < 0 || (size_t)n >= outsz) return say(why, whysz, "cache directory path too long: %s/%s", base, sub);
  if (mkdir(out, 0700) != 0 && errno != EEXIST)
    return say(why, whysz, "cannot create cache directory %s: %s", out, strerror(errno));
  return check_private(out, why, whysz);
}

/* glsl.c -- the "glsl" dialect's compiler: GLSL 4.50 compute shaders -> SPIR-V through glslang's C interface (linked
** statically into the plugin, so a machine needs only a Vulkan driver), and a small SPIR-V reader that tells the backend
** which buffers, push constants and workgroup size a module has, so a launch that does not fit is refused, not run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glslang/Include/glslang_c_interface.h>
#include <glslang/Public/resource_limits_c.h>

#include "tgvk.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready;
static void init(void) { g_ready = glslang_initialize_process(); }

static char *dupcat(const char *a, const char *b) {
  size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0;
  char *s = malloc(na + nb + 1);
  if (s) memcpy(s, a ? a : "", na), memcpy(s + na, b ? b : "", nb), s[na + nb] = '\0';
  return s;
}

tg_status tgvk_glsl_compile(const char *source, int vk_minor, uint32_t **words, size_t *nbytes, char **log) {
  *words = NULL, *nbytes = 0, *log = NULL;
  pthread_once(&g_once, init);
  if (!g_ready) return *log = dupcat("glslang_initialize_process failed", NULL), TG_ERR_COMPILE;
  const glslang_messages_t msgs = GLSLANG_MSG_SPV_RULES_BIT | GLSLANG_MSG_VULKAN_RULES_BIT;
  const glslang_input_t in = {
    .language = GLSLANG_SOURCE_GLSL, .stage = GLSLANG_STAGE_COMPUTE, .client = GLSLANG_CLIENT_VULKAN,
    .client_version = vk_minor >= 2 ? GLSLANG_TARGET_VULKAN_1_2 : GLSLANG_TARGET_VULKAN_1_1, .target_language = GLSLANG_TARGET_SPV,
    .target_language_version = vk_minor >= 2 ? GLSLANG_TARGET_SPV_1_5 : GLSLANG_TARGET_SPV_1_3, .code = source, .default_version = 450,
    .default_profile = GLSLANG_NO_PROFILE, .messages = msgs, .resource = glslang_default_resource()};
  glslang_shader_t *sh = glslang_shader_create(&in);
  if (sh == NULL) return TG_ERR_OUT_OF_MEMORY;
  glslang_program_t *prog = NULL;
  tg_status s = TG_ERR_COMPILE;
  if (!glslang_shader_preprocess(sh, &in) || !glslang_shader_parse(sh, &in)) {
    *log = dupcat(glslang_shader_get_info_log(sh), glslang_shader_get_info_debug_log(sh));
  } else if ((prog = glslang_program_create()) == NULL) {
    s = TG_ERR_OUT_OF_MEMORY;
  } else {
    glslang_program_add_shader(prog, sh);
    if (!glslang_program_link(prog, msgs)) {
      *log = dupcat(glslang_program_get_info_log(prog), glslang_program_get_info_debug_log(prog));
    } else {
      glslang_program_SPIRV_generate(prog, GLSLANG_STAGE_COMPUTE);
      size_t n = glslang_program_SPIRV_get_size(prog);
      const char *m = glslang_program_SPIRV_get_messages(prog);
      if (m && *m) *log = dupcat(m, NULL);
      if (n == 0) s = TG_ERR_COMPILE;
      else if ((*words = malloc(n * 4)) == NULL) s = TG_ERR_OUT_OF_MEMORY;
      else glslang_program_SPIRV_get(prog, *words), *nbytes = n * 4, s = TG_OK;
    }
  }
  if (prog) glslang_program_delete(prog);
  glslang_shader_delete(sh);
  return s;
}

/* ---------------- SPIR-V reader ---------------- */

enum { OP_ENTRY_POINT = 15, OP_EXECUTION_MODE = 16, OP_TYPE_INT = 21, OP_TYPE_FLOAT = 22, OP_TYPE_VECTOR = 23, OP_TYPE_ARRAY = 28,
       OP_TYPE_STRUCT = 30, OP_TYPE_POINTER = 32, OP_CONSTANT = 43, OP_VARIABLE = 59, OP_DECORATE = 71, OP_MEMBER_DECORATE = 72 };
enum { DEC_SPEC_ID = 1, DEC_ARRAY_STRIDE = 6, DEC_BUILTIN = 11, DEC_BINDING = 33, DEC_SET = 34, DEC_OFFSET = 35 };
enum { SC_UNIFORM_CONSTANT = 0, SC_UNIFORM = 2, SC_PUSH_CONSTANT = 9, SC_STORAGE_BUFFER = 12 };
enum { MODEL_GLCOMPUTE = 5, MODE_LOCAL_SIZE = 17, BUILTIN_WORKGROUP_SIZE = 25 };
#define NONE 0xffffffffu

typedef struct reader {
  const uint32_t *w;
  size_t n;
  uint32_t bound, *def, *binding, *set, *spec, *stride; /* per result id: defining instruction's word index, decorations */
} reader;

static uint32_t member_offset(const reader *r, uint32_t st, uint32_t m) {
  for (size_t i = 5; i < r->n; i += r->w[i] >> 16)
    if ((r->w[i] & 0xffff) == OP_MEMBER_DECORATE && (r->w[i] >> 16) >= 5 && r->w[i + 1] == st && r->w[i + 2] == m && r->w[i + 3] == DEC_OFFSET)
      return r->w[i + 4];
  return 0;
}

/* Byte size of a type in an explicitly laid out block; 0 when unknown. */
static uint64_t type_size(const reader *r, uint32_t id, int depth) {
  if (id >= r->bound || r->def[id] == NONE || depth > 8) return 0;
  const uint32_t *t = r->w + r->def[id], len = t[0] >> 16;
  switch (t[0] & 0xffff) {
  case OP_TYPE_INT: case OP_TYPE_FLOAT: return t[2] / 8;
  case OP_TYPE_VECTOR: return (uint64_t)t[3] * type_size(r, t[2], depth + 1);
  case OP_TYPE_ARRAY: {
    uint32_t c = t[3];
    if (c >= r->bound || r->def[c] == NONE || (r->w[r->def[c]] & 0xffff) != OP_CONSTANT) return 0;
    uint64_t count = r->w[r->def[c] + 3];
    return count * (r->stride[id] != NONE ? r->stride[id] : type_size(r, t[2], depth + 1));
  }
  case OP_TYPE_STRUCT: {
    uint64_t end = 0;
    for (uint32_t m = 0; m + 2 < len; m++) {
      uint64_t sz = type_size(r, t[2 + m], depth + 1), e = member_offset(r, id, m) + sz;
      if (sz == 0) return 0;
      if (e > end) end = e;
    }
    return end;
  }
  default: return 0;
  }
}

int tgvk_spirv_info(const uint32_t *w, size_t n, tgvk_module_info *out, char *why, size_t whylen) {
  memset(out, 0, sizeof(*out));
  out->local[0] = out->local[1] = out->local[2] = 1;
  if (n < 5 || w[0] != 0x07230203u) return snprintf(why, whylen, "not a SPIR-V module (magic 0x%08x)", n ? w[0] : 0), -1;
  reader r = {.w = w, .n = n, .bound = w[3]};
  if (r.bound == 0 || r.bound > (1u << 22)) return snprintf(why, whylen, "SPIR-V id bound %u is absurd", r.bound), -1;
  uint32_t *mem = malloc((size_t)r.bound * 5 * sizeof(uint32_t));
  if (mem == NULL) return snprintf(why, whylen, "out of host memory"), -1;
  memset(mem, 0xff, (size_t)r.bound * 5 * sizeof(uint32_t));
  r.def = mem, r.binding = mem + r.bound, r.set = mem + 2 * (size_t)r.bound, r.spec = mem + 3 * (size_t)r.bound, r.stride = mem + 4 * (size_t)r.bound;
  int has_main = 0, wg_builtin = 0, rc = -1;
  for (size_t i = 5; i < n;) {
    uint32_t op = w[i] & 0xffff, len = w[i] >> 16;
    if (len == 0 || i + len > n) {
      snprintf(why, whylen, "truncated SPIR-V instruction at word %zu", i);
      goto out;
    }
    const uint32_t *a = w + i + 1;
    if (op == OP_ENTRY_POINT && len >= 5 && a[0] == MODEL_GLCOMPUTE && strncmp((const char *)(a + 2), "main", 5) == 0) has_main = 1;
    if (op == OP_EXECUTION_MODE && len >= 6 && a[1] == MODE_LOCAL_SIZE) memcpy(out->local, a + 2, sizeof(out->local));
    if (op == OP_DECORATE && len >= 4 && a[0] < r.bound) {
      if (a[1] == DEC_BINDING) r.binding[a[0]] = a[2];
      if (a[1] == DEC_SET) r.set[a[0]] = a[2];
      if (a[1] == DEC_SPEC_ID) r.spec[a[0]] = a[2];
      if (a[1] == DEC_ARRAY_STRIDE) r.stride[a[0]] = a[2];
      if (a[1] == DEC_BUILTIN && a[2] == BUILTIN_WORKGROUP_SIZE) wg_builtin = 1;
    }
    if ((op == OP_TYPE_INT || op == OP_TYPE_FLOAT || op == OP_TYPE_VECTOR || op == OP_TYPE_ARRAY || op == OP_TYPE_STRUCT ||
         op == OP_TYPE_POINTER) && len >= 2 && a[0] < r.bound)
      r.def[a[0]] = (uint32_t)i;
    if ((op == OP_CONSTANT || op == OP_VARIABLE) && len >= 3 && a[1] < r.bound) r.def[a[1]] = (uint32_t)i;
    i += len;
  }
  if (!has_main) {
    snprintf(why, whylen, "the module has no GLCompute entry point named \"main\"");
    goto out;
  }
  for (uint32_t id = 0; id < r.bound; id++) {
    if (r.def[id] == NONE || (w[r.def[id]] & 0xffff) != OP_VARIABLE || (w[r.def[id]] >> 16) < 4) continue;
    uint32_t sc = w[r.def[id] + 3], ptr = w[r.def[id] + 1];
    if (sc == SC_STORAGE_BUFFER) {
      if (r.set[id] != 0 && r.set[id] != NONE) {
        snprintf(why, whylen, "a buffer is in descriptor set %u: the glsl dialect binds every buffer in set 0", r.set[id]);
        goto out;
      }
      if (r.binding[id] != NONE && r.binding[id] + 1 > out->n_bindings) out->n_bindings = r.binding[id] + 1;
    } else if ((sc == SC_UNIFORM || sc == SC_UNIFORM_CONSTANT) && r.binding[id] != NONE) {
      snprintf(why, whylen, "binding %u is a uniform block, image or sampler: the glsl dialect takes storage buffers (`buffer`) only", r.binding[id]);
      goto out;
    } else if (sc == SC_PUSH_CONSTANT) {
      uint32_t pointee = ptr < r.bound && r.def[ptr] != NONE ? w[r.def[ptr] + 3] : NONE;
      uint64_t sz = pointee == NONE ? 0 : type_size(&r, pointee, 0);
      if (sz == 0 || sz > 65536) {
        snprintf(why, whylen, "the push-constant block's size cannot be read (use `layout(push_constant) uniform Vals { int64_t v[N]; }`)");
        goto out;
      }
      out->push_size = (uint32_t)sz;
    }
  }
  for (uint32_t id = 0; id < r.bound && wg_builtin; id++)
    if (r.spec[id] < 3) out->spec_local[r.spec[id]] = 1;
  rc = 0;
out:
  free(mem);
  return rc;
}

/* The safetensors reader and writer of tg.h ("State"): a round trip through tg_safetensors_save, every class of bad
** input with its code and message, and a fuzz of the parser (random bytes, mutated valid files, random header JSON) that
** checks each input either parses into a consistent table or fails with TG_ERR_CORRUPT. Meant to run under ASan+UBSan
** (TGC_SANITIZE=ON), which turns any read outside the input into a failure. TGC_FUZZ_ITERS (default 200000) and
** TGC_FUZZ_SEED change the fuzz's length and seed. */
#include <stdint.h>

#include "check.h"
#include "tg.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
static size_t rndn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* A file from a header text and a data section of data_len bytes (0, 1, 2, ...). Caller frees. */
static unsigned char *make_file(const char *header, size_t hlen, size_t data_len, size_t *n) {
  unsigned char *b = malloc(8 + hlen + data_len + 1);
  for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  memcpy(b + 8, header, hlen);
  for (size_t i = 0; i < data_len; i++) b[8 + hlen + i] = (unsigned char)i;
  *n = 8 + hlen + data_len;
  return b;
}

static tg_status parse_text(const char *header, size_t data_len) {
  size_t n;
  unsigned char *b = make_file(header, strlen(header), data_len, &n);
  tg_safetensors *st = NULL;
  tg_status s = tg_safetensors_parse(b, n, &st);
  free(b);
  tg_safetensors_release(st);
  return s;
}

#define BAD(header, data_len, needle) CHECK_ERR(parse_text(header, data_len), TG_ERR_CORRUPT, needle)

static void test_round_trip(void) {
  float f[6] = {0, 1.5f, -2, 3.25f, 4, -5};
  int16_t s[3] = {-7, 0, 300};
  uint8_t u[1] = {200};
  tg_tensor *t[3] = {0};
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){2, 3}, 2, f, sizeof f, "CPU", &t[0]));
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_INT16, (int64_t[]){3}, 1, s, sizeof s, "CPU", &t[1]));
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_UINT8, NULL, 0, u, sizeof u, "CPU", &t[2]));
  const char *names[3] = {"w", "b\n\"\xc3\xa9", "scalar"};
  size_t len = 0;
  CHECK_OK(tg_safetensors_save(names, t, 3, "{\"format\": \"pt\"}", NULL, 0, &len));
  unsigned char *buf = malloc(len);
  size_t len2 = 0;
  CHECK_OK(tg_safetensors_save(names, t, 3, "{\"format\": \"pt\"}", buf, len, &len2));
  CHECK(len2 == len && len >= 8);
  uint64_t hlen = 0;
  for (int k = 7; k >= 0; k--) hlen = hlen << 8 | buf[k];
  CHECK(hlen % 8 == 0 && 8 + hlen + sizeof f + sizeof s + sizeof u == len);
  CHECK(!memcmp(buf + 8, "{\"__metadata__\":{\"format\": \"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"b\\n\\\"\\u00e9\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[24,30]},",
                110));
  tg_safetensors *st = NULL;
  CHECK_OK(tg_safetensors_parse(buf, len, &st));
  size_t n = 0, idx = 99;
  CHECK_OK(tg_safetensors_count(st, &n));
  CHECK(n == 3);
  CHECK_OK(tg_safetensors_find(st, names[1], &idx));
  CHECK(idx == 1);
  CHECK_ERR(tg_safetensors_find(st, "nope", &idx), TG_ERR_OUT_OF_RANGE, "no tensor named 'nope'");
  tg_safetensors_entry e = {.struct_size = sizeof e};
  CHECK_OK(tg_safetensors_entry_get(st, 0, &e));
  CHECK(!strcmp(e.name, "w") && e.dtype == TG_FLOAT32 && e.ndim == 2 && e.shape[0] == 2 && e.shape[1] == 3 && e.begin == 0 && e.end == 24);
  CHECK(e.file_offset == 8 + hlen);
  CHECK_OK(tg_safetensors_entry_get(st, 2, &e));
  CHECK(e.ndim == 0 && e.dtype == TG_UINT8 && e.begin == 30 && e.end == 31);
  CHECK_ERR(tg_safetensors_entry_get(st, 3, &e), TG_ERR_OUT_OF_RANGE, "index 3 out of range, the file holds 3 tensors");
  tg_safetensors_entry small = {.struct_size = 8};
  CHECK_ERR(tg_safetensors_entry_get(st, 0, &small), TG_ERR_INVALID_ARGUMENT, "struct_size 8");
  char meta[64];
  size_t ml = 0;
  CHECK_OK(tg_safetensors_json(st, 1, meta, sizeof meta, &ml));
  CHECK(!strcmp(meta, "{\"format\": \"pt\"}") && ml == strlen(meta));
  CHECK_OK(tg_safetensors_json(st, 0, NULL, 0, &ml));
  CHECK(ml == hlen);
  CHECK_ERR(tg_safetensors_json(st, 2, NULL, 0, &ml), TG_ERR_INVALID_ARGUMENT, "what is 2");
  /* values back */
  for (size_t i = 0; i < 3; i++) {
    tg_tensor *r = NULL;
    CHECK_OK(tg_safetensors_tensor(st, i, "CPU", &r));
    unsigned char got[24];
    size_t want = i == 0 ? sizeof f : i == 1 ? sizeof s : sizeof u;
    CHECK_OK(tg_tensor_data(r, got, want));
    CHECK(!memcmp(got, i == 0 ? (void *)f : i == 1 ? (void *)s : (void *)u, want));
    tg_tensor_release(r);
  }
  CHECK_OK(tg_safetensors_release(st));
  CHECK_ERR(tg_safetensors_count(st, &n), TG_ERR_INVALID_HANDLE, "released tg_safetensors handle");
  CHECK_ERR(tg_safetensors_release(st), TG_ERR_INVALID_HANDLE, "released");
  CHECK_OK(tg_safetensors_release(NULL));
  CHECK_ERR(tg_safetensors_count((tg_safetensors *)t[0], &n), TG_ERR_INVALID_HANDLE, "not a tg_safetensors handle");
  /* a file round trip */
  const char *path = "test_safetensors.tmp";
  CHECK_OK(tg_safetensors_save_file(path, names, t, 3, NULL));
  CHECK_OK(tg_safetensors_open(path, &st));
  CHECK_OK(tg_safetensors_json(st, 1, meta, sizeof meta, &ml));
  CHECK(ml == 0 && meta[0] == 0);
  tg_safetensors_release(st);
  remove(path);
  CHECK_ERR(tg_safetensors_open("/nonexistent/x.safetensors", &st), TG_ERR_IO, "cannot open '/nonexistent/x.safetensors'");
  CHECK_ERR(tg_safetensors_save_file("/nonexistent/x.safetensors", names, t, 3, NULL), TG_ERR_IO, "cannot write");
  /* save errors */
  CHECK_ERR(tg_safetensors_save(names, t, 3, "[1]", NULL, 0, &len), TG_ERR_INVALID_ARGUMENT, "metadata must be a JSON object");
  CHECK_ERR(tg_safetensors_save(names, t, 3, "{\"a\":1} x", NULL, 0, &len), TG_ERR_INVALID_ARGUMENT, "metadata_json at byte 8");
  const char *dup[2] = {"x", "x"}, *meta_name[1] = {"__metadata__"}, *bad_utf8[1] = {"\xff"};
  CHECK_ERR(tg_safetensors_save(dup, t, 2, NULL, NULL, 0, &len), TG_ERR_INVALID_ARGUMENT, "duplicate name 'x'");
  CHECK_ERR(tg_safetensors_save(meta_name, t, 1, NULL, NULL, 0, &len), TG_ERR_INVALID_ARGUMENT, "'__metadata__'");
  CHECK_ERR(tg_safetensors_save(bad_utf8, t, 1, NULL, NULL, 0, &len), TG_ERR_INVALID_ARGUMENT, "not valid UTF-8");
  tg_tensor *weak = NULL, *fnuz = NULL;
  CHECK_OK(tg_tensor_const_int(TG_WEAKINT, 3, &weak));
  CHECK_ERR(tg_safetensors_save(names, &weak, 1, NULL, NULL, 0, &len), TG_ERR_DTYPE, "safe_save requires concrete dtypes");
  CHECK_OK(tg_tensor_empty((int64_t[]){2}, 1, TG_FP8E4M3FNUZ, "CPU", &fnuz));
  CHECK_ERR(tg_safetensors_save(names, &fnuz, 1, NULL, NULL, 0, &len), TG_ERR_DTYPE, "no name for dtypes.fp8e4m3fnuz");
  tg_tensor_release(weak), tg_tensor_release(fnuz);
  CHECK_OK(tg_safetensors_save(NULL, NULL, 0, NULL, NULL, 0, &len));
  CHECK(len == 16); /* "{}" padded to 8 */
  for (int i = 0; i < 3; i++) tg_tensor_release(t[i]);
  free(buf);
}

static void test_bad_inputs(void) {
  tg_safetensors *st = NULL;
  CHECK_ERR(tg_safetensors_parse("\x02\0\0\0", 4, &st), TG_ERR_CORRUPT, "4 bytes, shorter than the 8-byte header length");
  CHECK_ERR(tg_safetensors_parse(NULL, 0, &st), TG_ERR_CORRUPT, "0 bytes");
  CHECK_ERR(tg_safetensors_parse(NULL, 3, &st), TG_ERR_NULL_POINTER, "data is NULL");
  CHECK_ERR(tg_safetensors_parse("", 0, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_safetensors_parse("\x10\0\0\0\0\0\0\0{}", 10, &st), TG_ERR_CORRUPT, "header length 16 is past the end of the 10-byte file");
  CHECK_ERR(tg_safetensors_parse("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10, &st), TG_ERR_CORRUPT, "header length 18446744073709551615 is past the end");
  BAD("{\"a\xff\":1}", 0, "not valid UTF-8 (byte 0xff at byte 11)");
  BAD("{\"\xc0\xaf\":1}", 0, "not valid UTF-8");        /* overlong */
  BAD("{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8");    /* an encoded surrogate */
  BAD("{\"\xe2\x82\":1}", 0, "not valid UTF-8");        /* truncated */
  BAD("", 0, "unexpected end");
  BAD("[]", 0, "the header must be a JSON object");
  BAD("{\"a\" {}}", 0, "expected ':'");
  BAD("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}", 0, "unexpected end, expected ',' or '}'");
  BAD("{} x", 0, "unexpected 'x', expected the end of the header");
  BAD("{\"a\\q\":1}", 0, "invalid escape '\\q'");
  BAD("{\"a\\ud800\":1}", 0, "high surrogate \\ud800 not followed by a low one");
  BAD("{\"a\\udc00\":1}", 0, "lone low surrogate");
  BAD("{\"a\\u12\":1}", 0, "invalid \\u escape");
  BAD("{\"a\nb\":1}", 0, "control character 0x0a in a string");
  BAD("{\"a", 0, "unterminated string");
  BAD("{\"a\\u0000\":{}}", 0, "holds U+0000");
  BAD("{\"__metadata__\":{\"x\":[1,2,}}", 0, "unexpected '}', expected a value");
  BAD("{\"__metadata__\":{\"x\":01}}", 0, "expected ',' or '}'");
  BAD("{\"__metadata__\":{\"x\":-}}", 0, "expected a digit");
  BAD("{\"__metadata__\":{\"x\":1.}}", 0, "a digit after '.'");
  BAD("{\"__metadata__\":{\"x\":1e}}", 0, "a digit in the exponent");
  BAD("{\"__metadata__\":{\"x\":tru}}", 0, "expected a value");
  BAD("{\"__metadata__\":\"str\"}", 0, "'__metadata__' is not an object");
  BAD("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate '__metadata__'");
  char deep[600] = "{\"__metadata__\":{\"x\":";
  for (int i = 0; i < 200; i++) strcat(deep, "[");
  BAD(deep, 0, "nested deeper than 128");
  BAD("{\"a\":1}", 0, "tensor 'a': expected an object");
  BAD("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'dtype'");
  BAD("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'shape'");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", 4, "tensor 'a': missing field 'data_offsets'");
  BAD("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': duplicate field 'dtype'");
  BAD("{\"a\":{\"dtype\":\"F4\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': unknown dtype 'F4'");
  BAD("{\"a\":{\"dtype\":32,\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': dtype is not a string");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "the shape of tensor 'a' is not an array");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "the shape of tensor 'a' holds 2.0, not an integer");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "the shape of tensor 'a' holds a non-integer");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8, "holds 99999999999999999999, too large");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}", 8, "tensor 'a': negative dim -3 in shape (2, -3)");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[-4,0]}}", 8, "tensor 'a': negative data_offsets [-4, 0]");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", 8, "data_offsets has 1 entries, not 2");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}", 8, "data_offsets of tensor 'a' has more than 2 entries");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24,
      "tensor 'a': data_offsets [0, 20] hold 20 bytes but shape (2, 3) of F32 needs 24");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}", 16, "needs more than");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end before they begin");
  BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, "data_offsets [4, 12] past the end of the data (8 bytes)");
  BAD("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 8,
      "tensors 'a' [0, 4) and 'b' [2, 6) overlap");
  BAD("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8,
      "duplicate tensor name 'a'");
  char many[1024] = "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,0],\"shape\":[";
  for (int i = 0; i < 65; i++) strcat(many, i ? ",1" : "0");
  strcat(many, "]}}");
  BAD(many, 0, "the shape of tensor 'a' has more than 64 entries");
  /* what is fine: whitespace, unknown fields, empty tensors sharing an offset, holes, trailing data, an empty header */
  CHECK_OK(parse_text(" {\"a\" : {\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2],\"x\":[{\"y\":null}]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]},\"c\":{\"dtype\":\"BOOL\",\"shape\":[1,2],\"data_offsets\":[4,6]}}\t\r\n",
                      16));
  CHECK_OK(parse_text("{}", 0));
  CHECK_OK(parse_text("{\"\\u00e9\\ud83d\\ude00\\/\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
}

/* ---------------- fuzz ---------------- */

static size_t fuzz_ok, fuzz_bad;

/* Parse b[0..n): OK with a consistent table, or TG_ERR_CORRUPT with a message. */
static void fuzz_one(const unsigned char *b, size_t n) {
  unsigned char *copy = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any read past them */
  if (n) memcpy(copy, b, n);
  tg_safetensors *st = NULL;
  tg_status s = tg_safetensors_parse(copy, n, &st);
  free(copy);
  if (s != TG_OK) {
    CHECK(s == TG_ERR_CORRUPT && !strncmp(tg_last_error(), "safetensors: ", 13));
    if (s != TG_ERR_CORRUPT) fprintf(stderr, "  status %d: %s\n", s, tg_last_error());
    fuzz_bad++;
    return;
  }
  fuzz_ok++;
  size_t cnt = 0, hl = 0;
  CHECK_OK(tg_safetensors_count(st, &cnt));
  CHECK_OK(tg_safetensors_json(st, 0, NULL, 0, &hl));
  for (size_t i = 0; i < cnt; i++) {
    tg_safetensors_entry e = {.struct_size = sizeof e};
    CHECK_OK(tg_safetensors_entry_get(st, i, &e));
    CHECK(e.begin <= e.end && 8 + hl + e.end <= n && e.ndim <= 64);
    size_t j = 99;
    CHECK_OK(tg_safetensors_find(st, e.name, &j));
    CHECK(j == i);
    if (i < 2 && e.end - e.begin <= 4096) { /* the tensor's bytes are the file's */
      tg_tensor *t = NULL;
      CHECK_OK(tg_safetensors_tensor(st, i, "CPU", &t));
      tg_dtype_info di = {.struct_size = sizeof di};
      tg_dtype_get_info(e.dtype, &di);
      (void)di;
      tg_tensor_release(t);
    }
  }
  tg_safetensors_release(st);
}

static const char *const tokens[] = {"{", "}", "[", "]", ",", ":", " ", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"",
                                     "\"F32\"", "\"U8\"", "\"BF16\"", "\"a\"", "\"b\"", "\"\\u00e9\"", "\"\\ud800\"", "\"\\\"\"", "0", "1", "4",
                                     "-1", "24", "1e3", "2.5", "99999999999999999999", "true", "null", "\"", "\\", "\xc3\xa9", "\xff"};
#define NTOK (sizeof tokens / sizeof tokens[0])

/* A header that is valid more often than not: n random tensors, with now and then one thing wrong. */
static size_t random_header(char *h, size_t cap, size_t *data_len) {
  static const char *const dts[] = {"BOOL", "U8", "I16", "F16", "BF16", "F32", "I64", "F64", "F8_E4M3", "F99"};
  static const int isz[] = {1, 1, 2, 2, 2, 4, 8, 8, 1, 1};
  size_t o = 0, off = 0, nt = rndn(4);
  o += (size_t)snprintf(h + o, cap - o, "{");
  if (rnd() & 1) o += (size_t)snprintf(h + o, cap - o, "\"__metadata__\":{\"k\":\"v\",\"n\":[1,2.5,{}]}%s", nt ? "," : "");
  for (size_t i = 0; i < nt; i++) {
    size_t d = rndn(10), nd = rndn(3), numel = 1;
    int64_t dims[3];
    for (size_t k = 0; k < nd; k++) dims[k] = (int64_t)rndn(4) - (rndn(40) == 0), numel *= (size_t)(dims[k] < 0 ? 0 : dims[k]);
    size_t sz = numel * (size_t)isz[d] + (rndn(20) == 0), begin = off - (off && rndn(20) == 0 ? 1 : 0);
    o += (size_t)snprintf(h + o, cap - o, "%s\"t%zu\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", rndn(20) ? i : 0, dts[d]);
    for (size_t k = 0; k < nd; k++) o += (size_t)snprintf(h + o, cap - o, k ? ",%lld" : "%lld", (long long)dims[k]);
    o += (size_t)snprintf(h + o, cap - o, "],\"data_offsets\":[%zu,%zu]}", begin, begin + sz);
    off = begin + sz;
  }
  o += (size_t)snprintf(h + o, cap - o, "}");
  *data_len = off + rndn(3) - (off && rndn(20) == 0);
  return o;
}

static void test_fuzz(void) {
  const char *it = getenv("TGC_FUZZ_ITERS"), *sd = getenv("TGC_FUZZ_SEED");
  long iters = it ? atol(it) : 200000;
  if (sd) rng_state = strtoull(sd, NULL, 0) | 1;
  printf("fuzz: %ld iterations, seed 0x%llx\n", iters, (unsigned long long)rng_state);
  /* a valid file to mutate */
  static const char *valid_hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                                 "\"b\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[24,30]},\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[30,31]}}";
  size_t vn;
  unsigned char *valid = make_file(valid_hdr, strlen(valid_hdr), 31, &vn);
  fuzz_one(valid, vn);
  CHECK(fuzz_ok == 1);
  unsigned char *b = malloc(4096);
  char *h = malloc(4096);
  for (long r = 0; r < iters; r++) {
    size_t n = 0;
    switch (rnd() % 6) {
    case 0: /* random bytes, the length prefix sometimes plausible */
      n = rndn(64);
      for (size_t i = 0; i < n; i++) b[i] = (unsigned char)rnd();
      if (n >= 8 && (rnd() & 1)) memset(b + 1, 0, 7), b[0] = (unsigned char)rndn(n - 7);
      break;
    case 1: /* truncation */
      n = rndn(vn + 1), memcpy(b, valid, n);
      break;
    case 2: { /* byte flips and random bytes in the header */
      memcpy(b, valid, n = vn);
      for (size_t k = 1 + rndn(4); k--;) {
        size_t at = 8 + rndn(vn - 8 - 31);
        b[at] = rnd() & 1 ? (unsigned char)rnd() : (unsigned char)(b[at] ^ (1u << rndn(8)));
      }
      break;
    }
    case 3: /* the length prefix */
      memcpy(b, valid, n = vn);
      b[rndn(8)] = (unsigned char)rnd();
      if (rnd() & 1) b[0] = (unsigned char)(b[0] + (int)rndn(5) - 2), memset(b + 1, 0, 7);
      break;
    case 4: { /* random header JSON from tokens */
      size_t o = 0;
      for (size_t k = rndn(40); k-- && o < 3000;) {
        const char *t = tokens[rndn(NTOK)];
        memcpy(h + o, t, strlen(t)), o += strlen(t);
      }
      unsigned char *f = make_file(h, o, rndn(40), &n);
      memcpy(b, f, n), free(f);
      break;
    }
    default: { /* random tables */
      size_t dl, o = random_header(h, 4096 - 64, &dl);
      if (dl > 2048) dl = 2048;
      unsigned char *f = make_file(h, o, dl, &n);
      if (n > 4096) n = 4096;
      memcpy(b, f, n), free(f);
      break;
    }
    }
    fuzz_one(b, n);
  }
  printf("fuzz: %zu parsed, %zu refused\n", fuzz_ok, fuzz_bad);
  CHECK(fuzz_ok > 10 && fuzz_bad > 10); /* both sides were exercised */
  free(b), free(h), free(valid);
}

int main(void) {
  size_t live0 = 0, live1 = 0;
  tg_debug_live_handles(&live0);
  test_round_trip();
  test_bad_inputs();
  test_fuzz();
  tg_debug_live_handles(&live1);
  CHECK(live1 == live0);
  CHECK_DONE();
}

"""Hand-written kernels in the "c" dialect (the signature of tg_launch_params: one call per grid point), for the runtime
tier until the engine renders kernels itself. Each is (source, function name)."""

HEADER = "#include <stdint.h>\n"
SIG = "(void *const *bufs, const int64_t *vals, const uint32_t gid[3])"

# c[i] = a[i] + b[i] over gid[0] (float32)
VADD = (HEADER + f"void tgc_vadd{SIG} {{\n  (void)vals;\n  float *c = bufs[0];\n  const float *a = bufs[1], *b = bufs[2];\n"
        "  c[gid[0]] = a[gid[0]] + b[gid[0]];\n}\n", "tgc_vadd")

# c[i] = a[i] * vals[0] + vals[1] (int32): scalar values reach the kernel
AXPB = (HEADER + f"void tgc_axpb{SIG} {{\n  int32_t *c = bufs[0];\n  const int32_t *a = bufs[1];\n"
        "  c[gid[0]] = a[gid[0]] * (int32_t)vals[0] + (int32_t)vals[1];\n}\n", "tgc_axpb")

# counts[G + linear(gid)] += 1 atomically (uint32), where vals = (g0, g1, g2, G): every grid point exactly once, no stray
# point, no write into the G guard slots either side. A point outside the grid bumps bad[0] instead of writing.
COUNT = (HEADER + f"void tgc_count{SIG} {{\n  uint32_t *counts = bufs[0], *bad = bufs[1];\n"
         "  if (gid[0] >= (uint64_t)vals[0] || gid[1] >= (uint64_t)vals[1] || gid[2] >= (uint64_t)vals[2]) {\n"
         "    __atomic_fetch_add(&bad[0], 1u, __ATOMIC_RELAXED);\n    return;\n  }\n"
         "  uint64_t i = gid[0] + (uint64_t)vals[0] * (gid[1] + (uint64_t)vals[1] * gid[2]);\n"
         "  __atomic_fetch_add(&counts[vals[3] + i], 1u, __ATOMIC_RELAXED);\n}\n", "tgc_count")

# grids too large to keep one counter per point: acc = (count, sum of i, sum of i*i) mod 2^64, and bad points as above
SUMS = (HEADER + f"void tgc_sums{SIG} {{\n  uint64_t *acc = bufs[0];\n"
        "  if (gid[0] >= (uint64_t)vals[0] || gid[1] >= (uint64_t)vals[1] || gid[2] >= (uint64_t)vals[2]) {\n"
        "    __atomic_fetch_add(&acc[3], 1u, __ATOMIC_RELAXED);\n    return;\n  }\n"
        "  uint64_t i = gid[0] + (uint64_t)vals[0] * (gid[1] + (uint64_t)vals[1] * gid[2]);\n"
        "  __atomic_fetch_add(&acc[0], 1u, __ATOMIC_RELAXED);\n  __atomic_fetch_add(&acc[1], i, __ATOMIC_RELAXED);\n"
        "  __atomic_fetch_add(&acc[2], i * i, __ATOMIC_RELAXED);\n}\n", "tgc_sums")

# does not compile: the compiler's log must come back through set_error
BROKEN = (HEADER + f"void tgc_broken{SIG} {{ this is not C; }}\n", "tgc_broken")

def expected_sums(n: int) -> tuple[int, int, int]:
  m = 2**64
  return n % m, (n * (n - 1) // 2) % m, ((n - 1) * n * (2 * n - 1) // 6) % m

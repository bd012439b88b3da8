/* msl_shim.h -- just enough of the Metal Shading Language, as C++17, for the kernels tgc's "metal" renderer writes
** (tinygrad's MetalRenderer) to compile with clang++/g++ and run on the CPU (tests/test_msl.py). It stands in for
** <metal_stdlib>: address-space qualifiers vanish (one address space here), `kernel` is a plain function, vectors are
** structs with .xyzw, as_type<T> is a bit copy, the math functions are the C library's in float. It checks that the
** source is C++-shaped MSL and computes what it says; it does not check MSL's own rules (Apple's compiler does that).
** threadgroup_barrier is a no-op: only kernels without barriers are run (threads of a group run one after another). */
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

#define kernel
#define device
#define constant
#define threadgroup

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
#ifdef MSL_SHIM_HALF /* set by the test when the compiler has _Float16 in C++ (clang 15+, gcc 13+) */
typedef _Float16 half;
#endif
struct bfloat { /* MSL's bfloat (Apple6+): arithmetic in float, rounded to nearest even on the way back */
  uint16_t bits;
  bfloat() = default;
  explicit bfloat(float f) { uint32_t u; std::memcpy(&u, &f, 4); bits = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); }
  explicit operator float() const { uint32_t u = (uint32_t)bits << 16; float f; std::memcpy(&f, &u, 4); return f; }
};
#define MSL_BF_OP(op) inline bfloat operator op(bfloat a, bfloat b) { return bfloat((float)a op (float)b); }
#define MSL_BF_CMP(op) inline bool operator op(bfloat a, bfloat b) { return (float)a op (float)b; }
MSL_BF_OP(+) MSL_BF_OP(-) MSL_BF_OP(*) MSL_BF_OP(/) MSL_BF_CMP(<) MSL_BF_CMP(==) MSL_BF_CMP(!=)
inline bfloat operator-(bfloat a) { return bfloat(-(float)a); }

template <class T, int N> struct msl_vec;
template <class T> struct alignas(2 * sizeof(T)) msl_vec<T, 2> {
  T x, y;
  msl_vec() = default;
  template <class A, class B> constexpr msl_vec(A a, B b) : x(T(a)), y(T(b)) {}
  explicit constexpr msl_vec(T s) : x(s), y(s) {}
  T &operator[](int i) { return (&x)[i]; }
};
template <class T> struct alignas(4 * sizeof(T)) msl_vec<T, 3> { /* uint3: 16 bytes in MSL */
  T x, y, z;
  msl_vec() = default;
  template <class A, class B, class C> constexpr msl_vec(A a, B b, C c) : x(T(a)), y(T(b)), z(T(c)) {}
  T &operator[](int i) { return (&x)[i]; }
};
template <class T> struct alignas(4 * sizeof(T)) msl_vec<T, 4> {
  T x, y, z, w;
  msl_vec() = default;
  template <class A, class B, class C, class D> constexpr msl_vec(A a, B b, C c, D d) : x(T(a)), y(T(b)), z(T(c)), w(T(d)) {}
  explicit constexpr msl_vec(T s) : x(s), y(s), z(s), w(s) {}
  T &operator[](int i) { return (&x)[i]; }
};
#define MSL_VECS(T) typedef msl_vec<T, 2> T##2; typedef msl_vec<T, 3> T##3; typedef msl_vec<T, 4> T##4;
MSL_VECS(float) MSL_VECS(int) MSL_VECS(uint) MSL_VECS(short) MSL_VECS(ushort) MSL_VECS(char) MSL_VECS(uchar) MSL_VECS(long) MSL_VECS(ulong)
MSL_VECS(bool)
#ifdef MSL_SHIM_HALF
MSL_VECS(half)
#endif

template <class To, class From> inline To as_type(From v) {
  static_assert(sizeof(To) == sizeof(From), "as_type: sizes differ");
  To t;
  std::memcpy(&t, &v, sizeof(t));
  return t;
}

enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2 };
inline void threadgroup_barrier(mem_flags) {}

namespace metal {
inline float sqrt(float x) { return ::sqrtf(x); }
inline float exp2(float x) { return ::exp2f(x); }
inline float log2(float x) { return ::log2f(x); }
inline float trunc(float x) { return ::truncf(x); }
inline float sin(float x) { return ::sinf(x); }
#ifdef MSL_SHIM_HALF
inline half sqrt(half x) { return (half)::sqrtf((float)x); }
inline half exp2(half x) { return (half)::exp2f((float)x); }
inline half log2(half x) { return (half)::log2f((float)x); }
inline half trunc(half x) { return (half)::truncf((float)x); }
inline half sin(half x) { return (half)::sinf((float)x); }
#endif
namespace precise {
inline float sin(float x) { return ::sinf(x); }
#ifdef MSL_SHIM_HALF
inline half sin(half x) { return (half)::sinf((float)x); }
#endif
}  // namespace precise
}  // namespace metal

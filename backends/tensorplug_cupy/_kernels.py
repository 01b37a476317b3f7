"""CUDA C sources of the CuPy backend's convolution and pooling kernels.

No imports: the source is plain text, so a test can compile the very same
kernels with the host C++ compiler (one "thread", the grid-stride loop runs
every index) and check them against the NumPy backend on a machine with no GPU.

Every kernel is ``extern "C"``, takes ``T`` (a typedef the caller prepends:
float or double), 64-bit sizes, and walks its range with a grid-stride loop.
Layouts: images are contiguous (N, C, H, W); window columns are addressed by
six element strides (n, c, kh, kw, oh, ow), so one kernel writes the forward
layout (N, C*KH*KW, OH*OW) and the weight-gradient layout (C*KH*KW, N*OH*OW).
"""
from __future__ import annotations

__all__ = ["SOURCE", "KERNELS"]

_LOOP = ("for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;\n"
         "     i += (long long)blockDim.x * gridDim.x)")

SOURCE = r"""
extern "C" __global__ void tp_im2col(
    const T* x, T* out, long long total,
    long long C, long long H, long long W, long long KH, long long KW, long long OH, long long OW,
    long long sh, long long sw, long long ph, long long pw, long long dh, long long dw,
    long long sn, long long sc, long long skh, long long skw, long long soh, long long sow) {
  LOOP {
    long long ow = i % OW;
    long long r = i / OW;
    long long oh = r % OH; r /= OH;
    long long kw = r % KW; r /= KW;
    long long kh = r % KH; r /= KH;
    long long c = r % C;
    long long n = r / C;
    long long h = oh * sh - ph + kh * dh;
    long long w = ow * sw - pw + kw * dw;
    T v = (T)0;
    if (h >= 0 && h < H && w >= 0 && w < W) v = x[((n * C + c) * H + h) * W + w];
    out[n * sn + c * sc + kh * skh + kw * skw + oh * soh + ow * sow] = v;
  }
}

extern "C" __global__ void tp_col2im(
    const T* cols, T* out, long long total,
    long long C, long long H, long long W, long long KH, long long KW, long long OH, long long OW,
    long long sh, long long sw, long long ph, long long pw, long long dh, long long dw,
    long long sn, long long sc, long long skh, long long skw, long long soh, long long sow) {
  LOOP {
    long long w = i % W;
    long long r = i / W;
    long long h = r % H; r /= H;
    long long c = r % C;
    long long n = r / C;
    const T* base = cols + n * sn + c * sc;
    T acc = (T)0;
    for (long long kh = 0; kh < KH; ++kh) {
      long long th = h + ph - kh * dh;
      if (th < 0 || th % sh != 0) continue;
      long long oh = th / sh;
      if (oh >= OH) continue;
      for (long long kw = 0; kw < KW; ++kw) {
        long long tw = w + pw - kw * dw;
        if (tw < 0 || tw % sw != 0) continue;
        long long ow = tw / sw;
        if (ow >= OW) continue;
        acc += base[kh * skh + kw * skw + oh * soh + ow * sow];
      }
    }
    out[i] = acc;
  }
}

// (A, B, L) -> (B, A, L): out[b, a, l] = y[a, b, l] (+ bias[a] when has_bias). Turns the (O, N*L)
// result of one 2-D GEMM into (N, O, L) -- and the (N, O, L) output gradient into (O, N*L) --
// adding the convolution's bias on the way.
extern "C" __global__ void tp_swap01(
    const T* y, const T* bias, T* out, long long total, long long A, long long B, long long L,
    long long has_bias) {
  LOOP {
    long long l = i % L;
    long long r = i / L;
    long long a = r % A;
    long long b = r / A;
    T v = y[(a * B + b) * L + l];
    if (has_bias) v += bias[a];
    out[i] = v;
  }
}

extern "C" __global__ void tp_max_pool(
    const T* x, T* val, long long* idx, long long total,
    long long H, long long W, long long KH, long long KW, long long OH, long long OW,
    long long sh, long long sw, long long ph, long long pw, long long dh, long long dw) {
  LOOP {
    long long ow = i % OW;
    long long r = i / OW;
    long long oh = r % OH;
    long long plane = r / OH;
    const T* xp = x + plane * H * W;
    T best = (T)0;
    long long arg = -1;
    for (long long kh = 0; kh < KH; ++kh) {
      long long h = oh * sh - ph + kh * dh;
      if (h < 0 || h >= H) continue;
      for (long long kw = 0; kw < KW; ++kw) {
        long long w = ow * sw - pw + kw * dw;
        if (w < 0 || w >= W) continue;
        T v = xp[h * W + w];
        /* the first maximum wins ties; a NaN wins over numbers (the last NaN), like torch */
        if (arg < 0 || v > best || v != v) { best = v; arg = h * W + w; }
      }
    }
    val[i] = best;
    idx[i] = arg;
  }
}

extern "C" __global__ void tp_max_unpool(
    const T* val, const long long* idx, T* out, long long total, long long L, long long P) {
  LOOP {
    long long j = idx[i];
    if (j >= 0 && j < P) atomicAdd(out + (i / L) * P + j, val[i]);
  }
}
""".replace("LOOP", _LOOP)

#: kernel name -> how many leading array arguments it takes
KERNELS = {"tp_im2col": 2, "tp_col2im": 2, "tp_swap01": 3, "tp_max_pool": 3, "tp_max_unpool": 3}

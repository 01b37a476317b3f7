"""CUDA C sources of the CuPy backend's fused optimizer updates, cross-entropy and LSTM step.

Like ``_kernels.py``: plain text with no imports, ``extern "C"`` kernels over a
``T`` the caller typedefs (float or double), 64-bit sizes, grid-stride loops,
so a test compiles the same source with the host C++ compiler (one "thread").
Arguments come in the order arrays, then ``long long`` sizes and flags, then
``T`` scalars. Every array is contiguous and, for the updates, of one shape:
one thread per element reads each operand once and writes each result once --
the one memory pass that replaces a handful of elementwise launches.

The update formulas are those of ``framework/optim`` (torch's), in the same
order of operations; ``sign`` is -1 for ``maximize``.
"""
from __future__ import annotations

__all__ = ["SOURCE", "KERNELS"]

_LOOP = ("for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;\n"
         "     i += (long long)blockDim.x * gridDim.x)")

SOURCE = r"""
extern "C" __global__ void tp_axpy(T* y, const T* x, long long total, T alpha) {
  LOOP { y[i] += alpha * x[i]; }
}

// SGD: d = sign*g + wd*p; with momentum buf = momentum*buf + (1-dampening)*d (buf = d on the first
// step), d = nesterov ? d + momentum*buf : buf; p -= lr*d
extern "C" __global__ void tp_sgd(
    T* p, const T* g, T* buf, long long total, long long has_buf, long long first, long long nesterov,
    T sign, T lr, T wd, T momentum, T dampening) {
  LOOP {
    T d = sign * g[i];
    if (wd != (T)0) d += wd * p[i];
    if (has_buf) {
      T b = first ? d : momentum * buf[i] + ((T)1 - dampening) * d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] -= lr * d;
  }
}

// Adam / AdamW: p *= decay (decoupled weight decay); d = sign*g + wd*p (L2);
// m = lerp(m, d, 1-beta1); v = beta2*v + (1-beta2)*d*d; vmax = max(vmax, v) with amsgrad;
// p -= step_size * m / (sqrt(v) + eps_hat), the bias corrections folded into step_size and eps_hat
extern "C" __global__ void tp_adam(
    T* p, const T* g, T* m, T* v, T* vmax, long long total, long long amsgrad,
    T sign, T wd, T decay, T beta1, T beta2, T step_size, T eps_hat) {
  LOOP {
    T pi = p[i] * decay;
    T d = sign * g[i];
    if (wd != (T)0) d += wd * pi;
    T mi = beta1 * (m[i] - d) + d;
    T vi = beta2 * v[i] + ((T)1 - beta2) * (d * d);
    m[i] = mi;
    v[i] = vi;
    if (amsgrad) {
      T vm = vmax[i];
      vi = (vi != vi || vi > vm) ? vi : vm;  // torch's maximum: NaN wins
      vmax[i] = vi;
    }
    p[i] = pi - step_size * mi / (sqrt(vi) + eps_hat);
  }
}

// RMSprop: d = sign*g + wd*p; sq = alpha*sq + (1-alpha)*d*d; centered: ga = lerp(ga, d, 1-alpha),
// avg = sqrt(sq - ga*ga) + eps, else sqrt(sq) + eps; momentum: buf = momentum*buf + d/avg, p -= lr*buf;
// else p -= lr * d/avg
extern "C" __global__ void tp_rmsprop(
    T* p, const T* g, T* sq, T* buf, T* ga, long long total, long long has_buf, long long centered,
    T sign, T lr, T alpha, T eps, T wd, T momentum) {
  LOOP {
    T d = sign * g[i];
    if (wd != (T)0) d += wd * p[i];
    T s = alpha * sq[i] + ((T)1 - alpha) * (d * d);
    sq[i] = s;
    T avg;
    if (centered) {
      T a = alpha * (ga[i] - d) + d;
      ga[i] = a;
      avg = sqrt(s - a * a) + eps;
    } else {
      avg = sqrt(s) + eps;
    }
    if (has_buf) {
      T b = momentum * buf[i] + d / avg;
      buf[i] = b;
      p[i] -= lr * b;
    } else {
      p[i] -= lr * (d / avg);
    }
  }
}

// Cross-entropy, one thread per row of (rows, C) logits: logp = x - max - log(sum(exp(x - max))),
// loss = -logp[target], valid = 1; a row whose target is ignore_index has loss 0 and valid 0; a
// target outside [0, C) sets valid = -1 (reported by tp_ce_reduce) and loss 0.
extern "C" __global__ void tp_ce_forward(
    const T* x, const long long* target, T* logp, T* loss, T* valid,
    long long total, long long C, long long ignore_index) {
  LOOP {
    const T* row = x + i * C;
    T* out = logp + i * C;
    T mx = row[0];
    for (long long j = 1; j < C; ++j) mx = (row[j] > mx || row[j] != row[j]) ? row[j] : mx;
    T s = (T)0;
    for (long long j = 0; j < C; ++j) s += exp(row[j] - mx);
    T lse = mx + log(s);
    for (long long j = 0; j < C; ++j) out[j] = row[j] - lse;
    long long t = target[i];
    if (t == ignore_index) {
      loss[i] = (T)0;
      valid[i] = (T)0;
    } else if (t < 0 || t >= C) {
      loss[i] = (T)0;
      valid[i] = (T)-1;
    } else {
      loss[i] = -out[t];
      valid[i] = (T)1;
    }
  }
}

// One block: out[0] = sum(loss) / count (mean) or sum(loss), out[1] = count of valid rows (1 where
// there are none: torch's gradient is 0 then and its mean nan), out[2] = first row with a bad
// target, or -1. Sums in double, in a fixed order (deterministic).
extern "C" __global__ void tp_ce_reduce(
    const T* loss, const T* valid, T* out, long long total, long long mean) {
  __shared__ double s_loss[256];
  __shared__ double s_count[256];
  __shared__ long long s_bad[256];
  double acc = 0.0, cnt = 0.0;
  long long bad = -1;
  for (long long i = threadIdx.x; i < total; i += blockDim.x) {
    acc += (double)loss[i];
    if (valid[i] > (T)0) cnt += 1.0;
    if (valid[i] < (T)0 && bad < 0) bad = i;
  }
  s_loss[threadIdx.x] = acc;
  s_count[threadIdx.x] = cnt;
  s_bad[threadIdx.x] = bad;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (long long k = 1; k < blockDim.x; ++k) {
      acc += s_loss[k];
      cnt += s_count[k];
      if (s_bad[k] >= 0 && (bad < 0 || s_bad[k] < bad)) bad = s_bad[k];
    }
    out[0] = mean ? (T)(acc / cnt) : (T)acc;
    out[1] = cnt > 0.0 ? (T)cnt : (T)1;
    out[2] = (T)bad;
  }
}

// grad = (exp(logp) - onehot(target)) * g[row * g_stride] / den[0] (den only if has_den),
// 0 on ignored rows
extern "C" __global__ void tp_ce_backward(
    const T* logp, const long long* target, const T* g, const T* den, T* grad,
    long long total, long long C, long long ignore_index, long long g_stride, long long has_den) {
  LOOP {
    long long r = i / C;
    long long t = target[r];
    T scale = (t == ignore_index) ? (T)0 : g[r * g_stride];
    if (has_den) scale /= den[0];
    grad[i] = (exp(logp[i]) - ((i - r * C) == t ? (T)1 : (T)0)) * scale;
  }
}

// One LSTM step (tensorplug.Backend.fused_lstm_cell), one thread per element of the (rows, H) state:
// gates (rows, 4H) hold the recurrent products of the gates g, i, f, o; with projected added they are
// activated in place (tanh for g, sigmoid for the others); c = f * c_prev + i * g, tanh_c = tanh(c),
// h = o * tanh_c. Ten elementwise launches a step become one.
extern "C" __global__ void tp_lstm_cell(
    T* gates, const T* projected, const T* c_prev, T* c, T* tanh_c, T* h, long long total, long long H) {
  LOOP {
    long long r = i / H, j = i - r * H;
    T* z = gates + r * 4 * H + j;
    const T* p = projected + r * 4 * H + j;
    T g = tanh(z[0] + p[0]);
    T ig = (T)1 / ((T)1 + exp(-(z[H] + p[H])));
    T fg = (T)1 / ((T)1 + exp(-(z[2 * H] + p[2 * H])));
    T og = (T)1 / ((T)1 + exp(-(z[3 * H] + p[3 * H])));
    z[0] = g;
    z[H] = ig;
    z[2 * H] = fg;
    z[3 * H] = og;
    T state = fg * c_prev[i] + ig * g;
    T t = tanh(state);
    c[i] = state;
    tanh_c[i] = t;
    h[i] = og * t;
  }
}

// The step's backward (tensorplug.Backend.fused_lstm_cell_backward), one thread per state element:
// dcell = dh * o * (1 - tanh_c^2) + dc; dz = (dcell * i * (1 - g^2), dcell * g * i * (1 - i),
// dcell * c_prev * f * (1 - f), dh * tanh_c * o * (1 - o)); dc = dcell * f.
extern "C" __global__ void tp_lstm_cell_backward(
    const T* gates, const T* c_prev, const T* tanh_c, const T* dh, T* dc, T* dz, long long total, long long H) {
  LOOP {
    long long r = i / H, j = i - r * H;
    const T* z = gates + r * 4 * H + j;
    T* d = dz + r * 4 * H + j;
    T g = z[0], ig = z[H], fg = z[2 * H], og = z[3 * H], t = tanh_c[i];
    T cell = dh[i] * (og * ((T)1 - t * t)) + dc[i];
    d[0] = cell * (ig * ((T)1 - g * g));
    d[H] = cell * (g * (ig * ((T)1 - ig)));
    d[2 * H] = cell * (c_prev[i] * (fg * ((T)1 - fg)));
    d[3 * H] = dh[i] * (t * (og * ((T)1 - og)));
    dc[i] = cell * fg;
  }
}
""".replace("LOOP", _LOOP)

#: kernel name -> number of array arguments (the launcher checks it)
KERNELS = {"tp_axpy": 2, "tp_sgd": 3, "tp_adam": 5, "tp_rmsprop": 5, "tp_ce_forward": 5, "tp_ce_reduce": 3,
           "tp_ce_backward": 5, "tp_lstm_cell": 6,
           "tp_lstm_cell_backward": 6}

"""Compile the CuPy backend's CUDA C kernel sources with the host C++ compiler (shared by the tests).

One "thread" (blockIdx = threadIdx = 0, blockDim = gridDim = 1) runs each grid-stride loop over every
index, and a one-block reduction with its single thread; atomics become plain adds.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess

import pytest

PRELUDE = """
#include <cmath>
using std::exp; using std::log; using std::sqrt; using std::tanh;
struct tp_dim3 { long long x; };
static tp_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
#define __global__
#define __shared__ static
#define __syncthreads()
template <typename U> static void atomicAdd(U* p, U v) { *p += v; }
"""


def compile_for_host(source, tmp_path_factory):
    """``{dtype name: ctypes library}`` of ``source`` with ``T`` = float and double (skips without g++)."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no host C++ compiler")
    libs = {}
    for dtype, ctype in (("float32", "float"), ("float64", "double")):
        d = tmp_path_factory.mktemp(dtype)
        (d / "k.cpp").write_text(PRELUDE + f"typedef {ctype} T;\n" + source)
        r = subprocess.run([cxx, "-O1", "-shared", "-fPIC", "-o", str(d / "k.so"), str(d / "k.cpp")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        libs[dtype] = ctypes.CDLL(str(d / "k.so"))
    return libs

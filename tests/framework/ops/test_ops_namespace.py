"""tensorplug.ops exports functions only: its submodules are no part of the public API."""
from __future__ import annotations

import types

import tensorplug as tp
import tensorplug.ops as ops


def test_all_lists_no_modules():
    leaked = [name for name in ops.__all__ if isinstance(getattr(ops, name), types.ModuleType)]
    assert leaked == []
    assert {"fmod", "unique", "meshgrid", "sum"} <= set(ops.__all__)


def test_star_import_brings_functions_only():
    namespace = {}
    exec("from tensorplug.ops import *", namespace)
    assert "counting" not in namespace and "misc" not in namespace and "fmod_note" not in namespace


def test_fmod_is_documented_and_keeps_the_dividend_sign():
    assert "dividend" in tp.fmod.__doc__
    assert tp.fmod(tp.tensor([-3.0, 3.0]), 2).tolist() == [-1.0, 1.0]
    assert tp.remainder(tp.tensor([-3.0, 3.0]), 2).tolist() == [1.0, 1.0]

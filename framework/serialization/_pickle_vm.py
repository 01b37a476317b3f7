"""A small pickle reader that builds containers and calls nothing it was not given.

It runs the opcodes that torch's weights-only loader runs (protocol 2, plus
the protocol 4 and 5 ones Python writes for plain data). Every name a pickle
asks for (GLOBAL) goes through ``find(module, name)``, which returns a value
the caller made (a function it wrote, a class the user allow-listed) or
raises; REDUCE, NEWOBJ and BUILD act only on what ``find`` returned. Nothing
is imported, nothing from the file is called. Persistent ids (torch's
storages) go to ``persistent_load``. Malformed input raises ``PickleFormatError``.
"""
from __future__ import annotations

import collections
import struct

__all__ = ["PickleReader", "PickleFormatError"]

_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
MAX_LONG_BYTES = 1024


class PickleFormatError(ValueError):
    """The pickle is malformed or uses an opcode this reader does not run."""


class PickleReader:
    """``PickleReader(data, find, persistent_load, build).load()`` -> the pickled object.

    ``find(module, name)`` returns a callable/class for GLOBAL; ``build(inst, state)``
    applies BUILD (and may refuse); calls go through ``call(func, args)`` and
    ``new(cls, args)``, which the caller also provides.
    """

    def __init__(self, data, *, find, persistent_load, call, new, build):
        self.data = memoryview(data)
        self.pos = 0
        self.find = find
        self.persistent_load = persistent_load
        self.call = call
        self.new = new
        self.build = build
        self.stack = []
        self.marks = []
        self.memo = {}

    # reading ---------------------------------------------------------------------
    def read(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise PickleFormatError(f"the pickle ends early (wanted {n} bytes at offset {self.pos})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def readline(self):
        end = bytes(self.data[self.pos:self.pos + 512]).find(b"\n")
        if end < 0:
            raise PickleFormatError("a GLOBAL name is not terminated within 512 bytes")
        return bytes(self.read(end + 1))[:-1].decode("utf-8")

    def text(self, n):
        return bytes(self.read(n)).decode("utf-8")

    def pop_mark(self):
        if not self.marks:
            raise PickleFormatError("an opcode needs a MARK that is not there")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def top(self, kind):
        value = self.stack[-1]
        if type(value) is not kind:
            raise PickleFormatError(f"expected a {kind.__name__} on the stack, got a {type(value).__name__}")
        return value

    # running ---------------------------------------------------------------------
    def load(self):
        ops = _OPS
        try:
            while True:
                code = self.read(1)[0]
                op = ops.get(code)
                if op is None:
                    raise PickleFormatError(f"unsupported pickle opcode {bytes([code])!r} at offset {self.pos - 1}")
                if op is _stop:
                    if len(self.stack) != 1 or self.marks:
                        raise PickleFormatError("the pickle stops with an unbalanced stack")
                    return self.stack[0]
                op(self)
        except IndexError:
            raise PickleFormatError(f"the pickle pops an empty stack at offset {self.pos - 1}") from None
        except UnicodeDecodeError as exc:
            raise PickleFormatError(f"a string in the pickle is not UTF-8 ({exc})") from None


def _stop(r):
    pass  # handled by load()


def _global(r):
    module = r.readline()
    name = r.readline()
    r.stack.append(r.find(_PY2_NAMES.get(module, module), name))


def _stack_global(r):
    name = r.stack.pop()
    module = r.stack.pop()
    if type(module) is not str or type(name) is not str:
        raise PickleFormatError("STACK_GLOBAL needs two strings")
    r.stack.append(r.find(module, name))


def _reduce(r):
    args = r.stack.pop()
    if type(args) is not tuple:
        raise PickleFormatError("REDUCE needs a tuple of arguments")
    r.stack[-1] = r.call(r.stack[-1], args)


def _newobj(r):
    args = r.stack.pop()
    if type(args) is not tuple:
        raise PickleFormatError("NEWOBJ needs a tuple of arguments")
    r.stack[-1] = r.new(r.stack[-1], args)


def _build(r):
    state = r.stack.pop()
    r.build(r.stack[-1], state)


def _setitems(r):
    items = r.pop_mark()
    if len(items) % 2:
        raise PickleFormatError("SETITEMS needs key/value pairs")
    target = r.stack[-1]
    if type(target) not in (dict, collections.OrderedDict, collections.Counter):
        raise PickleFormatError(f"SETITEMS on a {type(target).__name__}")
    for i in range(0, len(items), 2):
        _set(target, items[i], items[i + 1])


def _setitem(r):
    value = r.stack.pop()
    key = r.stack.pop()
    target = r.stack[-1]
    if type(target) not in (dict, collections.OrderedDict, collections.Counter):
        raise PickleFormatError(f"SETITEM on a {type(target).__name__}")
    _set(target, key, value)


def _set(target, key, value):
    try:
        target[key] = value
    except TypeError:
        raise PickleFormatError(f"a dict key of type {type(key).__name__} is not hashable") from None


def _additems(r):
    items = r.pop_mark()
    target = r.top(set)
    try:
        target.update(items)
    except TypeError:
        raise PickleFormatError("a set element is not hashable") from None


def _put(r, index):
    r.memo[index] = r.stack[-1]


def _get(r, index):
    if index not in r.memo:
        raise PickleFormatError(f"the pickle reads memo entry {index}, which it never wrote")
    r.stack.append(r.memo[index])


def _long(r, n):
    if n > MAX_LONG_BYTES:
        raise PickleFormatError(f"an integer of {n} bytes")
    r.stack.append(int.from_bytes(r.read(n), "little", signed=True))


def _tuple(r, n):
    items = r.stack[len(r.stack) - n:] if n else []
    if len(items) != n:
        raise PickleFormatError(f"TUPLE{n} on a stack of {len(r.stack)}")
    del r.stack[len(r.stack) - n:]
    r.stack.append(tuple(items))


def _tuple_mark(r):
    items = tuple(r.pop_mark())     # before touching r.stack: pop_mark swaps it
    r.stack.append(items)


def _binpersid(r):
    r.stack.append(r.persistent_load(r.stack.pop()))


def _mark(r):
    r.marks.append(r.stack)
    r.stack = []


def _append(r):
    value = r.stack.pop()
    r.top(list).append(value)


def _appends(r):
    items = r.pop_mark()
    r.top(list).extend(items)


def _bytes(r, n):
    r.stack.append(bytes(r.read(n)))


_OPS = {
    b"\x80"[0]: lambda r: r.read(1),                                  # PROTO
    b"\x95"[0]: lambda r: r.read(8),                                  # FRAME (protocol 4)
    b"."[0]: _stop,
    b"c"[0]: _global,
    b"\x93"[0]: _stack_global,
    b"R"[0]: _reduce,
    b"\x81"[0]: _newobj,
    b"b"[0]: _build,
    b"a"[0]: _append,
    b"e"[0]: _appends,
    b"s"[0]: _setitem,
    b"u"[0]: _setitems,
    b"\x90"[0]: _additems,
    b"("[0]: _mark,
    b"t"[0]: _tuple_mark,
    b")"[0]: lambda r: r.stack.append(()),
    b"\x85"[0]: lambda r: _tuple(r, 1),
    b"\x86"[0]: lambda r: _tuple(r, 2),
    b"\x87"[0]: lambda r: _tuple(r, 3),
    b"N"[0]: lambda r: r.stack.append(None),
    b"\x88"[0]: lambda r: r.stack.append(True),
    b"\x89"[0]: lambda r: r.stack.append(False),
    b"]"[0]: lambda r: r.stack.append([]),
    b"}"[0]: lambda r: r.stack.append({}),
    b"\x8f"[0]: lambda r: r.stack.append(set()),
    b"J"[0]: lambda r: r.stack.append(r.unpack("<i")),               # BININT
    b"K"[0]: lambda r: r.stack.append(r.read(1)[0]),                 # BININT1
    b"M"[0]: lambda r: r.stack.append(r.unpack("<H")),               # BININT2
    b"\x8a"[0]: lambda r: _long(r, r.read(1)[0]),                    # LONG1
    b"G"[0]: lambda r: r.stack.append(r.unpack(">d")),               # BINFLOAT
    b"X"[0]: lambda r: r.stack.append(r.text(r.unpack("<I"))),       # BINUNICODE
    b"\x8c"[0]: lambda r: r.stack.append(r.text(r.read(1)[0])),      # SHORT_BINUNICODE
    b"U"[0]: lambda r: r.stack.append(bytes(r.read(r.read(1)[0])).decode("latin-1")),  # SHORT_BINSTRING
    b"C"[0]: lambda r: _bytes(r, r.read(1)[0]),                      # SHORT_BINBYTES
    b"B"[0]: lambda r: _bytes(r, r.unpack("<I")),                    # BINBYTES
    b"\x8e"[0]: lambda r: _bytes(r, r.unpack("<Q")),                 # BINBYTES8 (protocol 4)
    b"\x8d"[0]: lambda r: r.stack.append(r.text(r.unpack("<Q"))),    # BINUNICODE8 (protocol 4)
    b"\x96"[0]: lambda r: r.stack.append(bytearray(r.read(r.unpack("<Q")))),  # BYTEARRAY8 (protocol 5)
    b"Q"[0]: _binpersid,
    b"q"[0]: lambda r: _put(r, r.read(1)[0]),                        # BINPUT
    b"r"[0]: lambda r: _put(r, r.unpack("<I")),                      # LONG_BINPUT
    b"\x94"[0]: lambda r: _put(r, len(r.memo)),                      # MEMOIZE
    b"h"[0]: lambda r: _get(r, r.read(1)[0]),                        # BINGET
    b"j"[0]: lambda r: _get(r, r.unpack("<I")),                      # LONG_BINGET
    b"0"[0]: lambda r: r.stack.pop(),                                # POP
    b"1"[0]: lambda r: r.pop_mark(),                                 # POP_MARK
    b"2"[0]: lambda r: r.stack.append(r.stack[-1]),                  # DUP
}

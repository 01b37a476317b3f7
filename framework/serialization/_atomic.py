"""Atomic file writes: readers see the old file or the complete new one, never a half-written one.

The new bytes go to a hidden temporary file beside the target, which is
flushed, fsynced and renamed over the target with ``os.replace``. A temporary
file left by a killed writer is removed by the next save of the same target;
a writer holds an exclusive ``flock`` on its temporary file while it writes,
which the kernel drops when the writer dies, so a live writer's file is never
taken for a stale one.
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no stale-file cleanup
    fcntl = None

__all__ = ["atomic_write", "temp_prefix"]

_TOKEN_HEX = 12          # random part of a temporary name
_SUFFIX = ".tmp"
_FALLBACK_NAME_MAX = 255


def _name_max(folder):
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return _FALLBACK_NAME_MAX


def temp_prefix(base, name_max=_FALLBACK_NAME_MAX):
    """The hidden prefix every temporary file of target ``base`` starts with, short enough that
    ``prefix + "." + token + ".tmp"`` fits in ``name_max`` bytes; a long name is cut and a hash of
    the whole name keeps two long targets with the same start apart."""
    room = name_max - len(".") - _TOKEN_HEX - len(_SUFFIX)
    prefix = "." + base
    if len(os.fsencode(prefix)) <= room:
        return prefix
    tag = "~" + hashlib.sha256(os.fsencode(base)).hexdigest()[:16]
    cut = base
    while cut and len(os.fsencode("." + cut + tag)) > room:
        cut = cut[:-1]
    return "." + cut + tag


def _is_temp_of(name, prefix):
    rest = name[len(prefix) + 1:-len(_SUFFIX)]
    return (name.startswith(prefix + ".") and name.endswith(_SUFFIX) and len(rest) == _TOKEN_HEX
            and all(c in "0123456789abcdef" for c in rest))


def _remove_stale(folder, prefix):
    """Delete temporary files of this target whose writer is gone (nobody holds their lock)."""
    if fcntl is None:
        return
    try:
        names = [n for n in os.listdir(folder) if _is_temp_of(n, prefix)]
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)      # a live writer holds it
            continue
        try:
            os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _create_locked(folder, prefix):
    """A new temporary file, created and locked; returns (path, fd). A cleaner in another process
    may delete the file between its creation and the lock: then the name no longer leads to our
    file, and a fresh one is made."""
    while True:
        tmp = os.path.join(folder, f"{prefix}.{secrets.token_hex(_TOKEN_HEX // 2)}{_SUFFIX}")
        # 0o666 lets the umask apply, like open(path, "wb") would
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        if fcntl is None:
            return tmp, fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _fsync_dir(folder):
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _resolve(path):
    # torch.save opens the path, so a symlink's target is written and the link stays a link
    if os.path.islink(path):
        return os.path.realpath(path)
    return path


def _naming_target(exc, path):
    """``exc`` (an OSError about the temporary file, or with no file at all) as an OSError that
    names the checkpoint the user asked for."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason += "; free some space or save elsewhere"
    reason += " (while saving; the previous file, if any, is unchanged)"
    if exc.errno is None:
        return OSError(f"{path!r}: {reason}")
    return OSError(exc.errno, reason, path)


def atomic_write(path, write):
    """Write a file at ``path`` so that readers see the old file or the complete new one.

    ``write(f)`` fills a temporary file in the same folder; it is flushed and
    fsynced, renamed over ``path`` with ``os.replace`` and the folder is fsynced.
    The temporary file is removed on any failure, and ones left by killed
    writers of the same target are removed first. The new file gets the mode a
    freshly created file would get (the umask applies), or the old file's mode.
    An OSError always names ``path``.
    """
    path = os.fspath(path)
    target = _resolve(path)
    folder = os.path.dirname(os.path.abspath(target))
    prefix = temp_prefix(os.path.basename(target), _name_max(folder))
    try:
        mode = os.stat(target).st_mode & 0o7777
    except OSError:
        mode = None
    tmp = None
    try:
        _remove_stale(folder, prefix)
        tmp, fd = _create_locked(folder, prefix)
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                # rename while the lock is held, so a cleaner never takes a finished file for stale
                os.replace(tmp, target)
                tmp = None
        if tmp is not None:
            os.replace(tmp, target)
            tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        if getattr(exc, "filename", None) == path:
            raise
        raise _naming_target(exc, path) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass

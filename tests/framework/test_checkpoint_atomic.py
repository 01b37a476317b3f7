"""Checkpoint writes: atomic under failure and SIGKILL, temporary files named and cleaned, errors naming the target."""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

import tensorplug
from tensorplug.serialization import _atomic, _native

fcntl = pytest.importorskip("fcntl")


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_mode_follows_umask_and_no_temp_left(tmp_path):
    old = os.umask(0o027)
    try:
        tensorplug.save({"a": 1}, tmp_path / "u.tp")
    finally:
        os.umask(old)
    assert (tmp_path / "u.tp").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["u.tp"]


def _failing_write(monkeypatch, exc):
    real = _native.write_file

    def write_then_fail(f, *args):
        f.write(b"partial bytes")
        raise exc
    monkeypatch.setattr(_native, "write_file", write_then_fail)
    return real


def test_disk_full_names_the_target_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.tp"
    tensorplug.save({"v": 1, "t": tensorplug.ones(3)}, path)
    before = path.read_bytes()
    _failing_write(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space left on device") as info:
        tensorplug.save({"v": 2, "t": tensorplug.zeros(3)}, path)
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(path)          # the checkpoint, never the temporary file
    assert ".tmp" not in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tp"]


def test_error_without_errno_names_the_target(tmp_path, monkeypatch):
    path = tmp_path / "plain.tp"
    _failing_write(monkeypatch, OSError("device went away (simulated)"))
    with pytest.raises(OSError, match="plain.tp") as info:
        tensorplug.save({"v": 1}, path)
    assert ".tmp" not in str(info.value)
    assert not any(tmp_path.iterdir())


def test_missing_folder_names_the_target(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "ckpt.tp"
    with pytest.raises(FileNotFoundError) as info:
        tensorplug.save({"v": 1}, path)
    assert info.value.filename == str(path)
    assert ".tmp" not in str(info.value)


def test_long_file_name_saves(tmp_path):
    # issue 12 item 11: the temporary name of a 240-character target passed NAME_MAX
    path = tmp_path / ("m" * 236 + ".tp")
    tensorplug.save({"w": tensorplug.ones(2)}, path)
    assert tensorplug.load(path)["w"].tolist() == [1.0, 1.0]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("base", ["a.tp", "x" * 255, "é" * 127 + ".tp", "🙂" * 60 + "y" * 15])
def test_temp_names_fit_name_max(base):
    prefix = _atomic.temp_prefix(base, 255)
    assert len(os.fsencode(prefix + "." + "0" * 12 + ".tmp")) <= 255
    assert prefix.startswith(".")
    assert _atomic.temp_prefix(base + "z", 255) != prefix or len(base) < 200


def test_long_names_with_a_common_start_get_different_temps():
    a = _atomic.temp_prefix("s" * 250 + "1", 255)
    b = _atomic.temp_prefix("s" * 250 + "2", 255)
    assert a != b


def test_stale_temps_of_the_target_are_removed(tmp_path):
    path = tmp_path / "run.tp"
    stale = tmp_path / ".run.tp.0123456789ab.tmp"
    other_target = tmp_path / ".other.tp.0123456789ab.tmp"
    not_ours = tmp_path / ".run.tp.notatemp.tmp"
    for p in (stale, other_target, not_ours):
        p.write_bytes(b"left by a killed save")
    tensorplug.save({"v": 1}, path)
    assert not stale.exists()
    assert other_target.exists() and not_ours.exists()


def test_a_live_writers_temp_is_kept(tmp_path):
    path = tmp_path / "run.tp"
    live = tmp_path / ".run.tp.ba9876543210.tmp"
    live.write_bytes(b"being written")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)          # what a writer in another process holds
        tensorplug.save({"v": 1}, path)
        assert live.exists()
    finally:
        os.close(fd)
    tensorplug.save({"v": 2}, path)
    assert not live.exists()


def test_save_through_a_symlink_writes_its_target_like_torch(tmp_path):
    real = tmp_path / "real.tp"
    real.write_bytes(b"old")
    link = tmp_path / "link.tp"
    link.symlink_to("real.tp")
    tensorplug.save({"v": 1}, link)
    assert link.is_symlink()
    assert tensorplug.load(real) == {"v": 1}
    torch = pytest.importorskip("torch")
    torch_link = tmp_path / "torch_link.pt"
    torch_link.symlink_to("torch_real.pt")          # dangling: torch creates the target
    torch.save({"v": 1}, torch_link)
    dangling = tmp_path / "our_link.tp"
    dangling.symlink_to("our_real.tp")
    tensorplug.save({"v": 1}, dangling)
    assert torch_link.is_symlink() and dangling.is_symlink()
    assert (tmp_path / "torch_real.pt").exists() and (tmp_path / "our_real.tp").exists()


# SIGKILL at a chosen point of a save -----------------------------------------------------------

# The child saves version N, says "saved version N", then starts version N+1 and stops at write
# number STOP of it (-1: after every write, before the rename), says "paused", and waits to be
# killed. No sleeps: the parent acts on what the child says.
_CHILD = textwrap.dedent("""
    import sys
    import tensorplug
    from tensorplug.serialization import _native

    path, version, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def state(v):
        return {"version": v, "data": tensorplug.full((200, 100), float(v))}

    def pause(where):
        print(f"paused version {version + 1} {where}", flush=True)
        sys.stdin.readline()

    class Pausing:
        def __init__(self, f):
            self.f = f
            self.n = 0

        def write(self, b):
            if self.n == stop:
                self.f.write(b[:len(b) // 2])
                self.f.flush()
                pause(f"inside write {self.n}")
            self.n += 1
            return self.f.write(b)

    tensorplug.save(state(version), path)
    print(f"saved version {version}", flush=True)
    real = _native.write_file

    def pausing_write(f, *args):
        real(Pausing(f), *args)
        if stop == -1:
            f.flush()
            pause("before the rename")
    _native.write_file = pausing_write
    tensorplug.save(state(version + 1), path)
    print(f"saved version {version + 1}", flush=True)
""")


def _expect(proc, prefix):
    line = proc.stdout.readline().decode().strip()
    assert line.startswith(prefix), (line, proc.stderr.read().decode() if proc.poll() is not None else "")
    return line


def test_sigkill_during_save_leaves_a_complete_file(tmp_path):
    path = tmp_path / "live.tp"
    rng = random.Random(1)
    stops = [0, 3, 4, -1]          # inside the prefix, the tensor data, the digest; before the rename
    rng.shuffle(stops)
    for version, stop in enumerate(stops, start=1):
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(version), str(stop)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _expect(proc, f"saved version {version}")
            _expect(proc, f"paused version {version + 1}")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
        obj = tensorplug.load(path)      # the last complete save, never the interrupted one
        assert obj["version"] == version
        assert (obj["data"].numpy() == float(version)).all()
        # the killed save left exactly one temporary file: the next save removed the earlier ones
        assert len(_temps(tmp_path)) == 1, _temps(tmp_path)
    tensorplug.save({"version": 0}, path)
    assert _temps(tmp_path) == []

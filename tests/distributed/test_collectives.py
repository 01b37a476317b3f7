"""Collectives on real MPI ranks, torch's API and errors; failures end the job, never hang."""
from __future__ import annotations

import pytest

import tensorplug
import tensorplug.distributed as dist
from launch import launch, needs_mpi

pytestmark = needs_mpi

COLLECTIVES = """
    import json, os
    import tensorplug as torch
    import tensorplug.distributed as dist
    dist.init_process_group("gloo")
    r, w = dist.get_rank(), dist.get_world_size()
    out = {"rank": r, "world": w, "backend": dist.get_backend(), "initialized": dist.is_initialized()}
    t = torch.ones(3) * (r + 1); dist.all_reduce(t); out["sum"] = t.tolist()
    for op in ("AVG", "PRODUCT", "MIN", "MAX"):
        t = torch.tensor([1.0, 2.0]) * (r + 2); dist.all_reduce(t, op=getattr(dist.ReduceOp, op)); out[op] = t.tolist()
    t = torch.arange(4.0) * (r + 1); dist.broadcast(t, src=1); out["broadcast"] = t.tolist()
    parts = [torch.zeros(2) for _ in range(w)]; dist.all_gather(parts, torch.full((2,), float(r)))
    out["all_gather"] = [p.tolist() for p in parts]
    o = torch.zeros(w, 2); dist.all_gather_into_tensor(o, torch.full((2,), float(r))); out["agt"] = o.tolist()
    o = torch.zeros(2); dist.reduce_scatter_tensor(o, torch.arange(4.0) + r); out["reduce_scatter"] = o.tolist()
    t = torch.ones(2) * (r + 1); dist.reduce(t, dst=0); out["reduce"] = t.tolist()
    g = [torch.zeros(1) for _ in range(w)] if r == 1 else None
    dist.gather(torch.tensor([10.0 + r]), g, dst=1); out["gather"] = None if g is None else [x.item() for x in g]
    s = torch.zeros(2); dist.scatter(s, [torch.full((2,), 5.0 + i) for i in range(w)] if r == 0 else None, src=0)
    out["scatter"] = s.tolist()
    out["block_errors"] = []
    for call in (lambda: dist.all_gather_into_tensor(torch.zeros(3), torch.zeros(2)),
                 lambda: dist.reduce_scatter_tensor(torch.zeros(2), torch.zeros(2, dtype=torch.float64))):
        try:
            call()
        except ValueError as e:
            out["block_errors"].append(str(e))
    x = torch.tensor(3.0); dist.all_reduce(x); out["zero_dim"] = x.item()
    x = torch.ones(2, 3).t(); dist.all_reduce(x); out["non_contiguous"] = x.tolist()
    x = torch.tensor([r == 0, False]); dist.all_reduce(x); out["bool_any"] = x.tolist()
    x = torch.ones(2, dtype=torch.float16) * (r + 1); dist.all_reduce(x); out["half"] = [x.tolist(), str(x.dtype)]
    x = torch.ones(2, dtype=torch.int64); dist.all_reduce(x); out["int"] = [x.tolist(), str(x.dtype)]
    work = dist.all_reduce(torch.ones(1), async_op=True); out["async"] = [work.wait(), work.is_completed()]
    if r == 0:
        dist.send(torch.tensor([7.0]), dst=1)
    else:
        z = torch.zeros(1); out["recv"] = [dist.recv(z), z.item()]
    sub = dist.new_group([1])
    out["subgroup"] = repr(sub) if r == 0 else dist.get_world_size(sub)
    dist.barrier()
    out["env"] = {k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                                                  "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS")}
    dist.destroy_process_group()
    out["after_destroy"] = dist.is_initialized()
    RESULT(out)
"""


def test_collectives_on_two_ranks(tmp_path):
    job = launch(tmp_path, COLLECTIVES, launcher_args=["--master-port", "29777"])
    assert job.returncode == 0, job.stderr
    res = job.results()
    assert sorted(res) == [0, 1]
    for r in (0, 1):
        o = res[r]
        assert (o["world"], o["backend"], o["initialized"], o["after_destroy"]) == (2, "gloo", True, False)
        assert o["sum"] == [3.0] * 3
        assert o["AVG"] == [2.5, 5.0] and o["PRODUCT"] == [6.0, 24.0]
        assert o["MIN"] == [2.0, 4.0] and o["MAX"] == [3.0, 6.0]
        assert o["broadcast"] == [0.0, 2.0, 4.0, 6.0]
        assert o["all_gather"] == [[0.0, 0.0], [1.0, 1.0]] and o["agt"] == [[0.0, 0.0], [1.0, 1.0]]
        assert o["reduce_scatter"] == [[1.0, 3.0], [5.0, 7.0]][r]
        assert o["scatter"] == [5.0 + r] * 2
        assert o["block_errors"] == [
            "output tensor size must be equal to world_size times input tensor size (all_gather_into_tensor: "
            "2 x [2] tensorplug.float32 and [3] tensorplug.float32)",
            "input tensor must be the same size as output size times world size (reduce_scatter_tensor: "
            "2 x [2] tensorplug.float32 and [2] tensorplug.float64)"]
        assert o["zero_dim"] == 6.0 and o["non_contiguous"] == [[2.0, 2.0]] * 3
        assert o["bool_any"] == [True, False]
        assert o["half"] == [[3.0, 3.0], "tensorplug.float16"] and o["int"] == [[2, 2], "tensorplug.int64"]
        assert o["async"] == [True, True]
        env = o["env"]
        assert (env["RANK"], env["LOCAL_RANK"], env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == (str(r), str(r), "2", "2")
        assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["OMP_NUM_THREADS"]) == ("127.0.0.1", "29777", "1")
    assert res[0]["reduce"] == [3.0, 3.0] and res[1]["reduce"] == [2.0, 2.0]  # only dst's is reduced
    assert res[1]["gather"] == [10.0, 11.0] and res[0]["gather"] is None
    assert res[1]["recv"] == [0, 7.0]
    assert res[0]["subgroup"] == "GroupMember.NON_GROUP_MEMBER" and res[1]["subgroup"] == 1


def test_a_rank_that_raises_ends_the_job_with_its_traceback(tmp_path):
    # no clock: a job the abort does not end hangs in the all_reduce, and launch() fails it
    job = launch(tmp_path, """
        import tensorplug as torch, tensorplug.distributed as dist
        dist.init_process_group("gloo")
        if dist.get_rank() == 1:
            raise ValueError("boom on rank 1")
        dist.all_reduce(torch.ones(1))   # rank 0 waits here; the abort must end it
        print("rank 0 got past an all_reduce that rank 1 never joined", flush=True)
    """)
    assert job.returncode != 0
    assert "ValueError: boom on rank 1" in job.stderr
    assert "got past" not in job.stdout


def test_a_rank_that_never_joins_times_out_naming_the_collective(tmp_path):
    # no clock in the test: rank 1 blocks for good (launch() fails a job that is not ended), and the
    # short timeout starts after a barrier, so a rank slow to start under load is not the one timed out
    job = launch(tmp_path, """
        import threading
        from datetime import timedelta
        import tensorplug as torch, tensorplug.distributed as dist
        dist.init_process_group("gloo")
        dist.barrier()
        group = dist.new_group(timeout=timedelta(seconds=2))
        if dist.get_rank() == 1:
            threading.Event().wait()
        dist.all_reduce(torch.ones(1), group=group)
    """)
    assert job.returncode != 0
    assert "DistBackendError: Timed out after 2 s waiting for all_reduce" in job.stderr


def test_debug_detail_reports_collectives_that_differ(tmp_path):
    job = launch(tmp_path, """
        import tensorplug as torch, tensorplug.distributed as dist
        dist.init_process_group("gloo")
        t = torch.ones(4)
        if dist.get_rank() == 0:
            dist.all_reduce(t)
        else:
            dist.broadcast(t, src=0)
    """, env={"TENSORPLUG_DISTRIBUTED_DEBUG": "DETAIL"})
    assert job.returncode != 0
    assert "Detected mismatch between collectives on ranks" in job.stderr
    assert "OpType=ALL_REDUCE" in job.stderr and "OpType=BROADCAST" in job.stderr


def test_a_third_party_process_group_plugin_installed_with_pip(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    src = tmp_path / "tinycomm"
    shutil.copytree(Path(__file__).parent / "fixtures" / "tinycomm", src)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(target), str(src)], check=True, cwd=tmp_path)
    code = """
        import tensorplug as torch, tensorplug.distributed as dist
        dist.init_process_group("loopback")
        t = torch.ones(2); dist.all_reduce(t); dist.barrier()
        print(dist.get_backend(), dist.get_world_size(), t.tolist())
    """
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code.replace("\n        ", "\n")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["loopback", "1", "[1.0,", "1.0]"]
    info = subprocess.run([sys.executable, "-m", "tensorplug", "info"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert "loopback  cpu  available  (plugin 'tinycomm')" in info.stdout


def test_without_init_every_call_says_so_as_torch():
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(tensorplug.ones(1))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    assert dist.is_available() and not dist.is_initialized()
    assert dist.group.WORLD is None


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown distributed backend 'nope': expected one of \[.*'gloo'.*'mpi'"):
        dist.init_process_group("nope")


def test_collective_argument_errors_match_torch():
    with pytest.raises(TypeError, match="Expected parameter `tensor` of type torch.Tensor"):
        dist.all_reduce([1.0])


def test_a_group_whose_size_disagrees_with_the_launcher_is_refused(tmp_path):
    import os
    import subprocess
    import sys
    (tmp_path / "tp_careless.py").write_text(
        "import tensorplug\n"
        "from tensorplug.distributed import CompletedWork, ProcessGroup, ProcessGroupSpec\n"
        "class Careless(ProcessGroup):\n"
        "    def all_reduce(self, array, op):\n"
        "        return CompletedWork('all_reduce')\n"
        "@tensorplug.hookimpl\n"
        "def tensorplug_add_process_groups():\n"
        "    return [ProcessGroupSpec('careless', ('cpu',), factory=lambda r, w, t, i: Careless(0, 1, t))]\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), TENSORPLUG_PLUGINS="tp_careless", RANK="0", WORLD_SIZE="2")
    code = "import tensorplug.distributed as dist\ndist.init_process_group('careless')"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert ("ValueError: distributed backend 'careless' (plugin 'tp_careless') made a group with world_size 1, "
            "but WORLD_SIZE is 2") in proc.stderr

"""The NCCL process group: says why it cannot run here; on a GPU, collectives and DDP through it."""
from __future__ import annotations

import pytest

import tensorplug.distributed as dist
from launch import launch, needs_mpi


def test_nccl_without_a_gpu_says_why():
    reason = dist.process_group_specs()["nccl"].why_unavailable()
    if reason is None:
        pytest.skip("NCCL can run here")
    with pytest.raises(RuntimeError, match=r"distributed backend 'nccl' \(nccl, from plugin 'nccl'\) cannot run "
                                           r"here: .*(cupy|CUDA|mpi4py)"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


@needs_mpi
@pytest.mark.gpu
def test_nccl_collectives_and_ddp_on_gpu(tmp_path):
    import cupy
    nproc = min(2, cupy.cuda.runtime.getDeviceCount())  # NCCL refuses two ranks on one GPU
    job = launch(tmp_path, """
        import tensorplug as torch, tensorplug.nn as nn, tensorplug.distributed as dist
        from tensorplug.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group("nccl")
        r, w = dist.get_rank(), dist.get_world_size()
        t = torch.ones(3, device="cuda") * (r + 1); dist.all_reduce(t)
        b = torch.arange(4.0, device="cuda") * (r + 1); dist.broadcast(b, src=0)
        parts = [torch.zeros(2, device="cuda") for _ in range(w)]; dist.all_gather(parts, torch.full((2,), float(r), device="cuda"))
        torch.manual_seed(0)
        net = DDP(nn.Linear(4, 2).cuda())
        x = torch.randn(8, 4, device="cuda")
        net(x[4 * r: 4 * r + 4] if w == 2 else x).sum().backward()
        RESULT({"rank": r, "world": w, "sum": t.tolist(), "bcast": b.tolist(), "gather": [p.tolist() for p in parts],
                "grad": net.module.weight.grad.tolist(), "expected": (x.sum(0) / w).tolist()})
    """, nproc=nproc, env={"TENSORPLUG_BACKEND": "cupy"})
    assert job.returncode == 0, job.stderr
    for r, o in job.results().items():
        w = o["world"]
        assert o["sum"] == [w * (w + 1) / 2] * 3 and o["bcast"] == [0.0, 1.0, 2.0, 3.0]
        assert o["gather"] == [[float(i)] * 2 for i in range(w)]
        for row in o["grad"]:
            assert max(abs(a - b) for a, b in zip(row, o["expected"])) < 1e-5

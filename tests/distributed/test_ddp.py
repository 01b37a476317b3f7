"""DistributedDataParallel on two ranks equals one process on the full batch."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from launch import launch, needs_mpi

pytestmark = needs_mpi

# Both modes run the same steps: "ddp" on two ranks with half of each global batch (the first
# half of every other step under no_sync), "single" on one process with the whole batch.
TRAIN = """
    import json, sys
    import tensorplug as torch
    import tensorplug.nn as nn
    import tensorplug.distributed as dist
    from tensorplug.nn.parallel import DistributedDataParallel as DDP
    from tensorplug.utils.data import TensorDataset, DataLoader
    from tensorplug.utils.data.distributed import DistributedSampler

    mode, opt_name = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    X = torch.randn(64, 8, dtype=torch.float64); Y = torch.randn(64, 2, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    rank, net = 0, model
    if mode == "ddp":
        dist.init_process_group("gloo")
        rank = dist.get_rank()
        if rank == 1:  # rank 0's parameters must win
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(1.0)
        net = DDP(model, bucket_cap_mb=0.0005)  # several buckets
    opt = (torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9) if opt_name == "sgd"
           else torch.optim.Adam(net.parameters(), lr=0.01))
    ds = TensorDataset(X, Y)
    for epoch in range(5):  # 4 steps an epoch: 20 optimizer steps
        samplers = [DistributedSampler(ds, num_replicas=2, rank=r, seed=3) for r in range(2)]
        for s in samplers:
            s.set_epoch(epoch)
        if mode == "ddp":
            batches = DataLoader(ds, batch_size=8, sampler=samplers[rank])
        else:
            orders = [list(s) for s in samplers]
            batches = [(X[orders[0][i:i + 8] + orders[1][i:i + 8]], Y[orders[0][i:i + 8] + orders[1][i:i + 8]])
                       for i in range(0, 32, 8)]
        for step, (x, y) in enumerate(batches):
            if mode == "ddp" and step % 2 == 0:
                with net.no_sync():
                    (((net(x[:4]) - y[:4]) ** 2).sum() / 16).backward()
                (((net(x[4:]) - y[4:]) ** 2).sum() / 16).backward()
            else:
                (((net(x) - y) ** 2).sum() / (16 if mode == "ddp" else 32)).backward()
            opt.step()
            opt.zero_grad()
    RESULT({"rank": rank, "params": [p.reshape(-1).tolist() for p in model.parameters()]})
"""


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_two_ranks_on_half_batches_equal_one_process(tmp_path, opt_name):
    job = launch(tmp_path, TRAIN, args=["ddp", opt_name])
    assert job.returncode == 0, job.stderr
    alone = tmp_path / "single"
    alone.mkdir()
    single = subprocess.run([sys.executable, str(tmp_path / "job.py"), "single", opt_name], capture_output=True,
                            text=True, timeout=120, cwd=alone)
    assert single.returncode == 0, single.stderr
    expected = json.loads((alone / "result-0.json").read_text())["params"]
    for rank, result in job.results().items():
        for got, want in zip(result["params"], expected):
            assert max(abs(a - b) for a, b in zip(got, want)) < 1e-10, (rank, opt_name)


UNUSED = """
    import json
    import tensorplug as torch, tensorplug.nn as nn, tensorplug.distributed as dist
    from tensorplug.nn.parallel import DistributedDataParallel as DDP

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 1).double()
            self.b = nn.Linear(3, 1).double()
        def forward(self, x, use_b):
            return self.a(x) + (self.b(x) if use_b else 0)

    from datetime import timedelta
    dist.init_process_group("gloo")
    dist.barrier()  # both ranks are up: the short timeout below never meets a rank slow to start
    group = dist.new_group(timeout=timedelta(seconds=3))
    r = dist.get_rank()
    torch.manual_seed(0)
    x = torch.randn(4, 3, dtype=torch.float64)
    net = DDP(Net(), find_unused_parameters=FIND, process_group=group)
    net(x[2 * r: 2 * r + 2], use_b=(r == 0)).sum().backward()   # b is unused on rank 1
    out = {"rank": r, "a": net.module.a.weight.grad.tolist(),
           "b": None if net.module.b.weight.grad is None else net.module.b.weight.grad.tolist()}
    try:
        net(x, use_b=False)
        out["second_forward"] = "ok"
    except RuntimeError as e:
        out["second_forward"] = str(e)
    out["expected_a"] = (x.sum(0) / 2).tolist()  # rank 1's unused b: rank 0 waits for it and times out
    out["expected_b"] = (x[0:2].sum(0) / 2).tolist()
    RESULT(out)
"""


def test_unused_parameters(tmp_path):
    job = launch(tmp_path, UNUSED.replace("FIND", "True"))
    assert job.returncode == 0, job.stderr
    for o in job.results().values():
        assert o["a"] == [o["expected_a"]] and o["b"] == [o["expected_b"]]
        assert o["second_forward"] == "ok"
    # as torch: the rank that lacks a gradient fails at its next forward; the other waits, then times out
    job = launch(tmp_path, UNUSED.replace("FIND", "False"))
    assert job.returncode != 0
    assert job.results()[1]["second_forward"].startswith(
        "Expected to have finished reduction in the prior iteration before starting a new one.")
    assert job.results()[1]["second_forward"].endswith(
        "Parameter indices which did not receive grad for rank 1: [2, 3]")
    assert "Timed out after 3 s waiting for all_reduce" in job.stderr


def test_uneven_batch_counts_fail_with_a_timeout_not_a_hang(tmp_path):
    job = launch(tmp_path, """
        from datetime import timedelta
        import tensorplug as torch, tensorplug.nn as nn, tensorplug.distributed as dist
        from tensorplug.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group("gloo")
        dist.barrier()  # both ranks are up: the short timeout below never meets a rank slow to start
        group = dist.new_group(timeout=timedelta(seconds=2))
        net = DDP(nn.Linear(2, 1), process_group=group)
        for step in range(3 if dist.get_rank() == 0 else 2):
            net(torch.ones(1, 2)).sum().backward()
        dist.barrier(group=group)
    """)
    assert job.returncode != 0
    assert "Timed out after 2 s waiting for" in job.stderr  # all_reduce on rank 0 or the barrier on rank 1


def test_reduction_overlaps_backward(tmp_path):
    """The first bucket (the last layer) is all-reduced before the first layer's gradient exists."""
    job = launch(tmp_path, """
        import json
        import tensorplug as torch, tensorplug.nn as nn, tensorplug.distributed as dist
        from tensorplug.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group("gloo")
        model = nn.Sequential(*[nn.Linear(512, 512) for _ in range(4)])  # 1 MiB of weights each
        events = []
        real = dist.all_reduce
        def spy(tensor, *args, **kwargs):
            events.append(("all_reduce", tensor.numel()))
            return real(tensor, *args, **kwargs)
        dist.all_reduce = spy
        net = DDP(model, bucket_cap_mb=1)
        model[0].weight.register_post_accumulate_grad_hook(lambda p: events.append(("first layer grad", 0)))
        net(torch.randn(8, 512)).sum().backward()
        RESULT({"rank": dist.get_rank(), "events": events})
    """, nproc=2)
    assert job.returncode == 0, job.stderr
    for o in job.results().values():
        names = [e[0] for e in o["events"]]
        assert names.count("all_reduce") >= 3
        assert names.index("all_reduce") < names.index("first layer grad"), names

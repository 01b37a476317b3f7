"""SyncBatchNorm on two ranks with half a batch each equals BatchNorm on the whole batch."""
from __future__ import annotations

import tensorplug
import tensorplug.nn as nn
from launch import launch, needs_mpi


@needs_mpi
def test_sync_batchnorm_equals_batchnorm_on_the_full_batch(tmp_path):
    job = launch(tmp_path, """
        import tensorplug as torch, tensorplug.nn as nn, tensorplug.distributed as dist
        dist.init_process_group("gloo")
        r = dist.get_rank()
        torch.manual_seed(0)
        x = torch.randn(6, 3, 4, 5, dtype=torch.float64)
        w = torch.randn(6, 3, 4, 5, dtype=torch.float64)
        ref = nn.BatchNorm2d(3).double()
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5); ref.bias.uniform_(-1, 1)
        net = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3).double()))
        with torch.no_grad():
            net[0].weight.copy_(ref.weight); net[0].bias.copy_(ref.bias)
        xr = x.clone().requires_grad_()
        out = ref(xr)
        (out * w).sum().backward()
        mine = x[3 * r: 3 * r + 3].clone().requires_grad_()
        got = net(mine)
        (got * w[3 * r: 3 * r + 3]).sum().backward()
        gw, gb = net[0].weight.grad.clone(), net[0].bias.grad.clone()
        dist.all_reduce(gw); dist.all_reduce(gb)   # what DDP would do (it averages; here: sum)
        err = lambda a, b: (a - b).abs().max().item()
        RESULT({"rank": r, "kind": type(net[0]).__name__,
                "out": err(got, out[3 * r: 3 * r + 3]), "gx": err(mine.grad, xr.grad[3 * r: 3 * r + 3]),
                "gw": err(gw, ref.weight.grad), "gb": err(gb, ref.bias.grad),
                "mean": err(net[0].running_mean, ref.running_mean), "var": err(net[0].running_var, ref.running_var),
                "batches": int(net[0].num_batches_tracked)})
    """)
    assert job.returncode == 0, job.stderr
    for o in job.results().values():
        assert o["kind"] == "SyncBatchNorm" and o["batches"] == 1
        for key in ("out", "gx", "gw", "gb", "mean", "var"):
            assert o[key] < 1e-12, (key, o)


def test_sync_batchnorm_alone_is_batchnorm():
    tensorplug.manual_seed(0)
    x = tensorplug.randn(4, 3, 5)
    sync, plain = nn.SyncBatchNorm(3), nn.BatchNorm1d(3)
    assert tensorplug.allclose(sync(x), plain(x))
    assert tensorplug.allclose(sync.running_var, plain.running_var)
    assert repr(sync) == "SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"

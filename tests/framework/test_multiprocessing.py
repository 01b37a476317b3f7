"""tensorplug.multiprocessing as torch.multiprocessing: the standard module's names, spawn's joins and
failures (real processes), and under ``python -m tensorplug run`` the processes a program spawns import
torch as tensorplug too (mp.spawn, DataLoader workers with the spawn start method)."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

import tensorplug.multiprocessing as mp

PROGRAM = textwrap.dedent("""
    import sys
    import torch
    import torch.multiprocessing as mp
    from torch.utils.data import DataLoader, Dataset


    def work(rank, queue, fail):
        if fail == "raise" and rank == 1:
            raise ValueError(f"rank {rank} refuses")
        if fail == "exit" and rank == 1:
            sys.exit(3)
        queue.put((rank, float((torch.ones(3) * (rank + 1)).sum()), type(torch.ones(1)).__module__.split(".")[0]))


    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.tensor([float(i * i)]), type(torch.ones(1)).__module__.split(".")[0]


    if __name__ == "__main__":
        fail = sys.argv[1]
        queue = mp.get_context("spawn").SimpleQueue()
        try:
            mp.spawn(work, args=(queue, fail), nprocs=2)
        except mp.ProcessRaisedException as e:
            print("raised", e.error_index, "ValueError: rank 1 refuses" in str(e),
                  str(e).startswith("\\n\\n-- Process 1 terminated with the following error:\\n"))
        except mp.ProcessExitedException as e:
            print("exited", e.error_index, e.exit_code, str(e))
        if fail == "none":  # (after a failure the other rank may or may not have finished)
            results = []
            while not queue.empty():
                results.append(queue.get())
            print(sorted(results))
            loader = DataLoader(Squares(), batch_size=4, num_workers=1, multiprocessing_context="spawn")
            for x, where in loader:
                print(x.flatten().tolist(), sorted(set(where)))
""")


def _run(tmp_path, *command):
    script = tmp_path / "spawner.py"
    script.write_text(PROGRAM)
    done = subprocess.run([sys.executable, *command, str(script)], capture_output=True, text=True, timeout=240,
                          cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return done


@pytest.mark.parametrize("fail, expected", [
    ("none", ["[(0, 3.0, 'tensorplug'), (1, 6.0, 'tensorplug')]", "[0.0, 1.0, 4.0, 9.0] ['tensorplug']"]),
    ("raise", ["raised 1 True True"]),
    ("exit", ["exited 1 3 process 1 terminated with exit code 3"]),
])
def test_spawned_processes_run_tensorplug_under_run(tmp_path, fail, expected):
    done = _run(tmp_path, "-m", "tensorplug", "run", str(tmp_path / "spawner.py"), fail)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:len(expected)] == expected, done.stdout + done.stderr
    assert not list(tmp_path.glob("tensorplug-run-*"))


def test_torch_gives_the_same_report(tmp_path):
    torch = pytest.importorskip("torch")
    for fail in ("raise", "exit"):
        (tmp_path / "spawner.py").write_text(PROGRAM)
        theirs = subprocess.run([sys.executable, str(tmp_path / "spawner.py"), fail], capture_output=True,
                                text=True, timeout=240, cwd=tmp_path)
        ours = _run(tmp_path, "-m", "tensorplug", "run", str(tmp_path / "spawner.py"), fail)
        assert ours.stdout.replace("tensorplug", "torch") == theirs.stdout, (ours.stdout, theirs.stdout, torch)


def test_the_standard_modules_names_and_sharing_strategies():
    assert mp.Process is multiprocessing.Process and mp.get_context is multiprocessing.get_context
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(AssertionError):
        mp.set_sharing_strategy("shared_nothing")


def test_join_false_returns_a_context():
    context = mp.start_processes(_noop, nprocs=2, join=False, start_method="fork")
    assert len(context.pids()) == 2
    while not context.join():
        pass
    assert context.join() is True


def _noop(rank):
    pass


def test_sharing_memory_is_refused_not_ignored():
    """A silent no-op let pytorch/examples' mnist_hogwild train copies and test the untrained model."""
    import tensorplug as tp
    assert tp.zeros(2).is_shared() is False
    with pytest.raises(RuntimeError, match="cannot be shared between processes"):
        tp.nn.Linear(2, 1).share_memory()
    with pytest.raises(RuntimeError, match="cannot be shared between processes"):
        tp.zeros(2).share_memory_()
    assert tp.nn.ReLU().share_memory() is not None  # nothing to share: as torch

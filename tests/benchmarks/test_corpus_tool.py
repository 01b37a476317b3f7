"""benchmarks.corpus: an entry runs under both interpreters and is judged by its printed loss; an entry
whose program is not in the corpus folder is reported, not a crash of the whole run."""
from __future__ import annotations

import os

import pytest

from benchmarks.corpus import run_entry


def _entry(**kw):
    return {"name": "tiny", "repository": "local", "path": "tiny.py", "folder": "tiny", "script": "tiny.py", **kw}


def test_a_program_missing_from_the_corpus_folder_is_reported(tmp_path):
    result = run_entry(_entry(data={"input.txt": "elsewhere/input.txt"}), str(tmp_path), str(tmp_path))
    assert result["status"] == "not fetched" and "tiny" in result["why"]


def test_a_program_runs_under_torch_and_tensorplug(tmp_path):
    pytest.importorskip("torch")
    folder = tmp_path / "tiny"
    folder.mkdir()
    # tensor code that runs the same under both: the loss it prints decides the match
    (folder / "tiny.py").write_text("import torch\nx = torch.tensor([1.0, 2.0, 3.0])\nprint('loss', float((x * x).mean()))\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = run_entry(_entry(), str(tmp_path), str(scratch), torch_runs=1)
    assert result["status"] == "match" and abs(result["loss"] - 14 / 3) < 1e-6
    assert not os.listdir(scratch)  # the copies are removed

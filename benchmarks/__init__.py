"""tensorplug's benchmark suite: tensorplug vs PyTorch CPU vs hand-written NumPy.

Run it with ``python -m benchmarks`` (see ``benchmarks/run.py`` for options).
"""

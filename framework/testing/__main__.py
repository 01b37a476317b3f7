"""``python -m tensorplug.testing BACKEND``: run the conformance kit and print a table."""
from __future__ import annotations

import sys
import time

from . import CHECKS, run_check


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else "numpy"
    try:
        from ..registry import get_backend
        get_backend(name)
    except Exception as exc:
        print(f"backend '{name}' cannot be used here: {type(exc).__name__}: {exc}")
        print(f"0 passed, {len(CHECKS)} failed")
        return 2
    failed = 0
    for check in CHECKS:
        start = time.perf_counter()
        try:
            run_check(check, name)
            status = "ok"
        except Exception as exc:
            failed += 1
            status = f"FAIL {type(exc).__name__}: {str(exc)[:300]}"
        print(f"{check:34s} {1000 * (time.perf_counter() - start):8.1f} ms  {status}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

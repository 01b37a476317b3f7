"""``python -m tensorplug.testing [BACKEND]``: run the conformance kit on a backend and print a table."""
from __future__ import annotations

import argparse
import sys
import time

from . import CHECKS, run_check


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m tensorplug.testing",
        description="Run the backend conformance kit: every named backend method, the Array API calls the "
                    "frontend makes and the optional fused methods the backend implements, compared with NumPy.",
        epilog="Exit status: 0 when every check passes, 1 when one fails, 2 when the backend cannot be used.")
    parser.add_argument("backend", nargs="?", default=None,
                        help="a backend name, device type or device string (default: the default backend, "
                             "TENSORPLUG_BACKEND or numpy)")
    parser.add_argument("-k", "--checks", default=None, metavar="NAME,NAME",
                        help="run only these checks (comma-separated; --list shows them)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    return parser


def main(argv=None):
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print("\n".join(sorted(CHECKS)))
        return 0
    checks = list(CHECKS)
    if args.checks:
        checks = [c.strip() for c in args.checks.split(",") if c.strip()]
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            print(f"unknown check(s) {unknown}: expected names from --list")
            return 2
    try:
        from ..registry import get_backend, selection_reason
        backend = get_backend(args.backend)
        reason = selection_reason(args.backend)
    except Exception as exc:
        print(f"backend '{args.backend}' cannot be used here: {type(exc).__name__}: {exc}")
        print(f"0 passed, {len(checks)} failed")
        return 2
    # say what was tested: without an argument that is whatever the default is here
    print(f"conformance of backend '{backend.name}' ({type(backend).__name__} on {backend.device}; "
          f"chosen by {reason})")
    failed = 0
    for check in checks:
        start = time.perf_counter()
        try:
            run_check(check, backend)
            status = "ok"
        except Exception as exc:
            failed += 1
            status = f"FAIL {type(exc).__name__}: {str(exc)[:300]}"
        print(f"{check:34s} {1000 * (time.perf_counter() - start):8.1f} ms  {status}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The process's distributed state: the default group, subgroups and their global ranks."""
from __future__ import annotations

import os
from datetime import timedelta

from .process_group import ProcessGroup

class _NonGroupMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


NON_GROUP_MEMBER = _NonGroupMember()

_UNINITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."

_default = None       # the default ProcessGroup
_ranks = {}           # ProcessGroup -> the global ranks of its members, in group-rank order


def process_group_specs():
    """The communication backends the plugins declare: ``{name: ProcessGroupSpec}`` (aliases excluded)."""
    from .. import registry
    return registry.process_groups()


def find_spec(name, required=True):
    specs = process_group_specs()
    if name in specs:
        return specs[name]
    for spec in specs.values():
        if name in spec.aliases:
            return spec
    if not required:
        return None
    names = sorted(set(specs) | {a for s in specs.values() for a in s.aliases})
    raise ValueError(f"unknown distributed backend '{name}': expected one of {names}; install the plugin "
                     f"that provides it (pip install -e \".[distributed]\" brings MPI, which also serves "
                     f"'gloo'), or see python -m tensorplug info")


def _default_backend_name():
    from ..registry import default_backend
    return "nccl" if default_backend().device_type == "cuda" else "gloo"


def _parse_backend(backend):
    """'gloo', 'nccl', 'cpu:gloo,cuda:nccl' (torch's per-device form) -> one name for this process."""
    if backend is None:
        return _default_backend_name()
    backend = str(backend).lower()
    if ":" not in backend:
        return backend
    pairs = dict(part.split(":", 1) for part in backend.split(","))
    from ..registry import default_backend
    device = default_backend().device_type
    return pairs.get(device) or next(iter(pairs.values()))


def _env_int(name, given):
    if given is not None and given >= 0:
        return given
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else -1


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group; every rank calls it once.

    Ranks are started by ``python -m tensorplug.distributed.run`` (or
    ``mpiexec``), which sets RANK and WORLD_SIZE; ``rank``/``world_size``
    given here must agree with it. ``backend`` is "gloo" or "mpi" (CPU
    tensors), "nccl" (CUDA tensors), a plugin's name, or None for the default
    device's. ``timeout`` (default 30 minutes) bounds every collective.
    """
    global _default
    if _default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise NotImplementedError("init_process_group(store=...): tensorplug's process groups rendezvous "
                                  "through their own launcher (python -m tensorplug.distributed.run); "
                                  "leave store out")
    name = _parse_backend(backend)
    spec = find_spec(name)
    why = spec.why_unavailable()
    if why:
        raise RuntimeError(f"distributed backend '{name}' ({spec.name}, from plugin '{spec.plugin}') "
                           f"cannot run here: {why}")
    if timeout is None:
        timeout = timedelta(minutes=30)
    elif not isinstance(timeout, timedelta):
        raise TypeError(f"init_process_group(): timeout must be a datetime.timedelta, got {type(timeout).__name__}")
    pg = spec.factory(_env_int("RANK", rank), _env_int("WORLD_SIZE", world_size), timeout, init_method)
    if not isinstance(pg, ProcessGroup):
        raise TypeError(f"the factory of distributed backend '{spec.name}' (plugin '{spec.plugin}') returned "
                        f"{type(pg).__name__}, not a tensorplug.distributed.ProcessGroup")
    _check_agrees(pg, spec, "RANK", pg.rank(), rank)
    _check_agrees(pg, spec, "WORLD_SIZE", pg.size(), world_size)
    pg.name = name
    pg.timeout = timeout
    pg.device_types = tuple(spec.device_types)
    _default = pg
    _ranks[pg] = list(range(pg.size()))
    from . import _debug
    _debug.reset()


def _check_agrees(pg, spec, name, got, given):
    """A group whose rank or size differs from what the launcher (or the caller) said would mix up data."""
    want = _env_int(name, given)
    if want >= 0 and got != want:
        pg.close()
        raise ValueError(f"distributed backend '{spec.name}' (plugin '{spec.plugin}') made a group with "
                         f"{name.lower()} {got}, but {name} is {want} (from the launcher or the arguments): "
                         f"this backend cannot serve this job; use one that supports {name.lower()} {want}")


def destroy_process_group(group=None):
    """Leave ``group`` (default: every group); the default group can be initialized again after."""
    global _default
    if group is None or group is _default:
        for pg in list(_ranks):
            pg.close()
        _ranks.clear()
        _default = None
    elif group in _ranks:
        group.close()
        del _ranks[group]


def is_initialized() -> bool:
    return _default is not None


def default_group(required=True):
    if _default is None and required:
        raise ValueError(_UNINITIALIZED)
    return _default


def resolve(group):
    """The ProcessGroup a collective's ``group=`` names (None: the default group)."""
    if group is None:
        return default_group()
    if group is NON_GROUP_MEMBER:
        raise ValueError("this rank is not part of the group it passed (new_group returned "
                         "GroupMember.NON_GROUP_MEMBER here): call collectives on it only from its members")
    if group not in _ranks:
        raise ValueError(f"{group!r} is not a live process group (destroyed, or from another process)")
    return group


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (-1 outside it)."""
    if group is NON_GROUP_MEMBER:
        return -1
    return resolve(group).rank()


def get_world_size(group=None) -> int:
    if group is NON_GROUP_MEMBER:
        return -1
    return resolve(group).size()


def get_backend(group=None) -> str:
    return resolve(group).name


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members."""
    return list(_ranks[resolve(group)])


def group_rank(pg, global_rank, what="rank"):
    """``global_rank`` (what torch's src/dst mean) as a rank of ``pg``, with torch's error outside it."""
    ranks = _ranks[pg]
    try:
        return ranks.index(global_rank)
    except ValueError:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg!r} (its ranks: {ranks}); "
                         f"pass a {what} of that group") from None


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of these global ranks; every rank of the default group calls it, in the same order."""
    world = default_group()
    ranks = sorted(set(range(world.size()) if ranks is None else (int(r) for r in ranks)))
    bad = [r for r in ranks if not 0 <= r < world.size()]
    if bad:
        raise ValueError(f"new_group(): ranks {bad} are outside the world of {world.size()} ranks")
    pg = world.new_group(ranks)
    if pg is None:
        return NON_GROUP_MEMBER
    pg.name = world.name
    pg.device_types = world.device_types
    pg.timeout = world.timeout if timeout is None else timeout
    _ranks[pg] = ranks
    return pg

"""``Embedding``: a lookup table of learnable vectors."""
from __future__ import annotations

from .. import creation
from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.grad_mode import no_grad
from . import functional as F
from . import init
from .module import Module, _options_repr
from .parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _padding_index(padding_idx, num_embeddings, name):
    """``padding_idx`` as a non-negative row (torch's checks; ``name`` is spelled as torch's message has it)."""
    if padding_idx is None:
        return None
    if (padding_idx > 0 and padding_idx >= num_embeddings) or padding_idx < -num_embeddings:
        raise AssertionError(f"{name} must be within num_embeddings")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


class Embedding(Module):
    """Rows of ``weight`` (``num_embeddings x embedding_dim``, drawn from N(0, 1)) picked by index.

    The ``padding_idx`` row starts at zero and receives no gradient.

    Example:
        >>> emb = nn.Embedding(10, 3)
        >>> emb(tensorplug.tensor([[1, 2], [4, 5]])).shape
        tensorplug.Size([2, 2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Padding_idx")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(creation.empty((num_embeddings, embedding_dim), device=device, dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}" + _options_repr(self, {
            "padding_idx": None, "max_norm": None, "norm_type": 2, "scale_grad_by_freq": False})
        return s + (", sparse=True" if self.sparse is not False else "")

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (frozen by default)."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, _weight=embeddings, _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sum, mean or max of the embeddings of each bag: the rows of 2-D ``input``, or the runs of 1-D
    ``input`` that ``offsets`` start (entries equal to ``padding_idx`` are left out of their bag)."""
    out = _bags(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, per_sample_weights,
                include_last_offset, padding_idx)
    return _nodes.named(out, "EmbeddingBagBackward0")  # torch's one node, whatever the mode


def _bags(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, per_sample_weights,
          include_last_offset, padding_idx):
    from ..ops import index_add, stack
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                  f"on GitHub.")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets).__name__}")
        rows, width = input.shape
        starts = [r * width for r in range(rows)]
        flat = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
        ends = [s + width for s in starts]
    elif input.dim() == 1:
        if offsets is None or offsets.dim() != 1:
            raise ValueError(f"offsets has to be a 1D Tensor but got {None if offsets is None else offsets.dim()}")
        flat, psw = input, per_sample_weights
        starts = [int(v) for v in offsets.tolist()]
        n = flat.shape[0]
        if starts and starts[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                               f"from position 0. However, got {starts[0]}")
        if starts and starts[-1] > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
                               f"{starts[-1]}")
        _check_offsets(starts, n)
        if include_last_offset:
            starts, ends = starts[:-1], starts[1:]
        else:
            ends = starts[1:] + [n]
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    _check_bag_indices(flat, weight.shape[0])
    rows = F.embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)
    if psw is not None:
        rows = rows * psw.unsqueeze(-1)
    ids = flat.tolist()
    bag_of, keep, counts = [], [], [0] * len(starts)
    for b, (s, e) in enumerate(zip(starts, ends)):
        for i in range(s, e):
            if padding_idx is None or ids[i] != padding_idx:
                bag_of.append(b)
                keep.append(i)
                counts[b] += 1
    dim = weight.shape[1]
    device = weight.device
    if mode == "max":
        out = []
        for b, (s, e) in enumerate(zip(starts, ends)):
            members = [i for i in range(s, e) if padding_idx is None or ids[i] != padding_idx]
            if members:
                picked = rows.index_select(0, creation.tensor(members, dtype=_dt.int64, device=device))
                out.append(picked.amax(0))
            else:
                out.append(creation.zeros(dim, dtype=weight.dtype, device=device))
        return stack(out) if out else creation.zeros((0, dim), dtype=weight.dtype, device=device)
    keep_t = creation.tensor(keep, dtype=_dt.int64, device=device)
    bags = creation.tensor(bag_of, dtype=_dt.int64, device=device)
    # torch sums bfloat16 bags in float32 and rounds once (a sum of 300 rows was 6% off); float16 bags it
    # sums in float16 (a mean bag of 300 rows of 3000 is inf there too)
    acc = _dt.float32 if weight.dtype is _dt.bfloat16 else weight.dtype
    total = index_add(creation.zeros((len(starts), dim), dtype=acc, device=device), 0, bags,
                      rows.index_select(0, keep_t).to(acc))
    if mode == "sum":
        return total.to(weight.dtype)
    n = creation.tensor([max(c, 1) for c in counts], dtype=acc, device=device).unsqueeze(1)
    return (total / n).to(weight.dtype)


def _check_offsets(starts, n):
    """Bags must start in order inside the input (torch refuses the rest; NumPy slicing would not)."""
    for b, (s, e) in enumerate(zip(starts, starts[1:])):
        if e < 0 or e > n:
            raise IndexError(f"index out of range in self: offsets[{b + 1}] = {e} is outside [0, {n}] for an "
                             f"input of {n} indices")
        if e < s:
            raise RuntimeError(f"embedding_bag: offsets must be non-decreasing (Expected i < index_size), but "
                               f"offsets[{b + 1}] = {e} is below offsets[{b}] = {s}; sort the bags")


def _check_bag_indices(flat, num):
    from ..ops.gather import first_out_of_range
    bad = first_out_of_range(flat, num)
    if bad is not None:
        position = flat.tolist().index(bad)
        raise RuntimeError(f"Index {position} of input takes value {bad} which is not in the valid range "
                           f"[0, {num}): embedding_bag expects 0 <= idx < num_embeddings ({num}) and takes no "
                           f"negative indices")


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, without materialising the per-entry rows' graph.

    Example:
        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(tensorplug.tensor([1, 2, 4, 5, 4]), tensorplug.tensor([0, 2])).shape
        tensorplug.Size([2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None,
                 device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "padding_idx")
        if _weight is None:
            self.weight = Parameter(creation.empty((num_embeddings, embedding_dim), device=device, dtype=dtype))
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                             self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}" + _options_repr(self, {
            "max_norm": None, "norm_type": 2, "scale_grad_by_freq": False})
        return s + f", mode={self.mode!r}" + _options_repr(self, {"padding_idx": None})

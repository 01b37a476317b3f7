"""Variable-length sequences for the recurrent layers: ``PackedSequence`` and torch's helpers.

A packed batch stores the rows of every time step one after another, the
sequences sorted by decreasing length, so step ``t`` holds ``batch_sizes[t]``
rows. Packing and unpacking are one differentiable gather each (an index
built once per call), so gradients flow back to the padded inputs.
"""
from __future__ import annotations

from collections import namedtuple

from ... import creation
from ... import dtypes as _dt
from ...ops import cat, index_select
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The packed rows (``data``), the rows per time step (``batch_sizes``, int64 on the CPU) and the
    permutation from the caller's batch order to decreasing length (``sorted_indices``) and back."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(dtype=_dt.float64)

    def float(self):
        return self.to(dtype=_dt.float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    order = permutation.tolist()
    inverse = [0] * len(order)
    for i, p in enumerate(order):
        inverse[p] = i
    return creation.tensor(inverse, dtype=_dt.int64, device=permutation.device)


def _lengths_list(lengths):
    values = lengths.tolist() if isinstance(lengths, Tensor) else [int(v) for v in lengths]
    if any(v <= 0 for v in values):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    return values


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded ``(T, B, *)`` batch (``(B, T, *)`` with ``batch_first``) of the given lengths."""
    values = _lengths_list(lengths)
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if len(values) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(values)} "
                           f"(batch_size={batch})")
    if enforce_sorted:
        if any(a < b for a, b in zip(values, values[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        order = list(range(batch))
        sorted_indices = None
    else:
        order = sorted(range(batch), key=lambda b: -values[b])  # stable: ties keep their order, as torch
        sorted_indices = creation.tensor(order, dtype=_dt.int64, device=input.device)
    if values[order[0]] > steps:
        raise RuntimeError(f"Expected the longest length {values[order[0]]} to be at most the padded length {steps}")
    batch_sizes = [sum(1 for b in order if values[b] > t) for t in range(values[order[0]])]
    return PackedSequence(_pack(input, batch_sizes, order),
                          creation.tensor(batch_sizes, dtype=_dt.int64, device="cpu"), sorted_indices)


def _pack(padded, batch_sizes, order):
    """The packed rows of time-major ``padded`` (caller's batch order) for these steps and sorted order."""
    batch = padded.shape[1]
    rows = [t * batch + order[j] for t, n in enumerate(batch_sizes) for j in range(n)]
    flat = padded.reshape((-1,) + tuple(padded.shape[2:]))
    return index_select(flat, 0, creation.tensor(rows, dtype=_dt.int64, device=padded.device))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """``(padded, lengths)``: the inverse of ``pack_padded_sequence``, in the caller's batch order."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.tolist()
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    batch = batch_sizes[0]
    order = sequence.sorted_indices.tolist() if sequence.sorted_indices is not None else list(range(batch))
    # row of data for each (t, b) of the padded result, or the one padding row past the end
    where = [len(data)] * (steps * batch)
    row = 0
    for t, n in enumerate(batch_sizes):
        for j in range(n):
            where[t * batch + order[j]] = row
            row += 1
    pad = creation.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    flat = index_select(cat([data, pad], 0), 0, creation.tensor(where, dtype=_dt.int64, device=data.device))
    padded = flat.reshape((steps, batch) + tuple(data.shape[1:]))
    lengths = [0] * batch
    for n in batch_sizes:
        for j in range(n):
            lengths[order[j]] += 1
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, creation.tensor(lengths, dtype=_dt.int64, device="cpu")  # on the CPU, as torch's


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    steps = max(s.shape[0] for s in sequences)
    rest = tuple(sequences[0].shape[1:])
    columns = []
    for s in sequences:
        n = steps - s.shape[0]
        if n:
            fill = creation.full((n,) + rest, padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, fill], 0) if padding_side == "right" else cat([fill, s], 0)
        columns.append(s.unsqueeze(0 if batch_first else 1))
    return cat(columns, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of ``(L_i, *)`` tensors (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of ``(L_i, *)`` tensors of a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :n] for b, n in enumerate(_lengths_list(lengths))]


def unpack_sequence(packed_sequences):
    """The list of ``(L_i, *)`` tensors of a packed batch, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

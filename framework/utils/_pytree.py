"""``tensorplug.utils._pytree``: nested tuples, lists and dicts flattened to leaves and back (torch's names)."""
from __future__ import annotations

__all__ = ["TreeSpec", "LeafSpec", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves"]


class TreeSpec:
    """The shape of a container tree: its type, keys (dict) or length, and child specs."""

    def __init__(self, kind, context, children):
        self.type = kind
        self.context = context
        self.children_specs = children
        self.num_leaves = sum(c.num_leaves for c in children)

    def is_leaf(self):
        return False

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and other.is_leaf() == self.is_leaf() and other.type is self.type
                and other.context == self.context and other.children_specs == self.children_specs)

    def __repr__(self):
        if self.is_leaf():
            return "*"
        inner = ", ".join(repr(c) for c in self.children_specs)
        if self.type is dict:
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.context, self.children_specs))
            return "{" + inner + "}"
        return f"[{inner}]" if self.type is list else f"({inner}{',' if len(self.children_specs) == 1 else ''})"


class LeafSpec(TreeSpec):
    def __init__(self):
        self.type = None
        self.context = None
        self.children_specs = []
        self.num_leaves = 1

    def is_leaf(self):
        return True


def _children(tree):
    if isinstance(tree, dict):
        return list(tree.values()), list(tree.keys())
    if isinstance(tree, (tuple, list)):
        return list(tree), len(tree)
    return None, None


def tree_flatten(tree):
    """``(leaves, spec)``: every non-container value in order, and the structure to rebuild ``tree``."""
    children, context = _children(tree)
    if children is None:
        return [tree], LeafSpec()
    leaves, specs = [], []
    for child in children:
        child_leaves, child_spec = tree_flatten(child)
        leaves += child_leaves
        specs.append(child_spec)
    return leaves, TreeSpec(type(tree), context, specs)


def tree_unflatten(leaves, spec):
    """Rebuild the tree ``spec`` describes from ``leaves`` (the inverse of ``tree_flatten``)."""
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"tree_unflatten(leaves, treespec): treespec expects {spec.num_leaves} leaves, "
                         f"but got {len(leaves)}; pass the leaves tree_flatten gave for this spec")
    return _rebuild(iter(leaves), spec)


def _rebuild(leaves, spec):
    if spec.is_leaf():
        return next(leaves)
    children = [_rebuild(leaves, c) for c in spec.children_specs]
    if spec.type is dict or issubclass(spec.type, dict):
        return spec.type(zip(spec.context, children))
    if hasattr(spec.type, "_fields"):  # namedtuple
        return spec.type(*children)
    return spec.type(children)


def tree_map(fn, tree):
    """``tree`` with ``fn`` applied to every leaf."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(leaf) for leaf in leaves], spec)


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def broadcast_prefix(prefix, spec):
    """Flatten ``prefix`` (a tree whose leaves stand for whole subtrees of ``spec``) to one value per leaf of
    ``spec``; None where ``prefix`` does not fit ``spec``'s structure (vmap's in_dims / out_dims)."""
    children, context = _children(prefix)
    if children is None:
        return [prefix] * spec.num_leaves
    if spec.is_leaf() or type(prefix) is not spec.type or context != spec.context:
        return None
    out = []
    for child, child_spec in zip(children, spec.children_specs):
        part = broadcast_prefix(child, child_spec)
        if part is None:
            return None
        out += part
    return out

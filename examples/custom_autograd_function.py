"""A custom differentiable operation with ``torch.autograd.Function``, checked by gradcheck.

    python examples/custom_autograd_function.py

``forward`` computes with tensors and saves what ``backward`` needs;
``backward`` returns one gradient per input of ``forward``.
"""
import tensorplug as torch
from tensorplug.autograd import Function, gradcheck


class SoftClip(Function):
    """y = limit * tanh(x / limit): smooth clipping into (-limit, limit)."""

    @staticmethod
    def forward(ctx, x, limit):
        y = limit * torch.tanh(x / limit)
        ctx.save_for_backward(y)
        ctx.limit = limit
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        # d/dx [L tanh(x/L)] = 1 - tanh(x/L)^2 = 1 - (y/L)^2; no gradient for the float limit
        return grad_output * (1 - (y / ctx.limit) ** 2), None


class StraightThroughRound(Function):
    """Round in the forward pass, pass the gradient through unchanged (a straight-through estimator)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def main():
    torch.manual_seed(0)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = SoftClip.apply(x, 2.0)
    y.sum().backward()
    print("x        ", x.detach())
    print("softclip ", y.detach())
    print("grad     ", x.grad)
    print("gradcheck:", gradcheck(lambda t: SoftClip.apply(t, 2.0), (x,)))

    w = torch.randn(3, requires_grad=True)
    q = StraightThroughRound.apply(w * 4) / 4
    (q ** 2).sum().backward()
    print("quantized", q.detach(), "grad", w.grad)


if __name__ == "__main__":
    main()

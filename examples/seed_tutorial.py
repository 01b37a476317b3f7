"""The seed tutorial as a script, with its imports pointed at tensorplug.

    python examples/seed_tutorial.py [output-folder]

The code is the tutorial's, cell by cell, with ``import tensorplug as torch``
(and ``tensorplug.nn.functional``, ``tensorplug.autograd``,
``tensorplug.optim``). Plots are saved as PNG files in the output folder
(default: the current folder). Cell 6's elementwise product of a (4, 6) and a
(6, 4) tensor raises RuntimeError, as in today's PyTorch, so it is guarded;
``loss.data[0]`` returns the value with a warning to use ``.item()``.
With its imports pointed back at ``torch`` this is the plain PyTorch script,
which ``python -m tensorplug run`` runs unmodified.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")

# Import PyTorch and other libraries
import tensorplug as torch
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(OUT, exist_ok=True)

# Note that torch.Tensor is short for torch.FloatTensor
uninit_float = torch.Tensor(4, 6)
print(uninit_float)
print("Type of above Tensor (it's also printed when you print the tensor):")
print(type(uninit_float))

some_float_tensor = torch.Tensor([3.2, 4.3, 5.5])
some_float_tensor2 = torch.Tensor(np.array([[3.2], [4.3], [5.5]]))
print(some_float_tensor)
print(some_float_tensor2)

rand_float = torch.rand(4, 6)
other_rand_float = torch.rand(4, 6)
# Three ways to add!
# Python Operator +
print(rand_float + other_rand_float)
print(torch.add(rand_float, other_rand_float))
print(rand_float.add_(other_rand_float))

# Random LongTensors from 0 to 9.
x = torch.LongTensor(3).random_(10)
y = torch.LongTensor(5, 3).random_(10)
print(x)
print(y)
print(x+y)

x = torch.LongTensor(4, 6).random_(10) # [4,6]
y = torch.LongTensor(6, 4).random_(10) # [6,4]
print("x: ", x)
print("y: ", y)
# Matrix multiply
print("x @ y (matrix multiply) : ", x @ y)
# USUALLY UNINTENTIONAL ELEMENTWISE-MULTIPLICATION
try:
    print("x * y (elementwise multiply) : ", x * y)
except RuntimeError as err:
    print("x * y (elementwise multiply) refused:", err)

x = torch.LongTensor(4, 4).random_(10)
print(x)
# Turn it into a Tensor of shape (2, 8)
y = x.view(2, 8)
print(y)
# Turn it into a Tensor of shape (8, ?).
# The -1 is inferred from the shape of the Tensor.
z = x.view(8, -1)
print(z)
# Turn it into a Tensor of shape (16,) (flatten it).
# This is the same as x.view(16).
flat = x.view(-1)
print(flat)

x = torch.LongTensor(3, 5).random_(10)
print(x)
# Get the first row
print("First row:")
print(x[0])
# Get the last row
print("Last row:")
print(x[-1])
# Get the 3rd column
print("3rd column from left:")
print(x[:, 2])
# Get the last column
print("Last column from left:")
print(x[:, -1])

# Variable is in the autograd module
from tensorplug.autograd import Variable
# Variables wrap tensors
x = Variable(torch.Tensor([1, 2, 3]), requires_grad=True)
# You can access the underlying tensor with the .data attribute
print(x.data)
# Any operation you could use on Tensors, you can use on Variables
# Operations between Variables produce Variables.
y = Variable(torch.Tensor([4, 5, 6]), requires_grad=True)
z = x + y
print(z.data)
# But z also stores where it came from!
print(z.grad_fn)

z_sum = torch.sum(z)
print(z_sum)
print(z_sum.grad_fn)

# Backprop from s backwards into the grpah
# It'll follow the chain of computation by going from grad_fn to grad_fn
# until it reaches the input.
z_sum.backward()
print(x.grad)

input_size = 1
output_size = 1
my_model = torch.nn.Linear(input_size, output_size)
# we can see A and b
print(list(my_model.parameters()))

x = Variable(torch.Tensor([[0],[1],[2]])) # represents putting multiple data points through the model
print(my_model(x))

import matplotlib.pyplot as plt
# lets generate some linear data
N = 10
# params we are trying to learn
A = torch.Tensor([np.pi])
b = torch.Tensor([42])
x = torch.rand(N, input_size) * 5
y = A * x + b + torch.rand(N, input_size) # add some noise to spice it up
plt.scatter(x.numpy(), y.numpy())
plt.savefig(os.path.join(OUT, "seed_data.png"))
plt.close()

import tensorplug.nn.functional as F
x_var = Variable(x)
y_var = Variable(y)
learning_rate = 0.05
num_epochs = 500
for idx in range(num_epochs):
    my_model.zero_grad()
    y_hat = my_model(x_var)
    loss = F.mse_loss(y_hat, y_var) # this is the mean squared error
    loss.backward() # it computes the gradient for us!
    for param in my_model.parameters():
        param.data.add_(-learning_rate * param.grad.data)
    if idx % 50 == 0:
        print(idx, loss.data[0])

xs = Variable(torch.arange(0, 5, 0.01).view(-1, 1))
ys = my_model(xs)
plt.scatter(xs.data.numpy(), ys.data.numpy(), marker='.')
plt.scatter(x.numpy(), y.numpy())
plt.savefig(os.path.join(OUT, "seed_fit_manual.png"))
plt.close()
print(list(my_model.parameters()))

import tensorplug.optim as optim
learning_rate = 0.05
my_model = torch.nn.Linear(input_size, output_size) # reset model
opt = optim.SGD(my_model.parameters(), lr=learning_rate)
num_epochs = 500
for idx in range(num_epochs):
    my_model.zero_grad()
    y_hat = my_model(x_var)
    loss = F.mse_loss(y_hat, y_var) # this is the mean squared error
    loss.backward() # it computes the gradient for us!
    opt.step() # this does the parameter for us!
    if idx % 50 == 0:
        print(idx, loss.data[0])

xs = Variable(torch.arange(0, 5, 0.01).view(-1, 1))
ys = my_model(xs)
plt.scatter(xs.data.numpy(), ys.data.numpy(), marker='.')
plt.scatter(x.numpy(), y.numpy())
plt.savefig(os.path.join(OUT, "seed_fit_sgd.png"))
plt.close()
print(list(my_model.parameters()))
print("final loss:", loss.item())

"""INR fitting throughput: the same 28x28 images fitted one INR at a time and batched.

"One at a time" is how published fitting scripts do it: a SIREN nn.Module and a
torch.optim.Adam per image, a Python loop of steps. "Batched" is wsbench's zoo
fitter (wsbench.inr.fit.fit_in_chunks), plain and with its loss compiled
(`inr_compile=true`). All run the same 2-32-32-1 SIREN for the same number of
full-image Adam steps. Prints INR-steps per second and the batched rates as a
fraction of this machine's fp32 matrix-multiply rate, measured in the same run. Usage:
    python benchmarks/fit_throughput.py [--inrs 1024] [--steps 50] [--device cpu]
    python benchmarks/fit_throughput.py --device cuda --mnist-total 70000 --mnist-steps 1000
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from wsbench.inr.fields import Field
from wsbench.inr.fit import fit_in_chunks
from wsbench.inr.siren import SirenLayout, pixel_grid

LAYOUT = SirenLayout((2, 32, 32, 1))
PIXELS = 28 * 28


class Sine(nn.Module):
    def __init__(self, d_in: int, d_out: int, w0: float):
        super().__init__()
        self.linear, self.w0 = nn.Linear(d_in, d_out), w0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * self.linear(x))


def one_at_a_time(images: torch.Tensor, steps: int, device: torch.device) -> float:
    """INR-steps per second of fitting each image with its own module and optimiser."""
    coords = pixel_grid(28, 28).to(device)

    def fit(image: torch.Tensor, n: int) -> None:
        net = nn.Sequential(Sine(2, 32, 30.0), Sine(32, 32, 30.0), nn.Linear(32, 1)).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=5e-4)
        for _ in range(n):
            loss = (net(coords) - image).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    images = images.to(device)
    fit(images[0], 2)  # warm-up
    sync(device)
    start = time.perf_counter()
    for image in images:
        fit(image, steps)
    sync(device)
    return len(images) * steps / (time.perf_counter() - start)


def batched(images: torch.Tensor, steps: int, device: torch.device, compiled: bool = False) -> float:
    field = Field(pixel_grid(28, 28), images, "mse").to(device)
    init = LAYOUT.init(len(images), torch.Generator().manual_seed(0)).to(device)
    fit_in_chunks(LAYOUT, field, init, 2, 5e-4, compiled=compiled)  # warm-up (and compilation)
    sync(device)
    start = time.perf_counter()
    fit_in_chunks(LAYOUT, field, init, steps, 5e-4, compiled=compiled)
    sync(device)
    return len(images) * steps / (time.perf_counter() - start)


def gemm_flops(device: torch.device, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inrs", type=int, default=1024, help="INRs fitted batched")
    parser.add_argument("--alone", type=int, default=16, help="INRs fitted one at a time")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mnist-total", type=int, default=0,
                        help="also time fitting this many INRs batched (70000: all of MNIST)")
    parser.add_argument("--mnist-steps", type=int, default=1000)
    args = parser.parse_args()
    device = torch.device(args.device)
    images = torch.rand(args.inrs, PIXELS, 1, generator=torch.Generator().manual_seed(0))
    # forward + backward of the MLP part: 3x the forward multiply-adds, 2 flops each
    flops_per_step = 3 * 2 * PIXELS * sum(o * i for o, i in LAYOUT.layer_shapes)
    one = one_at_a_time(images[:args.alone], args.steps, device)
    many = batched(images, args.steps, device)
    fused = batched(images, args.steps, device, compiled=True)
    peak = gemm_flops(device)
    print(f"device: {device}, threads: {torch.get_num_threads()}, SIREN {LAYOUT.widths} on 28x28, "
          f"{args.steps} full-image Adam steps per INR")
    print(f"one INR at a time  ({args.alone:5d} INRs): {one:9.0f} INR-steps/s")
    print(f"batched            ({args.inrs:5d} INRs): {many:9.0f} INR-steps/s  ({many / one:.1f}x)")
    print(f"batched, compiled  ({args.inrs:5d} INRs): {fused:9.0f} INR-steps/s  ({fused / one:.1f}x)")
    print(f"fp32 GEMM rate: {peak / 1e9:.1f} GFLOP/s; batched fitting reaches "
          f"{100 * many * flops_per_step / peak:.1f}% of it, compiled {100 * fused * flops_per_step / peak:.1f}% "
          f"({many * flops_per_step / 1e9:.1f} and {fused * flops_per_step / 1e9:.1f} GFLOP/s of matrix multiplies)")
    if args.mnist_total:
        images = torch.rand(args.mnist_total, PIXELS, 1, generator=torch.Generator().manual_seed(1))
        field = Field(pixel_grid(28, 28), images, "mse").to(device)
        init = LAYOUT.init(args.mnist_total, torch.Generator().manual_seed(0)).to(device)
        start = time.perf_counter()
        fit_in_chunks(LAYOUT, field, init, args.mnist_steps, 5e-4, chunk=8192)
        sync(device)
        print(f"{args.mnist_total} INRs x {args.mnist_steps} steps (no early stop): "
              f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

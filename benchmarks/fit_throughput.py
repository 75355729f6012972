"""INR fitting throughput: the same 28x28 images fitted one INR at a time and batched.

Prints INR-steps per second for both and the batched rate as a fraction of this
machine's measured fp32 matrix-multiply rate. Usage:
    python benchmarks/fit_throughput.py [--batch 1024] [--steps 20] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from wsbench.inr.fields import Field
from wsbench.inr.fit import fit_inrs
from wsbench.inr.siren import SirenLayout, pixel_grid

LAYOUT = SirenLayout((2, 32, 32, 1))
PIXELS = 28 * 28


def rate(batch: int, steps: int, device: torch.device) -> float:
    """INR-steps per second of fitting `batch` INRs together for `steps` steps."""
    field = Field(pixel_grid(28, 28), torch.rand(batch, PIXELS, 1), "mse").to(device)
    init = LAYOUT.init(batch, torch.Generator().manual_seed(0)).to(device)
    fit_inrs(LAYOUT, field, init, 2, 5e-4)  # warm-up
    sync(device)
    start = time.perf_counter()
    fit_inrs(LAYOUT, field, init, steps, 5e-4)
    sync(device)
    return batch * steps / (time.perf_counter() - start)


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
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    # forward + backward of the MLP part: 3x the forward multiply-adds, 2 flops each
    flops_per_step = 3 * 2 * PIXELS * sum(o * i for o, i in LAYOUT.layer_shapes)
    one = rate(1, max(10, args.steps), device)
    many = rate(args.batch, args.steps, device)
    peak = gemm_flops(device)
    print(f"device: {device}, threads: {torch.get_num_threads()}, SIREN {LAYOUT.widths} on 28x28")
    print(f"one INR at a time : {one:10.0f} INR-steps/s")
    print(f"batched (B={args.batch:5d}): {many:10.0f} INR-steps/s  ({many / one:.1f}x)")
    print(f"fp32 GEMM rate    : {peak / 1e9:10.1f} GFLOP/s; batched fitting reaches "
          f"{100 * many * flops_per_step / peak:.1f}% of it")


if __name__ == "__main__":
    main()

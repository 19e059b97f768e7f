"""Our training step beside a reference-style step on the same batch (issue 22: ≥ 5× faster).

    python experiments/bench/reference_step.py [--resolutions 0.01 0.0068 0.005] [--frames 30]
        [--steps 3] [--repeats 3] [--max-dense-gb 10] [--out experiments/bench/results/reference_step.json]

Both steps train the same network on the same batch: a procedural head (seed 0) at each
`--resolutions` marching-cubes spacing, its operators from `scantalk.geometry`, `--frames` frames
of the same random audio features (32 per frame; the audio encoder is bypassed in both), paper
defaults (width 32, 4 blocks, k_eig 128), MSE against a fixed target, Adam. A step is the
identity encoder, the decoder, the loss, backward and the Adam step.

"ours" is `ScanTalk.encode_identity` + `ScanTalk.decode`. "reference-style" is written here from
the description of the reference implementation (not from its code): the same layers on the
same parameter tensors, but the decoder runs every frame as a batch element holding its own
dense copy of the Laplacian and of the gradient operators, (T, V, V) each, and of the eigenbasis,
(T, V, k), applied with `torch.bmm`; the encoder (one shape) applies the sparse operators. Before
timing, one process runs both on the same weights and records how far their frames and
parameter gradients differ, so the two columns time the same computation.

Each timed figure comes from a fresh process (so peak memory is per implementation), the
implementations alternate, and the median over `--repeats` processes (each a median over
`--steps` steps after one warm-up step) is reported. Sizes whose per-frame dense operators
would exceed `--max-dense-gb` are skipped and listed with the reason.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, report  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ("ours", "reference-style")
# Per-frame dense (V, V) tensors the reference-style decoder holds: Laplacian, grad_x, grad_y.
DENSE_OPERATORS_PER_FRAME = 3
# Learned diffusion times of a "trained" network, m²: exp(-λ t) then spans ~1 to ~e^-8 over the
# 128 eigenvalues of a head (λ up to ~8e3 m⁻²), so the check exercises the diffusion, not just
# the projection onto the eigenbasis that the initial time 0 gives.
TRAINED_DIFFUSION_TIME = 1e-3


def _setup(resolution: float, frames: int) -> dict[str, Any]:
    """The shared batch and a seeded, trained-like model: the same in every process."""
    from scantalk.synthesis.heads.procedural import procedural_head
    from scantalk.geometry import compute_operators
    from scantalk.model import ScanTalk

    head = procedural_head(0, resolution)
    ops = compute_operators(head.verts, head.faces, 128)
    template = torch.as_tensor(head.verts, dtype=torch.float32)
    torch.manual_seed(0)
    model = ScanTalk(k_eig=128)
    with torch.no_grad():
        torch.nn.init.normal_(model.decoder.output_linear.weight, std=1e-3)  # a non-zero decoder
        for network in (model.encoder, model.decoder):
            for block in network.blocks:
                block.diffusion.diffusion_time.uniform_(0.0, TRAINED_DIFFUSION_TIME)
    motion = torch.randn(frames, model.config.latent)  # stands in for the audio encoder's features
    target = template.expand(frames, -1, -1) + 1e-3 * torch.randn(frames, *template.shape)
    return {"model": model, "template": template, "ops": ops, "motion": motion, "target": target}


def our_displacement(model: Any, template: torch.Tensor, motion: torch.Tensor, ops: Any) -> torch.Tensor:
    """Displacements (T, V, 3) in metres from template (V, 3) and motion features (T, C): ScanTalk's path."""
    return model.decode(model.encode_identity(template, ops), motion, ops)


def reference_displacement(model: Any, template: torch.Tensor, motion: torch.Tensor, ops: Any) -> torch.Tensor:
    """Displacements (T, V, 3) in metres, computed the reference's way on `model`'s parameters.

    The encoder sees one shape with the sparse operators; the decoder sees T frames as a batch,
    [identity_v ‖ motion_t] built explicitly (T, V, 2C), with per-frame operator copies.
    """
    identity = _reference_network(model.encoder, (template / model.position_unit)[None], _shared_operators(ops))[0]
    num_frames, num_vertices = motion.shape[0], template.shape[0]
    inputs = torch.cat([identity.expand(num_frames, -1, -1), motion[:, None, :].expand(-1, num_vertices, -1)], dim=-1)
    displacement = _reference_network(model.decoder, inputs, _per_frame_operators(ops, num_frames))
    return displacement * model.displacement_unit


def _shared_operators(ops: Any) -> dict[str, torch.Tensor]:
    """One shape's operators: mass (1, V), evals (1, k), evecs (1, V, k); L, grad_x, grad_y sparse (V, V)."""
    return {"mass": ops.mass[None], "evals": ops.evals[None], "evecs": ops.evecs[None],
            "laplacian": ops.L, "grad_x": ops.grad_x, "grad_y": ops.grad_y}


def _per_frame_operators(ops: Any, num_frames: int) -> dict[str, torch.Tensor]:
    """One copy per frame, as a batch of T shapes: mass (T, V), evals (T, k), evecs (T, V, k) and
    dense L, grad_x, grad_y (T, V, V). The Laplacian is carried though spectral diffusion never
    reads it: the reference batch holds it all the same, and its memory and copy are part of the cost."""
    def per_frame(tensor: torch.Tensor) -> torch.Tensor:
        dense = tensor if tensor.layout == torch.strided else tensor.to_dense()
        return dense.unsqueeze(0).repeat(num_frames, *([1] * dense.dim()))

    return {"mass": per_frame(ops.mass), "evals": per_frame(ops.evals), "evecs": per_frame(ops.evecs),
            "laplacian": per_frame(ops.L), "grad_x": per_frame(ops.grad_x), "grad_y": per_frame(ops.grad_y)}


def _reference_network(network: Any, x: torch.Tensor, ops: dict[str, torch.Tensor]) -> torch.Tensor:
    """A `DiffusionNet`'s layers applied batch-first: (B, V, c_in) → (B, V, c_out)."""
    hidden = network.input_linear(x)
    for block in network.blocks:
        hidden = _reference_block(block, hidden, ops)
    return network.output_linear(hidden)


def _reference_block(block: Any, x: torch.Tensor, ops: dict[str, torch.Tensor]) -> torch.Tensor:
    """One DiffusionNet block on (B, V, C): MLP([x ‖ diffuse(x) ‖ gradient features]) + x."""
    diffusion_time = block.diffusion.diffusion_time.clamp(min=1e-8)
    spectral = torch.bmm(ops["evecs"].transpose(1, 2), x * ops["mass"][..., None])  # (B, k, C)
    decay = torch.exp(-ops["evals"][..., None] * diffusion_time)
    diffused = torch.bmm(ops["evecs"], decay * spectral)
    g_x, g_y = _apply(ops["grad_x"], diffused), _apply(ops["grad_y"], diffused)
    a_re, a_im = block.gradient_features.A_re, block.gradient_features.A_im
    b_re = F.linear(g_x, a_re) - F.linear(g_y, a_im)
    b_im = F.linear(g_y, a_re) + F.linear(g_x, a_im)
    features = torch.tanh(g_x * b_re + g_y * b_im)
    first, second, third = block.mlp
    hidden = torch.relu(first(torch.cat([x, diffused, features], dim=-1)))
    return third(torch.relu(second(hidden))) + x


def _apply(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, V, V) dense batched product, or a shared sparse (V, V) applied to each of the B fields."""
    if matrix.layout == torch.strided:
        return torch.bmm(matrix, x)
    return torch.stack([matrix @ field for field in x])


FORWARDS: dict[str, Callable[..., torch.Tensor]] = {"ours": our_displacement, "reference-style": reference_displacement}


def _parameters(model: Any) -> list[torch.nn.Parameter]:
    return [*model.encoder.parameters(), *model.decoder.parameters()]


def _loss(forward: Callable[..., torch.Tensor], batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE of the frames (template + displacement) against the batch's target frames (T, V, 3),
    and the displacement (T, V, 3)."""
    displacement = forward(batch["model"], batch["template"], batch["motion"], batch["ops"])
    return (batch["template"] + displacement - batch["target"]).square().mean(), displacement


def measure(implementation: str, resolution: float, frames: int, steps: int) -> dict[str, Any]:
    """Median seconds of one training step after a warm-up step, in this process.

    Args:
        implementation: "ours" or "reference-style".
        resolution: procedural head spacing in metres.
        frames: frames in the batch.
        steps: timed steps.

    Returns:
        vertices, step_s (median), steps_s (each step) and peak_rss_mb of this process.
    """
    batch = _setup(resolution, frames)
    optimiser = torch.optim.Adam(_parameters(batch["model"]), lr=1e-4)
    times = []
    for _ in range(steps + 1):  # the first step warms up allocators (and our cached eigenbasis products)
        clock = time.perf_counter()
        loss, _ = _loss(FORWARDS[implementation], batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - clock)
    return {"vertices": int(batch["template"].shape[0]), "step_s": statistics.median(times[1:]),
            "steps_s": times[1:], "peak_rss_mb": peak_rss_mb()}


def check(resolution: float, frames: int, check_frames: int) -> dict[str, Any]:
    """How far the two implementations' displacements and parameter gradients differ on the same weights.

    Both are float32; the reference-style computation in float64 is the yardstick that shows
    what float32 rounding alone gives (the gradients are sums over T·V terms of both signs).
    The reference-style path rounds more: it differences neighbouring values of diffused fields
    (G (Φ c)) where ours applies G to the eigenvectors once ((G Φ) c), so its float32 gradients
    sit further from float64 than ours do. The check runs on the first `check_frames` frames of the timed batch (frames never
    interact; all of them in float64 would need 8·3·T·V² bytes).

    Returns:
        max_abs_displacement_m (the signal), and for "ours vs reference-style", "ours vs float64"
        and "reference-style vs float64": max_abs_diff_displacement_m and max_rel_diff_gradients
        (per parameter max |difference| / max |gradient|, the largest over parameters).
    """
    batch = _setup(resolution, frames)
    batch.update({name: batch[name][:check_frames] for name in ("motion", "target")})
    results = {name: _displacement_and_gradients(forward, batch) for name, forward in FORWARDS.items()}
    exact = {**batch, "model": copy.deepcopy(batch["model"]).double(), "ops": _float64_operators(batch["ops"])}
    exact.update({name: batch[name].double() for name in ("template", "motion", "target")})
    results["float64"] = _displacement_and_gradients(reference_displacement, exact)
    comparisons = {}
    for first, second in (("ours", "reference-style"), ("ours", "float64"), ("reference-style", "float64")):
        (displacement_a, gradients_a), (displacement_b, gradients_b) = results[first], results[second]
        comparisons[f"{first} vs {second}"] = {
            "max_abs_diff_displacement_m": (displacement_a.double() - displacement_b).abs().max().item(),
            "max_rel_diff_gradients": max(((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()
                                          for a, b in zip(gradients_a, gradients_b))}
    return {"vertices": int(batch["template"].shape[0]), "frames": check_frames,
            "max_abs_displacement_m": results["float64"][0].abs().max().item(), **comparisons}


def _displacement_and_gradients(forward: Callable[..., torch.Tensor], batch: dict[str, Any]) -> tuple:
    """Displacements (T, V, 3) and the encoder/decoder parameter gradients of one loss evaluation."""
    batch["model"].zero_grad()
    loss, displacement = _loss(forward, batch)
    loss.backward()
    return displacement.detach(), [parameter.grad.clone() for parameter in _parameters(batch["model"])]


def _float64_operators(ops: Any) -> SimpleNamespace:
    """The operators the reference-style path reads, in float64."""
    return SimpleNamespace(**{name: getattr(ops, name).to(torch.float64)
                              for name in ("mass", "evals", "evecs", "L", "grad_x", "grad_y")})


def _worker(*arguments: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", *arguments]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker {arguments} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dense_gb(num_vertices: int, frames: int) -> float:
    """GiB of the reference-style decoder's per-frame dense (V, V) operators (float32)."""
    return DENSE_OPERATORS_PER_FRAME * frames * num_vertices**2 * 4 / 2**30


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Check, then time, both implementations at each size that fits; print and write the results.

    Args:
        argv: command-line arguments (see the module docstring); None reads `sys.argv`.

    Returns:
        The table rows, two per size timed.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=float, nargs="+", default=[0.01, 0.0068, 0.005],
                        help="procedural head spacings in metres (0.01: ~3k vertices, 0.0068: ~5k)")
    parser.add_argument("--frames", type=int, default=30, help="frames in the batch (30 fps)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per process")
    parser.add_argument("--repeats", type=int, default=3, help="processes per implementation (median reported)")
    parser.add_argument("--check-frames", type=int, default=4, help="frames of the batch the equivalence check runs on")
    parser.add_argument("--max-dense-gb", type=float, default=10.0,
                        help="skip sizes whose per-frame dense operators exceed this (GiB)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task, resolution = args.worker[0], float(args.worker[1])
        result = check(resolution, args.frames, args.check_frames) if task == "check" else measure(task, resolution, args.frames, args.steps)
        print(json.dumps(result))
        return []

    from scantalk.synthesis.heads.procedural import procedural_head

    load_before = os.getloadavg()
    rows, checks, skipped, runs = [], {}, [], {}
    for resolution in args.resolutions:
        num_vertices = len(procedural_head(0, resolution).verts)
        if _dense_gb(num_vertices, args.frames) > args.max_dense_gb:
            skipped.append({"resolution_m": resolution, "vertices": num_vertices,
                            "reason": f"per-frame dense operators would take {_dense_gb(num_vertices, args.frames):.1f} GiB "
                                      f"(> --max-dense-gb {args.max_dense_gb})"})
            print(f"skipped {num_vertices} vertices: {skipped[-1]['reason']}", flush=True)
            continue
        checks[num_vertices] = _worker("check", str(resolution), "--frames", str(args.frames),
                                         "--check-frames", str(args.check_frames))
        print(f"{num_vertices} vertices, equivalence: {checks[num_vertices]}", flush=True)
        size_runs = {implementation: [] for implementation in IMPLEMENTATIONS}
        for repeat in range(args.repeats):
            for implementation in IMPLEMENTATIONS:  # alternate, so load drift hits both alike
                size_runs[implementation].append(_worker(implementation, str(resolution), "--frames", str(args.frames),
                                                         "--steps", str(args.steps)))
                print(f"{num_vertices} vertices, repeat {repeat + 1}/{args.repeats} {implementation}: "
                      f"{size_runs[implementation][-1]['step_s']:.2f} s/step", flush=True)
        runs[num_vertices] = size_runs
        rows += _rows(num_vertices, size_runs, args.frames)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    report("reference_step", rows, args.out, commit=commit, frames=args.frames, repeats=args.repeats,
           steps_per_repeat=args.steps, target="≥ 5× faster (frames/s, ours / reference-style)",
           load_average_1_5_15_before=[round(x, 1) for x in load_before],
           load_average_1_5_15_after=[round(x, 1) for x in os.getloadavg()],
           note="medians over repeats on a shared machine (another training job running); runs alternate",
           equivalence={str(size): result for size, result in checks.items()}, skipped=skipped,
           runs={str(size): size_runs for size, size_runs in runs.items()})
    print("target: ours ≥ 5× faster than the reference-style step (frames/s)")
    return rows


def _rows(num_vertices: int, size_runs: dict[str, list[dict[str, Any]]], frames: int) -> list[dict[str, Any]]:
    medians = {name: statistics.median(run["step_s"] for run in runs) for name, runs in size_runs.items()}
    rows = []
    for name, runs in size_runs.items():
        times = [run["step_s"] for run in runs]
        rows.append({"vertices": num_vertices, "implementation": name, "s_per_step": medians[name],
                     "min_s": min(times), "max_s": max(times), "frames_per_s": frames / medians[name],
                     "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
                     "speed_up": medians["reference-style"] / medians[name], "target": "≥ 5×" if name == "ours" else ""})
    return rows


if __name__ == "__main__":
    main()

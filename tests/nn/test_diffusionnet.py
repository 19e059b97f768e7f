"""DiffusionNet: shapes, frame batching, diffusion and gradient-feature properties, discretisation
agnosticism, training plumbing (zero init, gradients, autocast) and O(V) memory."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from scantalk.errors import MeshError
from scantalk.geometry.operators import SurfaceOperators, compute_operators, sparse_to_torch
from scantalk.geometry.shapes import icosphere, irregular_sphere
from scantalk.nn import DiffusionNet, DiffusionNetBlock, GradientFeatures, SpectralDiffusion, spectral_basis


@pytest.fixture(scope="module")
def sphere() -> SurfaceOperators:
    """Unit icosphere, 642 vertices, 48 eigenpairs (complete spherical-harmonic bands l ≤ 6 are 49)."""
    verts, faces = icosphere(3)
    return compute_operators(verts, faces, k_eig=48)


def _to_scipy(matrix: torch.Tensor) -> sp.csr_matrix:
    csr = matrix.to_sparse_csr()
    return sp.csr_matrix(
        (csr.values().numpy(), csr.col_indices().numpy(), csr.crow_indices().numpy()), shape=tuple(csr.shape)
    )


def _net(seed: int = 0, **kwargs) -> DiffusionNet:
    torch.manual_seed(seed)
    options = dict(width=16, n_blocks=2)
    options.update(kwargs)
    return DiffusionNet(**options).eval()


def test_output_shapes_for_single_field_batch_and_global_mean(sphere: SurfaceOperators) -> None:
    V = sphere.num_vertices
    net = _net(c_in=3, c_out=5)
    assert net(torch.randn(V, 3), sphere).shape == (V, 5)
    assert net(torch.randn(4, V, 3), sphere).shape == (4, V, 5)
    pooled = _net(c_in=3, c_out=5, outputs="global_mean")
    assert pooled(torch.randn(V, 3), sphere).shape == (5,)
    assert pooled(torch.randn(4, V, 3), sphere).shape == (4, 5)


def test_global_mean_is_the_mass_weighted_mean_of_vertex_outputs(sphere: SurfaceOperators) -> None:
    x = torch.randn(3, sphere.num_vertices, 2)
    per_vertex = _net(c_in=2, c_out=4)(x, sphere)
    pooled = _net(c_in=2, c_out=4, outputs="global_mean")(x, sphere)
    expected = (per_vertex * sphere.mass[None, :, None]).sum(1) / sphere.mass.sum()
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunk_floats", [1, 1 << 22])
def test_a_batch_of_frames_equals_the_frames_run_one_by_one(sphere: SurfaceOperators, chunk_floats: int) -> None:
    net = _net(c_in=3, c_out=3, chunk_floats=chunk_floats)
    frames = torch.randn(30, sphere.num_vertices, 3)  # chunk_floats=1 → chunks of 24 + 6 frames at width 16
    with torch.no_grad():
        batched = net(frames, sphere)
        one_by_one = torch.stack([net(frame, sphere) for frame in frames])
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("outputs", ["vertices", "global_mean"])
def test_factored_forward_equals_forward_on_the_joined_inputs(sphere: SurfaceOperators, outputs: str) -> None:
    net = _net(c_in=5, c_out=2, outputs=outputs)
    per_vertex, per_frame = torch.randn(sphere.num_vertices, 3), torch.randn(7, 2)
    joined = torch.cat([per_vertex.expand(7, -1, -1), per_frame[:, None].expand(-1, sphere.num_vertices, -1)], -1)
    with torch.no_grad():
        expected = net(joined, sphere)
        factored = net.forward_factored(per_vertex, per_frame, sphere)
        net.chunk_floats = 1  # the memory budget is a runtime setting and changes no result
        chunked = net.forward_factored(per_vertex, per_frame, sphere)
    torch.testing.assert_close(factored, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunked, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="Cv \\+ Cf = 5"):
        net.forward_factored(per_vertex, torch.randn(7, 3), sphere)


def test_diffusion_keeps_constants_and_preserves_the_mass_weighted_mean(sphere: SurfaceOperators) -> None:
    layer = SpectralDiffusion(4)
    with torch.no_grad():
        layer.diffusion_time.copy_(torch.tensor([0.0, 1e-3, 0.1, 10.0]))
    constant = torch.full((sphere.num_vertices, 2, 4), 3.5)
    torch.testing.assert_close(layer(constant, sphere), constant, atol=1e-4, rtol=1e-5)

    field = torch.randn(sphere.num_vertices, 2, 4)
    diffused = layer(field, sphere)
    mean = lambda f: torch.einsum("v,vbc->bc", sphere.mass, f) / sphere.mass.sum()  # noqa: E731
    torch.testing.assert_close(mean(diffused), mean(field), atol=1e-4, rtol=1e-4)
    # A long time leaves only the mean; a short one leaves the field's smooth part almost intact.
    torch.testing.assert_close(diffused[..., 3], mean(field)[None, :, 3].expand(sphere.num_vertices, 2), atol=1e-4, rtol=1e-4)
    smooth = torch.as_tensor(sphere.verts[:, :1].numpy() * np.ones((1, 4), np.float32))
    torch.testing.assert_close(layer(smooth, sphere)[:, 1], smooth[:, 1], atol=1e-2, rtol=0)
    assert diffused[..., 2].std() < 0.5 * diffused[..., 1].std()


def _rotated_frames(ops: SurfaceOperators, seed: int) -> SurfaceOperators:
    """Same surface, every vertex's tangent frame turned by its own random angle θ: the gradient
    components become (cos θ gx + sin θ gy, −sin θ gx + cos θ gy)."""
    theta = np.random.default_rng(seed).uniform(0, 2 * np.pi, ops.num_vertices)
    cos, sin = sp.diags(np.cos(theta)), sp.diags(np.sin(theta))
    gx, gy = _to_scipy(ops.grad_x), _to_scipy(ops.grad_y)
    return dataclasses.replace(ops, grad_x=sparse_to_torch(cos @ gx + sin @ gy), grad_y=sparse_to_torch(cos @ gy - sin @ gx))


@pytest.mark.parametrize("with_rotations", [True, False])
def test_gradient_features_do_not_depend_on_the_tangent_frames(sphere: SurfaceOperators, with_rotations: bool) -> None:
    torch.manual_seed(0)
    block = DiffusionNetBlock(8, with_gradient_rotations=with_rotations, diffusion_time_init=1e-2)
    x = torch.randn(sphere.num_vertices, 3, 8)
    with torch.no_grad():
        reference = block(x, sphere)
        rotated = block(x, _rotated_frames(sphere, seed=1))
        no_gradients = block(x, dataclasses.replace(sphere, grad_x=sphere.grad_x * 0, grad_y=sphere.grad_y * 0))
    torch.testing.assert_close(rotated, reference, atol=1e-5, rtol=1e-5)
    assert (no_gradients - reference).abs().max() > 1e-2  # the features do take part


def test_gradient_features_are_the_tanh_of_a_tangent_dot_product() -> None:
    torch.manual_seed(0)
    layer = GradientFeatures(3)
    gradients = torch.randn(2, 7, 3)
    a = torch.complex(layer.A_re, layer.A_im).detach()
    g = torch.complex(gradients[0], gradients[1])
    b = g @ a.T
    expected = torch.tanh(g.real * b.real + g.imag * b.imag)
    torch.testing.assert_close(layer(gradients).detach(), expected)


@pytest.fixture(scope="module")
def two_meshings() -> tuple[SurfaceOperators, SurfaceOperators, np.ndarray]:
    """The unit sphere as a regular icosphere (2562 v) and as an irregular hull of random points
    (3000 v, 4:1 denser towards +z), and for each irregular vertex its nearest regular vertex."""
    regular_verts, regular_faces = icosphere(4)
    irregular_verts, irregular_faces = irregular_sphere(3000, seed=3)
    # 64 eigenpairs = the complete spherical-harmonic bands l ≤ 7, the same subspace on both meshes.
    regular = compute_operators(regular_verts, regular_faces, k_eig=64)
    irregular = compute_operators(irregular_verts, irregular_faces, k_eig=64)
    nearest = np.argmin(((irregular_verts[:, None, :] - regular_verts[None, :, :]) ** 2).sum(-1), axis=1)
    return regular, irregular, nearest


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


@pytest.mark.slow
def test_same_surface_meshed_two_ways_gives_the_same_network_outputs(two_meshings) -> None:
    regular, irregular, nearest = two_meshings
    net = _net(c_in=3, c_out=8, width=32, n_blocks=4, diffusion_time_init=0.05)
    with torch.no_grad():
        out_regular = net(regular.verts, regular).numpy()
        out_irregular = net(irregular.verts, irregular).numpy()
    matched, unrelated = out_regular[nearest], out_regular[np.random.default_rng(0).permutation(nearest)]
    assert _correlation(matched, out_irregular).min() > 0.99
    assert np.abs(_correlation(unrelated, out_irregular)).max() < 0.2
    # Without the mass weighting (uniform vertex weights) this error is above 0.04 on these meshes.
    assert np.abs(matched - out_irregular).mean() < 0.03 * np.abs(out_irregular).mean()


@pytest.mark.slow
def test_same_surface_meshed_two_ways_diffuses_a_field_the_same_way(two_meshings) -> None:
    regular, irregular, nearest = two_meshings
    layer = SpectralDiffusion(1, time_init=0.05)

    def diffused(ops: SurfaceOperators) -> np.ndarray:
        verts = ops.verts
        field = torch.tanh(5 * verts[:, :1]) * torch.cos(3 * verts[:, 1:2])
        with torch.no_grad():
            return layer(field, ops).numpy()

    on_regular, on_irregular = diffused(regular)[nearest], diffused(irregular)
    # Without the mass weighting this error is about 0.4.
    assert np.abs(on_regular - on_irregular).max() < 0.2 * np.abs(on_irregular).max()


def test_zero_init_last_gives_zero_output(sphere: SurfaceOperators) -> None:
    x = torch.randn(2, sphere.num_vertices, 3)
    net = _net(c_in=3, c_out=3)
    net.zero_init_last()
    assert torch.count_nonzero(net(x, sphere)) == 0
    assert torch.count_nonzero(_net(c_in=3, c_out=3, zero_init_last=True)(x, sphere)) == 0


def test_every_parameter_including_diffusion_time_gets_a_gradient(sphere: SurfaceOperators) -> None:
    net = _net(c_in=3, c_out=3).train()
    frames = torch.randn(2, sphere.num_vertices, 3)
    (net(frames, sphere) ** 2).mean().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().max() > 0, name
    assert all(block.diffusion.diffusion_time.grad.abs().min() > 0 for block in net.blocks)


def test_diffusion_time_below_the_floor_acts_as_the_floor_and_still_learns(sphere: SurfaceOperators) -> None:
    layer = SpectralDiffusion(2, time_init=-1.0)
    floored = SpectralDiffusion(2, time_init=1e-8)
    x = torch.randn(sphere.num_vertices, 2)
    torch.testing.assert_close(layer(x, sphere), floored(x, sphere))
    (layer(x, sphere) * x).sum().backward()
    assert layer.diffusion_time.grad.abs().min() > 0


def test_coo_and_csr_operators_give_the_same_output(sphere: SurfaceOperators) -> None:
    coo = dataclasses.replace(sphere, grad_x=sphere.grad_x.to_sparse_coo(), grad_y=sphere.grad_y.to_sparse_coo())
    net = _net(c_in=3, c_out=3)
    x = torch.randn(2, sphere.num_vertices, 3)
    torch.testing.assert_close(net(x, coo), net(x, sphere))


def test_runs_under_bfloat16_autocast(sphere: SurfaceOperators) -> None:
    net = _net(c_in=3, c_out=3)
    x = sphere.verts[None].repeat(2, 1, 1)
    reference = net(x, sphere)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = net(x, sphere)
    (mixed.float() ** 2).mean().backward()
    assert torch.isfinite(mixed.float()).all()
    assert (mixed.float() - reference).abs().max() < 0.05 * reference.abs().max()


def test_basis_is_cached_on_the_operators_object(sphere: SurfaceOperators) -> None:
    assert spectral_basis(sphere) is spectral_basis(sphere)
    copy = dataclasses.replace(sphere)
    basis = weakref.ref(spectral_basis(copy))
    del copy
    gc.collect()
    assert basis() is None  # held by the operators object itself: it dies with it, no global cache
    moved = dataclasses.replace(sphere)
    assert spectral_basis(moved) is not spectral_basis(sphere)
    moved.evecs = -moved.evecs
    torch.testing.assert_close(spectral_basis(moved).synthesis, -spectral_basis(sphere).synthesis)


def test_features_of_another_mesh_are_rejected(sphere: SurfaceOperators) -> None:
    with pytest.raises(MeshError, match="642"):
        _net(c_in=3, c_out=3)(torch.randn(100, 3), sphere)


def _synthetic_operators(num_vertices: int, k: int, seed: int = 0) -> SurfaceOperators:
    """Operators with the right shapes and sparsity (7 entries per gradient row), not a real surface."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(num_vertices), 7)
    cols = (rows + rng.integers(-50, 50, rows.size)) % num_vertices

    def gradient() -> torch.Tensor:
        return sparse_to_torch(sp.csr_matrix((rng.normal(size=rows.size), (rows, cols)), shape=(num_vertices,) * 2))

    evecs = torch.from_numpy(rng.normal(size=(num_vertices, k)).astype(np.float32)) / num_vertices**0.5
    return SurfaceOperators(
        verts=torch.from_numpy(rng.normal(size=(num_vertices, 3)).astype(np.float32)), faces=None,
        mass=torch.full((num_vertices,), 1.0 / num_vertices), L=gradient(), evals=torch.linspace(0, 100, k),
        evecs=evecs, grad_x=gradient(), grad_y=gradient(), frames=torch.eye(3).expand(num_vertices, 3, 3),
    )  # fmt: skip


def test_a_100k_vertex_surface_trains_without_dense_vertex_by_vertex_tensors() -> None:
    # A dense (V, V) float32 tensor here would be 40 GB; the run needs O(V·(k + B·C)) ≈ 100 MB.
    ops = _synthetic_operators(100_000, k=16)
    net = _net(c_in=3, c_out=3, width=8, n_blocks=1).train()
    frames = ops.verts[None].repeat(3, 1, 1)
    out = net(frames, ops)
    out.square().mean().backward()
    assert out.shape == (3, 100_000, 3) and torch.isfinite(out).all()

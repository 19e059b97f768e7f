"""Surface operators: spectra, orthonormality, gradients, diffusion, robustness, serialisation,
independence from the vertex order."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from scantalk.errors import MeshError
from scantalk.geometry import shapes
from scantalk.geometry.operators import SurfaceOperators, compute_operators, hks

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray, SurfaceOperators]:
    verts, faces = shapes.icosphere(4)  # 2562 vertices, unit radius
    return verts, faces, compute_operators(verts, faces, k_eig=32)


def exact_tangent_gradient(ops: SurfaceOperators, ambient: np.ndarray) -> np.ndarray:
    """(V, 2) gradient of f(x) = ambient·x in each vertex frame, using the true surface normal."""
    frames = ops.frames.double().numpy()
    return np.einsum("vci,i->vc", frames[:, :2], ambient)


def test_sphere_spectrum_is_l_times_l_plus_one(sphere):
    _, _, ops = sphere
    evals = ops.evals.double().numpy()
    assert evals[0] == pytest.approx(0.0, abs=1e-4)
    expected = np.repeat([2.0, 6.0, 12.0], [3, 5, 7])
    np.testing.assert_allclose(evals[1:16], expected, rtol=0.01)
    assert np.all(np.diff(evals) >= -1e-5)


def test_eigenvectors_are_mass_orthonormal(sphere):
    _, _, ops = sphere
    gram = ops.evecs.double().T @ (ops.mass.double()[:, None] * ops.evecs.double())
    np.testing.assert_allclose(gram.numpy(), np.eye(ops.k_eig), atol=1e-4)


def test_output_types_and_shapes(sphere):
    verts, faces, ops = sphere
    V = len(verts)
    assert ops.num_vertices == V and ops.k_eig == 32 and ops.device == torch.device("cpu")
    for name in ("verts", "mass", "evals", "evecs", "frames"):
        assert getattr(ops, name).dtype == torch.float32
    assert ops.faces.shape == faces.shape and ops.faces.dtype == torch.int64
    for name in ("L", "grad_x", "grad_y"):
        matrix = getattr(ops, name)
        assert matrix.layout == torch.sparse_csr and matrix.shape == (V, V)
    assert ops.frames.shape == (V, 3, 3)
    assert torch.all(ops.mass > 0)
    assert ops.mass.sum().item() == pytest.approx(4 * np.pi, rel=0.01)


def test_laplacian_is_symmetric_psd_and_kills_constants():
    ops = compute_operators(*shapes.irregular_sphere(300), k_eig=8)
    dense = ops.L.to_dense().double()
    torch.testing.assert_close(dense, dense.T)
    row_sums = dense @ torch.ones(ops.num_vertices, dtype=torch.float64)
    assert row_sums.abs().max() < 1e-5 * dense.diagonal().max()  # float32 round-off only
    assert torch.linalg.eigvalsh(dense)[0] > -1e-6


def test_gradient_of_linear_function_on_flat_patch_is_exact():
    verts, faces = shapes.flat_patch(20, size=0.1, jitter=0.3)
    ops = compute_operators(verts, faces, k_eig=8)
    ambient = np.array([0.7, -1.3, 5.0])  # the z part is normal to the patch and must vanish
    f = torch.tensor(verts @ ambient, dtype=torch.float32)
    predicted = torch.stack([ops.grad_x @ f, ops.grad_y @ f], dim=1).double().numpy()
    np.testing.assert_allclose(predicted, exact_tangent_gradient(ops, ambient), atol=1e-3)
    assert np.allclose(np.linalg.norm(predicted, axis=1), np.hypot(0.7, 1.3), rtol=1e-3)


def test_gradient_of_linear_function_on_sphere_matches_tangent_projection(sphere):
    verts, _, ops = sphere
    ambient = np.array([0.3, -0.5, 0.8])
    f = torch.tensor(verts @ ambient, dtype=torch.float32)
    predicted = torch.stack([ops.grad_x @ f, ops.grad_y @ f], dim=1).double().numpy()
    exact = exact_tangent_gradient(ops, ambient)
    error = np.linalg.norm(predicted - exact, axis=1).max()
    assert error < 0.02 * np.linalg.norm(ambient)
    normals = ops.frames[:, 2].double().numpy()
    assert np.einsum("vi,vi->v", normals, verts).min() > 0.99  # outward unit normals


def test_spectral_diffusion_keeps_constants_and_mean(sphere):
    _, _, ops = sphere
    mass, evecs, evals = ops.mass.double(), ops.evecs.double(), ops.evals.double()
    time = 0.05

    def diffuse(x: torch.Tensor) -> torch.Tensor:
        return evecs @ (torch.exp(-evals * time)[:, None] * (evecs.T @ (mass[:, None] * x)))

    constant = torch.full((ops.num_vertices, 1), 3.0, dtype=torch.float64)
    torch.testing.assert_close(diffuse(constant), constant, atol=1e-4, rtol=0)
    field = torch.tensor(ops.verts[:, :1].double().numpy() ** 2 + 0.2, dtype=torch.float64)
    mean_before = (mass[:, None] * field).sum() / mass.sum()
    mean_after = (mass[:, None] * diffuse(field)).sum() / mass.sum()
    assert mean_after.item() == pytest.approx(mean_before.item(), rel=1e-4)


def test_point_cloud_spectrum_and_gradients():
    verts, _ = shapes.fibonacci_sphere(1500)
    ops = compute_operators(verts, None, k_eig=16)
    assert ops.faces is None
    np.testing.assert_allclose(ops.evals[1:4].double().numpy(), 2.0, rtol=0.05)
    ambient = np.array([1.0, 2.0, -0.5])
    f = torch.tensor(verts @ ambient, dtype=torch.float32)
    predicted = torch.stack([ops.grad_x @ f, ops.grad_y @ f], dim=1).double().numpy()
    assert np.linalg.norm(predicted - exact_tangent_gradient(ops, ambient), axis=1).max() < 0.1


def test_two_components_give_two_zero_eigenvalues():
    verts, faces = shapes.icosphere(2)
    both = np.concatenate([verts, verts + [3.0, 0.0, 0.0]])
    ops = compute_operators(both, np.concatenate([faces, faces + len(verts)]), k_eig=10)
    evals = ops.evals.double().numpy()
    assert np.all(np.abs(evals[:2]) < 1e-4) and evals[2] > 1.0
    assert torch.isfinite(ops.evecs).all()


def test_non_manifold_mesh_gives_finite_operators():
    verts, faces = shapes.icosphere(2)
    # A fin: two extra triangles hanging off an existing edge make that edge non-manifold.
    a, b = faces[0, 0], faces[0, 1]
    fin_tip = 1.5 * verts[a]
    fin_tip2 = 1.5 * verts[b]
    verts = np.concatenate([verts, [fin_tip, fin_tip2]])
    faces = np.concatenate([faces, [[a, b, len(verts) - 2], [b, a, len(verts) - 1]]])
    ops = compute_operators(verts, faces, k_eig=12)
    assert ops.evecs.shape == (len(verts), 12)
    for name in ("mass", "evals", "evecs", "frames"):
        assert torch.isfinite(getattr(ops, name)).all(), name
    for name in ("L", "grad_x", "grad_y"):
        assert torch.isfinite(getattr(ops, name).values()).all(), name


def test_degenerate_one_rings_give_finite_gradients():
    verts, faces = shapes.flat_patch(8, size=1.0)
    extra = np.array([[5.0, 5.0, 0.0],  # isolated: no faces at all
                      [2.0, 0.0, 0.0], [3.0, 0.0, 0.0], [4.0, 0.0, 0.0],  # collinear sliver fan
                      [0.5, 0.5, 0.0]])  # collapsed triangle: three corners at one point
    V = len(verts)
    verts = np.concatenate([verts, extra, [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]])
    faces = np.concatenate([faces, [[V + 1, V + 2, V + 3], [V + 4, V + 5, V + 6]]])
    ops = compute_operators(verts, faces, k_eig=8)
    f = torch.tensor(verts @ np.array([1.0, 2.0, 0.0]), dtype=torch.float32)
    gradient = torch.stack([ops.grad_x @ f, ops.grad_y @ f], dim=1)
    assert torch.isfinite(gradient).all()
    assert torch.isfinite(ops.evecs).all() and torch.isfinite(ops.frames).all()
    assert gradient[V].abs().max() == 0  # an isolated vertex has no information: zero gradient


def test_invalid_arrays_raise_mesh_error():
    verts, faces = shapes.icosphere(1)
    with pytest.raises(MeshError, match="refers to vertex"):
        compute_operators(verts, faces + 1)
    with pytest.raises(MeshError, match="NaN"):
        compute_operators(np.where(np.arange(len(verts))[:, None] == 3, np.nan, verts), faces)
    with pytest.raises(MeshError, match=r"\(V, 3\)"):
        compute_operators(verts[:, :2], faces)


def test_array_round_trip_and_validation(sphere):
    _, _, ops = sphere
    arrays = ops.to_arrays()
    assert all(isinstance(value, np.ndarray) for value in arrays.values())
    restored = SurfaceOperators.from_arrays(arrays)
    for name in ("verts", "faces", "mass", "evals", "evecs", "frames"):
        torch.testing.assert_close(getattr(restored, name), getattr(ops, name), rtol=0, atol=0)
    for name in ("L", "grad_x", "grad_y"):
        torch.testing.assert_close(getattr(restored, name).to_dense(), getattr(ops, name).to_dense(), rtol=0, atol=0)
    missing = dict(arrays)
    del missing["grad_y_data"]
    with pytest.raises(ValueError, match="grad_y_data"):
        SurfaceOperators.from_arrays(missing)
    bad = dict(arrays, evecs=arrays["evecs"][:-1])
    with pytest.raises(ValueError, match="evecs"):
        SurfaceOperators.from_arrays(bad)
    with pytest.raises(ValueError, match="version"):
        SurfaceOperators.from_arrays(dict(arrays, format_version=np.array(999)))


def test_to_device_keeps_values(sphere):
    _, _, ops = sphere
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        moved = ops.to(device)
        assert moved.device.type == device and moved.L.device.type == device
        back = moved.to("cpu")
        torch.testing.assert_close(back.evecs, ops.evecs, rtol=0, atol=0)
        torch.testing.assert_close(back.grad_x.to_dense(), ops.grad_x.to_dense(), rtol=0, atol=0)


def test_sparse_operators_support_autograd(sphere):
    _, _, ops = sphere
    x = torch.randn(ops.num_vertices, 4, requires_grad=True)
    (ops.grad_x @ x).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_hks_shape_and_decay(sphere):
    _, _, ops = sphere
    signature = hks(ops, n_scales=16)
    assert signature.shape == (ops.num_vertices, 16)
    assert torch.all(signature > 0)
    assert torch.all(signature[:, 1:] <= signature[:, :-1] + 1e-6)  # heat only spreads out over time


@pytest.mark.slow
def test_coarse_to_fine_eigensolver_matches_direct_solve():
    verts, faces = shapes.head_like(8000)
    fast = compute_operators(verts, faces, k_eig=128, eigensolver="multilevel").evals.double().numpy()
    exact = compute_operators(verts, faces, k_eig=128, eigensolver="direct").evals.double().numpy()
    assert fast[0] == pytest.approx(0.0, abs=1e-3 * exact[1])
    np.testing.assert_allclose(fast[1:], exact[1:], rtol=0.01)


def test_clean_mesh_gets_potpourri3d_cotan_laplacian_with_robust_spectrum():
    import potpourri3d
    import robust_laplacian
    import scipy.linalg

    from scantalk.geometry.laplacian import cotan_laplacian, laplacian_and_mass

    verts, faces = shapes.irregular_sphere(600, seed=3)
    assert cotan_laplacian(verts, faces) is not None  # a clean mesh takes the plain operator
    L, mass = laplacian_and_mass(verts, faces)
    # Exactly the field's reference operator (potpourri3d), to round-off.
    reference = potpourri3d.cotan_laplacian(verts, faces)
    assert abs(L - reference).max() < 1e-12 * abs(reference).max()
    np.testing.assert_allclose(mass, potpourri3d.vertex_areas(verts, faces), rtol=1e-12)
    assert mass.sum() == pytest.approx(4 * np.pi, rel=0.02)  # barycentric areas sum to the surface area
    robust_L, robust_M = robust_laplacian.mesh_laplacian(verts, faces)
    ours = scipy.linalg.eigh(L.toarray(), np.diag(mass), eigvals_only=True, subset_by_index=[1, 15])
    theirs = scipy.linalg.eigh(robust_L.toarray(), robust_M.toarray(), eigvals_only=True, subset_by_index=[1, 15])
    np.testing.assert_allclose(ours, theirs, rtol=0.03)


def test_non_manifold_or_sliver_mesh_falls_back_to_robust_laplacian():
    import robust_laplacian

    from scantalk.geometry.laplacian import cotan_laplacian, laplacian_and_mass

    verts, faces = shapes.icosphere(2)
    a, b = faces[0, 0], faces[0, 1]
    fin_verts = np.concatenate([verts, [1.5 * verts[a]]])
    fin_faces = np.concatenate([faces, [[a, b, len(verts)]]])  # edge (a, b) now in three triangles
    assert cotan_laplacian(fin_verts, fin_faces) is None
    L, _ = laplacian_and_mass(fin_verts, fin_faces)
    assert abs(L - robust_laplacian.mesh_laplacian(fin_verts, fin_faces)[0]).max() < 1e-12
    sliver_verts = np.concatenate([verts, [0.5 * (verts[a] + verts[b]) * 1.0001]])
    sliver_faces = np.concatenate([faces[1:], [[a, len(verts), faces[0, 2]], [len(verts), b, faces[0, 2]]]])
    sliver_faces = np.concatenate([sliver_faces, [[a, b, len(verts)]]])  # a near-flat triangle on edge (a, b)
    assert cotan_laplacian(sliver_verts, sliver_faces) is None


def test_mesh_edges_list_each_edge_once_per_direction():
    from scantalk.geometry.neighbours import mesh_edges

    verts, faces = shapes.icosphere(2)
    source, target = mesh_edges(faces, len(verts))
    assert len(source) == 3 * len(faces)  # closed triangle mesh: E = 3F/2 edges, two directions each
    pairs = set(zip(source.tolist(), target.tolist()))
    assert len(pairs) == len(source) and all((t, s) in pairs for s, t in pairs)


def test_eigenpairs_come_in_a_canonical_form():
    ops = compute_operators(*shapes.irregular_sphere(800, seed=5), k_eig=24)
    evals, evecs = ops.evals.numpy(), ops.evecs.numpy()
    assert np.all(np.diff(evals) >= 0) and evals.min() >= 0
    # The sign of each eigenvector is fixed: its entry of largest magnitude is positive (checked
    # where that entry is unambiguous, i.e. clearly larger than the largest entry of other sign).
    top_positive, top_negative = evecs.max(axis=0), -evecs.min(axis=0)
    clear = np.abs(top_positive - top_negative) > 1e-3 * np.maximum(top_positive, top_negative)
    assert clear.sum() > 12 and np.all(top_positive[clear] > top_negative[clear])


def test_tiny_point_cloud_is_refused_by_name_before_any_work(monkeypatch):
    from scantalk.geometry import operators as operators_module
    from scantalk.geometry.neighbours import POINT_CLOUD_NEIGHBOURS

    def must_not_run(*args, **kwargs):
        raise AssertionError("operators were computed for a point cloud that is too small")

    monkeypatch.setattr(operators_module, "laplacian_and_mass", must_not_run)
    verts, _ = shapes.fibonacci_sphere(POINT_CLOUD_NEIGHBOURS)
    with pytest.raises(MeshError, match=rf"scan\.ply.*{POINT_CLOUD_NEIGHBOURS} points.*at least {POINT_CLOUD_NEIGHBOURS + 1}"):
        compute_operators(verts, None, k_eig=8, name="scan.ply")
    with pytest.raises(MeshError, match="5 points"):
        compute_operators(verts[:5], np.zeros((0, 3), dtype=np.int64), k_eig=8)  # empty faces: a point cloud
    monkeypatch.undo()
    assert compute_operators(*shapes.fibonacci_sphere(POINT_CLOUD_NEIGHBOURS + 1)[:1], None, k_eig=8).k_eig == 8


def test_invalid_settings_raise_scantalk_errors():
    from scantalk.errors import ScanTalkError

    verts, faces = shapes.icosphere(1)
    with pytest.raises(ScanTalkError, match="k_eig"):
        compute_operators(verts, faces, k_eig=0)
    with pytest.raises(ScanTalkError, match="eigensolver"):
        compute_operators(verts, faces, k_eig=8, eigensolver="fastest")
    with pytest.raises(ScanTalkError, match="BLAS"):
        compute_operators(verts, faces, k_eig=8, blas_threads=0)


def test_blas_thread_limit_is_restored_after_the_solve():
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    # A limit other than the current one (the test session runs BLAS on one thread).
    other = 2 if before and before[0] == 1 else 1
    compute_operators(*shapes.icosphere(3), k_eig=8, blas_threads=other)
    assert blas_threads() == before


def test_one_vertex_normals_for_meshes_and_point_clouds():
    from scantalk.geometry.normals import vertex_normals

    verts, faces = shapes.icosphere(3)
    for normals in (vertex_normals(verts, faces), vertex_normals(verts, None)):
        assert normals.shape == verts.shape
        np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, rtol=1e-12)
        assert np.einsum("vi,vi->v", normals, verts).min() > 0.99  # outward on the unit sphere

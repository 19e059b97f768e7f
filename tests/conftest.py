"""Suite-wide isolation: every test starts from the same seeds and leaves global state as it found it.

Tests that change process-wide settings (torch threads, default dtype, BLAS thread limits, the
operator-cache environment variable) would otherwise leak them into whichever test runs next,
which makes results depend on test order and on the machine's core count.

BLAS (numpy's and scipy's OpenBLAS) and torch run single-threaded for the whole session,
subprocesses included: results then do not depend on the machine's core count, and busy-waiting
worker threads no longer slow small dense steps down many times over on cores shared with other
jobs (measured on the 2-core development machine at load 8: a 300×300 `torch.linalg.eigvalsh`
took 9.7 s with 2 threads, 0.03 s with 1; the effect `scantalk.geometry.eigen.EIGEN_BLAS_THREADS`
guards against). A test that wants more threads sets them; they are restored after it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS now, so the session limit reaches it)
import torch
from threadpoolctl import ThreadpoolController, threadpool_limits

# Seed of the global random generators at the start of every test: a test that forgot to seed
# still draws the same numbers on every run, whatever ran before it.
TEST_SEED = 0
# Environment variables that tests set and that change what later code does.
ISOLATED_ENVIRONMENT = ("SCANTALK_CACHE_DIR", "SCANTALK_DATA_DIR", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# BLAS and torch intra-op threads for the whole session (see the module docstring).
TEST_THREADS = 1


def _blas_pools() -> list:
    """threadpoolctl controllers of the BLAS libraries loaded now (scipy loads its own lazily)."""
    return ThreadpoolController().select(user_api="blas").lib_controllers


@pytest.fixture(scope="session", autouse=True)
def single_threaded_session() -> Iterator[None]:
    """Run BLAS and torch with `TEST_THREADS` threads, here and in subprocesses the tests start."""
    previous = {name: os.environ.get(name) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    os.environ.update({name: str(TEST_THREADS) for name in previous})
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    try:
        with threadpool_limits(limits=TEST_THREADS, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(torch_threads)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def isolated_global_state(single_threaded_session: None) -> Iterator[None]:
    """Seed numpy/random/torch, then restore threads, dtype, determinism flags, BLAS limits and env."""
    random.seed(TEST_SEED)
    np.random.seed(TEST_SEED)
    torch.manual_seed(TEST_SEED)
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    grad_enabled = torch.is_grad_enabled()
    blas_limits = {pool.filepath: pool.num_threads for pool in _blas_pools()}
    environment = {name: os.environ.get(name) for name in ISOLATED_ENVIRONMENT}
    try:
        yield
    finally:
        # Each setter only when the test changed it: use_deterministic_algorithms costs ~0.2 s a call.
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        if torch.are_deterministic_algorithms_enabled() != deterministic:
            torch.use_deterministic_algorithms(deterministic)
        torch.set_grad_enabled(grad_enabled)
        for pool in _blas_pools():
            if pool.filepath in blas_limits and pool.num_threads != blas_limits[pool.filepath]:
                pool.set_num_threads(blas_limits[pool.filepath])
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def papa_spoken():
    """A short sentence from a real speaker's voice (flite), with its exact phone timing; for the
    phonetic front end (pocketsphinx) and what is built on it."""
    import shutil

    pytest.importorskip("pocketsphinx", reason="pocketsphinx not installed (pip install pocketsphinx==5.1.1)")
    if shutil.which("flite") is None:
        pytest.skip("flite not installed (apt-get install flite)")
    from scantalk.synthesis.speech import synthesize

    return synthesize("Papa bought a map.", "flite:kal16")


@pytest.fixture(scope="session")
def tiny_articulated_config() -> dict:
    """A tiny articulated model with the per-vertex basis decoder: untrained it keeps the face still."""
    return dict(width=8, n_blocks=1, audio_hidden=16, lstm_hidden=8, lstm_layers=1, k_eig=16, decoder="basis",
                frontend="mel")


@pytest.fixture(scope="session")
def tiny_articulated_checkpoint(tmp_path_factory, tiny_articulated_config):
    """A tiny articulated model whose decoder is nudged off its zero start (so faces move)."""
    import torch

    from scantalk.checkpoint import save_model
    from scantalk.model.articulated import ArticulatedConfig, ArticulatedTalker

    torch.manual_seed(0)
    model = ArticulatedTalker(ArticulatedConfig(**tiny_articulated_config))
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    path = tmp_path_factory.mktemp("model") / "tiny.ckpt"
    save_model(path, model)
    return path


@pytest.fixture(scope="module")
def tiny_animator(tiny_articulated_checkpoint):
    from scantalk import Animator

    return Animator.from_checkpoint(tiny_articulated_checkpoint, device="cpu", cache_dir=False)


@pytest.fixture(scope="module")
def mediapipe_face():
    """MediaPipe's canonical face as (verts (V, 3) float32 metres, faces (F, 3))."""
    from scantalk.face.samples import real_face

    head = real_face("mediapipe")
    return head.verts.astype(np.float32), head.faces

"""Fixtures of the export tests: small talking animations, and the Khronos glTF validator.

The validator (npm package `gltf-validator`) runs when node has it; tests using it skip otherwise.

Looked for in `$SCANTALK_GLTF_VALIDATOR` (the folder npm installed into, i.e. the one holding
`node_modules/gltf-validator`, or that package folder itself), then `/opt/gltf-validator`.
Install it with `npm install --prefix /opt/gltf-validator gltf-validator`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from scantalk.inference.animation import Animation

DEFAULT_PREFIX = Path("/opt/gltf-validator")

_SCRIPT = """
const fs = require('fs');
const validator = require(process.argv[1]);
const bytes = new Uint8Array(fs.readFileSync(process.argv[2]));
validator.validateBytes(bytes, {maxIssues: 50}).then(
  (report) => { process.stdout.write(JSON.stringify(report)); },
  (error) => { process.stderr.write(String(error)); process.exit(2); });
"""


def find_validator() -> tuple[str | None, str]:
    """(path of the gltf-validator package, "") when usable, else (None, why not)."""
    node = shutil.which("node")
    if node is None:
        return None, "node is not installed (the Khronos glTF validator runs on node)"
    candidates = []
    configured = os.environ.get("SCANTALK_GLTF_VALIDATOR")
    if configured:
        # The npm prefix first: a prefix folder may itself be named gltf-validator (its own package.json).
        candidates += [Path(configured) / "node_modules" / "gltf-validator", Path(configured)]
    candidates.append(DEFAULT_PREFIX / "node_modules" / "gltf-validator")
    for candidate in candidates:
        if (candidate / "package.json").is_file() and candidate.name == "gltf-validator":
            return str(candidate), ""
    return None, ("the npm package gltf-validator is not installed; run "
                  "`npm install --prefix /opt/gltf-validator gltf-validator` or set SCANTALK_GLTF_VALIDATOR")


def validate(path: str | Path, package: str) -> dict:
    """The validator's report (a dict with issues.numErrors, numWarnings, messages) for `path`."""
    result = subprocess.run(["node", "-e", _SCRIPT, package, str(path)], capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"gltf-validator failed on {path}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def grid_face(size: int = 24, width: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A flat square patch (size² vertices, metres, z = 0) and its triangles (F, 3)."""
    u, v = np.meshgrid(np.linspace(-width / 2, width / 2, size), np.linspace(-width / 2, width / 2, size))
    verts = np.stack([u.ravel(), v.ravel(), 0.01 * np.cos(20 * u.ravel())], axis=1).astype(np.float32)
    index = np.arange(size * size).reshape(size, size)
    a, b, c, d = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, 1:].ravel()
    return verts, np.concatenate([np.stack([a, b, c], 1), np.stack([c, b, d], 1)]).astype(np.int64)


def talking_frames(neutral: np.ndarray, num_frames: int, fps: float = 30.0, modes: int = 5,
                   seed: int = 0) -> np.ndarray:
    """(T, V, 3) smooth speech-like motion: `modes` smooth displacement fields (~3 mm) on smooth curves."""
    rng = np.random.default_rng(seed)
    times = np.arange(num_frames) / fps
    centres = neutral[rng.choice(len(neutral), modes, replace=False)]
    frames = neutral[None].astype(np.float64).repeat(num_frames, 0)
    for k in range(modes):
        bump = np.exp(-np.sum((neutral - centres[k]) ** 2, axis=1) / (2 * 0.02 ** 2))
        direction = rng.normal(size=3)
        field = 0.003 * bump[:, None] * direction / np.linalg.norm(direction)
        curve = np.sin(2 * np.pi * (0.7 + 0.9 * k) * times + rng.uniform(0, 2 * np.pi))
        frames += curve[:, None, None] * field[None]
    return frames.astype(np.float32)


@pytest.fixture
def talking_animation() -> Animation:
    """2 s at 30 fps of smooth motion on a 576-vertex patch with 1 s of quiet audio at 16 kHz."""
    neutral, faces = grid_face()
    frames = talking_frames(neutral, 60)
    audio = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    return Animation(frames, neutral, faces, 30.0, audio, 16000, {"audio_file": "speech.wav"})


@pytest.fixture
def gltf_validator():
    """A function path → validator report dict; skips the test when node or the validator is missing."""
    package, why = find_validator()
    if package is None:
        pytest.skip(why)
    return lambda path: validate(path, package)

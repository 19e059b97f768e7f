"""Bad inputs, misuse and faults replayed through the command line as a user makes them (issue 18).

    python experiments/evaluate/reliability.py            # every case
    python experiments/evaluate/reliability.py --quick    # the cases that stop before inference

Each case runs `scantalk ...` in a fresh folder holding a real face (the `james` scan, as .ply)
and a real recording (pocketsphinx-testdata), and is judged by what a user would see:

- "clear error": exit 1 and a one-line message (no traceback) — what a mistake must give;
- "ok": exit 0 and the output folder holds finite frames (animation.npy) — what a valid but unusual input gives;
- "traceback": a Python traceback on stderr (never acceptable);
- "silently wrong": exit 0 but NaN frames or an output that should have been refused;
- "data loss": a file the user had there is changed or gone afterwards.

Prints a table (case, expected, outcome, seconds, the message's first line) and the counts, and
writes JSON atomically (default experiments/results/reliability.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "reliability.json"


@dataclass
class Case:
    """One misuse: what to write first (`prepare(folder)`), the arguments, the outcome expected."""

    name: str
    args: list[str]
    expected: str  # "clear error" or "ok"
    prepare: Callable[[Path], None] = lambda folder: None
    needs_inference: bool = False
    watched: list[str] = field(default_factory=list)  # user files that must survive unchanged


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _nan_face(folder: Path) -> None:
    _write(folder / "nan.obj", "v nan 0 0\nv 0 1 0\nv 1 0 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\n")


def _users_folder(folder: Path) -> None:
    _write(folder / "mine" / "notes.txt", "my own notes")


def _faceformer_dataset(folder: Path) -> None:
    _write(folder / "dataset" / "wav" / "FaceTalk_1_sentence01.wav", b"RIFF....")
    _write(folder / "dataset" / "vertices_npy" / "FaceTalk_1_sentence01.npy", b"\x93NUMPY")
    _write(folder / "dataset" / "templates" / "FaceTalk_1.ply", b"ply")


def _track(folder: Path, fps: str, value: str = "0.2") -> None:
    rows = "\n".join(f"{i / 30:.4f},{value},0,0,0,0" for i in range(30))
    _write(folder / "track.csv", f"# fps={fps}\ntime_s,jaw_open,lip_close,lip_round,lip_spread,labiodental\n{rows}\n")


def _silent(folder: Path) -> None:
    import soundfile as sf

    sf.write(folder / "silent.wav", np.zeros(16000, np.float32), 16000)


def _truncated(folder: Path) -> None:
    data = (folder / "speech.wav").read_bytes()
    _write(folder / "truncated.wav", data[:60])


def _collinear(folder: Path) -> None:
    points = np.stack([np.linspace(0, 0.2, 300), np.zeros(300), np.zeros(300)], 1)
    _write(folder / "line.xyz", "\n".join(" ".join(f"{v:.5f}" for v in p) for p in points))


def _mouth_only(folder: Path) -> None:
    """james's mouth and what lies 35 mm around it, as a user might crop a scan."""
    from scantalk.face.samples import real_face
    from scantalk.geometry.mesh import save_arrays

    head = real_face("james")
    keep = np.linalg.norm(head.verts - head.landmarks.mouth_centre, axis=1) < 0.035
    index = np.cumsum(keep) - 1
    save_arrays(folder / "mouth.ply", head.verts[keep], index[head.faces[keep[head.faces].all(axis=1)]])


def _corrupt_cache(folder: Path) -> None:
    _write(folder / "cache" / "garbage.npz", b"not an npz")


CASES = [
    Case("missing face file", ["animate", "nope.ply", "speech.wav", "-o", "out"], "clear error"),
    Case("empty mesh file", ["animate", "empty.obj", "speech.wav", "-o", "out"], "clear error",
         prepare=lambda f: _write(f / "empty.obj", "")),
    Case("NaN vertices", ["animate", "nan.obj", "speech.wav", "-o", "out"], "clear error", prepare=_nan_face),
    Case("text file as audio", ["animate", "face.ply", "notes.wav", "-o", "out"], "clear error",
         prepare=lambda f: _write(f / "notes.wav", "hello")),
    Case("silent audio", ["animate", "face.ply", "silent.wav", "-o", "out"], "clear error", prepare=_silent),
    Case("truncated WAV", ["animate", "face.ply", "truncated.wav", "-o", "out"], "clear error", prepare=_truncated),
    Case("a .wav as --checkpoint", ["animate", "face.ply", "speech.wav", "-o", "out", "--checkpoint", "speech.wav"],
         "clear error"),
    Case("a folder as --checkpoint", ["animate", "face.ply", "speech.wav", "-o", "out", "--checkpoint", "."],
         "clear error"),
    Case("-o a folder of the user's files", ["animate", "face.ply", "speech.wav", "-o", "mine"], "clear error",
         prepare=_users_folder, watched=["mine/notes.txt"]),
    Case("-o a folder of the user's files, --overwrite", ["animate", "face.ply", "speech.wav", "-o", "mine",
                                                          "--overwrite"], "clear error",
         prepare=_users_folder, watched=["mine/notes.txt"]),
    Case("-o an existing file", ["animate", "face.ply", "speech.wav", "-o", "mine/notes.txt"], "clear error",
         prepare=_users_folder, watched=["mine/notes.txt"]),
    Case("emotion keyframe at NaN", ["animate", "face.ply", "speech.wav", "-o", "out", "--emotion", "nan=sad@0.5"],
         "clear error"),
    Case("fps 0", ["animate", "face.ply", "speech.wav", "-o", "out", "--fps", "0"], "clear error"),
    Case("cuda on a CPU machine", ["animate", "face.ply", "speech.wav", "-o", "out", "--device", "cuda"],
         "clear error"),
    Case("a mouth-only crop", ["animate", "mouth.ply", "speech.wav", "-o", "out"], "clear error",
         prepare=_mouth_only, needs_inference=True),
    Case("collinear point cloud", ["animate", "line.xyz", "speech.wav", "-o", "out"], "clear error", prepare=_collinear),
    Case("track with fps=0.001", ["animate", "face.ply", "--track", "track.csv", "-o", "out"], "clear error",
         prepare=lambda f: _track(f, "0.001")),
    Case("track with NaN values", ["animate", "face.ply", "--track", "track.csv", "-o", "out"], "clear error",
         prepare=lambda f: _track(f, "30", "nan")),
    Case("synth onto a user's dataset", ["synth", "dataset"], "clear error", prepare=_faceformer_dataset,
         watched=["dataset/wav/FaceTalk_1_sentence01.wav", "dataset/templates/FaceTalk_1.ply"]),
    Case("emovoca expressions -o FILE", ["emovoca", "expressions", "-o", "mine/notes.txt"], "clear error",
         prepare=_users_folder, watched=["mine/notes.txt"]),
    Case("demo --out FILE", ["demo", "--out", "mine/notes.txt"], "clear error", prepare=_users_folder,
         watched=["mine/notes.txt"]),
    Case("precompute --workers 0", ["precompute", "face.ply", "--workers", "0"], "clear error"),
    Case("precompute --k-eig 5000 on a small mesh", ["precompute", "small.obj", "--k-eig", "5000"], "clear error",
         prepare=lambda f: _write(f / "small.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 3 4\nf 1 4 2\nf 2 4 3\n")),
    Case("render a folder that is not an animation", ["render", "mine"], "clear error", prepare=_users_folder,
         watched=["mine/notes.txt"]),
    # Valid but unusual: these must work.
    Case("z-up file named with --up z --forward -y", ["animate", "face_zup.ply", "speech.wav", "-o", "out", "--up", "z",
                                                      "--forward", "-y", "--no-video"], "ok", needs_inference=True),
    Case("a corrupted operator cache", ["animate", "face.ply", "speech.wav", "-o", "out", "--no-video"], "ok",
         prepare=_corrupt_cache, needs_inference=True),
    Case("a track written by hand", ["animate", "face.ply", "--track", "track.csv", "-o", "out", "--no-video"], "ok",
         prepare=lambda f: _track(f, "30"), needs_inference=True),
]


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def run_case(case: Case, inputs: Path) -> dict:
    """Run one case in a fresh copy of the inputs; the verdict and what the user saw."""
    import shutil

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for path in inputs.iterdir():
            shutil.copy(path, folder / path.name)
        case.prepare(folder)
        before = {name: _digest(folder / name) for name in case.watched}
        env = {"SCANTALK_CACHE_DIR": str(folder / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
        clock = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "scantalk.cli", *case.args], cwd=folder, capture_output=True,
                              text=True, timeout=900, env=env)
        seconds = time.perf_counter() - clock
        after = {name: _digest(folder / name) for name in case.watched}
        stderr = done.stderr.strip()
        errors = [line for line in stderr.splitlines() if line.startswith("error:") or "Error" in line[:40]]
        if any(before[name] != after[name] for name in case.watched):
            outcome = "data loss"
        elif "Traceback (most recent call last)" in stderr:
            outcome = "traceback"
        elif done.returncode == 0:
            # Exit 0 on an input that should be refused, or frames that are not all finite.
            frames = folder / "out" / "animation.npy"
            finite = frames.is_file() and bool(np.isfinite(np.load(frames, mmap_mode="r")).all())
            outcome = "ok" if case.expected == "ok" and finite else "silently wrong"
        else:
            outcome = "clear error"
        return {"case": case.name, "command": "scantalk " + " ".join(case.args), "expected": case.expected,
                "outcome": outcome, "exit": done.returncode, "seconds": round(seconds, 1),
                "message": (errors or stderr.splitlines() or [""])[-1][:200]}


def make_inputs(folder: Path) -> Path:
    """The user's files: a real face (also stored z-up in millimetres) and a real recording."""
    import soundfile as sf

    from common import real_clips
    from scantalk.face.samples import real_face
    from scantalk.geometry.mesh import save_arrays

    head = real_face("james")
    save_arrays(folder / "face.ply", head.verts, head.faces)
    to_file = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    save_arrays(folder / "face_zup.ply", 1000.0 * head.verts @ to_file.T, head.faces)
    utterance = real_clips(1)[0]
    sf.write(folder / "speech.wav", utterance.samples[: 2 * utterance.sample_rate], utterance.sample_rate)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the cases that stop before inference")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    args = parser.parse_args(argv)

    from scantalk.atomic import atomic_write_text

    clock = time.perf_counter()
    cases = [case for case in CASES if not (args.quick and case.needs_inference)]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        inputs = make_inputs(Path(work))
        for number, case in enumerate(cases, 1):
            print(f"[{number}/{len(cases)}] {case.name}", file=sys.stderr, flush=True)
            rows.append(run_case(case, inputs))
    print("\n| case | expected | outcome | s | message |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['case']} | {row['expected']} | {row['outcome']} | {row['seconds']} | {row['message']} |")
    counts = {outcome: sum(row["outcome"] == outcome for row in rows)
              for outcome in ("clear error", "ok", "traceback", "silently wrong", "data loss")}
    as_expected = sum(row["outcome"] == row["expected"] for row in rows)
    print(f"\n{len(rows)} cases, {as_expected} as expected; " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    payload = {"cases": len(rows), "as_expected": as_expected, "counts": counts, "rows": rows,
               "seconds": time.perf_counter() - clock,
               "command": " ".join(["python", "experiments/evaluate/reliability.py", *(argv or sys.argv[1:])])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()

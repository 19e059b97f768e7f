"""How a talking-head model animates REAL recorded speech on heads it never saw (issue 10, "Measured").

    python experiments/evaluate/real.py                                  # the shipped default
    python experiments/evaluate/real.py --with-old-default               # ... and the pre-issue-10 one
    python experiments/evaluate/real.py --checkpoint new=path/a.ckpt --checkpoint path/b.ckpt
    python experiments/evaluate/real.py --quick                          # ~1-minute smoke run

The old default model is the checkpoint shipped at commit d825e68; `--with-old-default` extracts
it itself in a git checkout, or by hand:

    git show d825e68:scantalk/assets/default.ckpt > /tmp/old_default.ckpt

Speech: pocketsphinx-testdata recordings of real people, force-aligned at the phone level
(`scantalk.synthesis.speech.real_speech_set`), never trained on. Heads: the held-out real scan
(`real_face("james")`) and anatomical procedural heads of seeds >= 900000 (training uses lower
seeds). Figures, from the predicted frames and the aligned phones (`scantalk.metrics`):

- vowel lip opening: mean over vowels of each vowel's peak opening >= 3 mm, the opening being
  the lips' visible gap minus its rest value (`scantalk.rig.aperture.visible_aperture`: what a viewer
  in front sees between the lips; point clouds: the upper-to-lower lip midline distance). The
  old figure, the outer lip midpoints' distance, which grows when the jaw stretches the skin
  below sealed lips, is kept beside it once ("outer_midpoint_opening_mm");
- pauses (silence >= 150 ms): mean opening <= 0.3 x the vowel figure;
- p/b/m: smallest opening during the bilabial <= 0.5 x the following vowel's peak (mean ratio,
  and the share of bilabials meeting it);
- lip motion >= 3 x upper-face motion (temporal std; lips within 1.5 cm of the mouth centre,
  upper face = the band above the eyes on the face's front);
- opening vs the smoothed RMS envelope of the speech: Pearson r >= 0.5;
- the same head decimated (~40 % of its vertices) and midpoint-subdivided (~4x): mouth-region
  displacement relative error <= 0.3 at corresponding surface points; with its vertices
  permuted, and in millimetres: max deviation <= 1 % of the peak motion.
Prints a markdown table (figure | target | one column per model) and writes JSON atomically
(default experiments/results/real_eval.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scantalk import metrics
from scantalk.atomic import atomic_write_text
from scantalk.errors import ScanTalkError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import held_out_heads, ranked_clips  # noqa: E402

FPS = 30.0
OLD_DEFAULT_COMMIT = "d825e68"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "real_eval.json"
QUICK_OUT = Path(tempfile.gettempdir()) / "scantalk_real_eval_quick.json"

# figure: (comparison, target or None when only reported, table label)
TARGETS: dict[str, tuple[str, float | None, str]] = {
    "vowel_opening_mm": (">=", 3.0, "vowel visible lip aperture gain, mean of vowel peaks (mm)"),
    "outer_midpoint_opening_mm": ("", None, "(old figure) outer lip midpoints apart, mean of vowel peaks (mm)"),
    "pause_over_vowel": ("<=", 0.3, "pause opening / vowel opening"),
    "closure_ratio": ("<=", 0.5, "p/b/m: min opening / next vowel's peak (mean)"),
    "closure_fraction": (">=", None, "p/b/m: share with ratio <= 0.5"),
    "lip_over_upper": (">=", 3.0, "lip motion / upper-face motion (temporal std)"),
    "envelope_r": (">=", 0.5, "opening vs speech envelope (Pearson r)"),
    "decimated_error": ("<=", 0.3, "decimated vs as given: mouth displacement rel. error"),
    "subdivided_error": ("<=", 0.3, "subdivided vs as given: mouth displacement rel. error"),
    "permuted_deviation": ("<=", 0.01, "permuted vertices: max deviation / peak motion"),
    "millimetre_deviation": ("<=", 0.01, "millimetres: max deviation / peak motion (rescaled)"),
    "peak_motion_mm": ("", None, "peak vertex motion (mm, all frames)"),
}


@dataclass
class Probe:
    """What the figures need of one neutral face: verts (V, 3) in its units, the lip midline
    vertices, the lip and upper-face regions, each vertex's side of the mouth slit."""

    verts: np.ndarray
    upper: int
    lower: int
    lips: np.ndarray
    upper_face: np.ndarray
    sides: np.ndarray
    faces: np.ndarray | None = None
    mouth: object = None  # `scantalk.rig.aperture.MouthProbe` of a mesh: the visible aperture is measured


def make_probe(verts: np.ndarray, landmarks, faces: np.ndarray | None = None) -> Probe:
    """Probe of a head: neutral verts (V, 3) in metres (FLAME frame), its `FaceLandmarks` and,
    for a mesh, its faces (F, 3), so the lips' visible gap can be measured."""
    from scantalk.face.head import Head
    from scantalk.rig.aperture import MouthProbe

    lm = landmarks
    mouth = None if faces is None else MouthProbe.of(Head(verts, faces, lm, "probe"))
    return Probe(verts, metrics.nearest_vertex(verts, lm.upper_lip), metrics.nearest_vertex(verts, lm.lower_lip),
                 metrics.lip_region(verts, lm.mouth_centre), metrics.upper_face_region(verts, lm.eye_left, lm.eye_right),
                 metrics.mouth_side(verts, lm.mouth_left, lm.mouth_right, lm.upper_lip, lm.lower_lip), faces, mouth)


def clip_record(frames: np.ndarray, probe: Probe, utterance) -> dict:
    """Raw measurements (metres) of one clip's predicted frames (T, V, 3) in metres."""
    from scantalk.rig.aperture import visible_aperture

    neutral = probe.verts
    outer = metrics.lip_opening(frames, neutral, probe.upper, probe.lower)
    opening = outer  # a point cloud cannot be seen through: only the outer lip points
    if probe.mouth is not None:
        # What a viewer sees: the lips' visible gap, relative to the face at rest.
        opening = visible_aperture(frames, probe.faces, probe.mouth) - visible_aperture(neutral, probe.faces, probe.mouth)[0]
    envelope = metrics.speech_envelope(utterance.samples, utterance.sample_rate, FPS, len(frames))
    return {
        "clip": Path(utterance.meta.get("path", "?")).name,
        "num_frames": int(len(frames)),
        "vowel_peaks": metrics.vowel_peak_openings(opening, utterance.phones, FPS).tolist(),
        "outer_vowel_peaks": metrics.vowel_peak_openings(outer, utterance.phones, FPS).tolist(),
        "pauses": metrics.pause_openings(opening, utterance.phones, FPS).tolist(),
        "closures": metrics.bilabial_closures(opening, utterance.phones, FPS).tolist(),
        "lip_std": metrics.motion_std(frames, probe.lips),
        "upper_std": metrics.motion_std(frames, probe.upper_face) if len(probe.upper_face) else float("nan"),
        "envelope_r": metrics.pearson(opening, envelope),
        "peak_motion": float(np.linalg.norm(frames - neutral[None], axis=2).max()),
    }


def _finite_mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def speech_figures(records: list[dict]) -> dict:
    """Figures pooled over clip records: every vowel, pause and bilabial weighs the same."""
    vowels = np.concatenate([r["vowel_peaks"] for r in records] + [[]])
    outer = np.concatenate([r.get("outer_vowel_peaks", []) for r in records] + [[]])
    pauses = np.concatenate([r["pauses"] for r in records] + [[]])
    closures = np.concatenate([np.reshape(r["closures"], (-1, 2)) for r in records] + [np.zeros((0, 2))])
    vowel = float(vowels.mean()) if len(vowels) else None
    summary = metrics.closure_summary(closures)
    lip, upper = _finite_mean(r["lip_std"] for r in records), _finite_mean(r["upper_std"] for r in records)
    return {
        "vowel_opening_mm": None if vowel is None else 1000 * vowel,
        "outer_midpoint_opening_mm": 1000 * float(outer.mean()) if len(outer) else None,
        "pause_over_vowel": float(pauses.mean()) / vowel if len(pauses) and vowel and vowel > 0 else None,
        "closure_ratio": summary["mean_ratio"],
        "closure_fraction": summary["fraction_closed"],
        "lip_over_upper": lip / upper if lip is not None and upper else None,
        "envelope_r": _finite_mean(r["envelope_r"] for r in records),
        "peak_motion_mm": 1000 * max(r["peak_motion"] for r in records),
        "counts": {"clips": len(records), "vowels": int(len(vowels)), "pauses": int(len(pauses)),
                   "bilabials": summary["count"], "bilabials_with_visible_vowel": summary["ratio_count"]},
    }


def _decimate_subdivide(head, fraction: float):
    """(decimated, subdivided) Heads; the project's meshing module when present, else open3d."""
    try:
        from scantalk.synthesis.heads.meshing import decimate, subdivide

        return decimate(head, int(head.num_vertices * fraction)), subdivide(head, "midpoint", 1)
    except ImportError:
        import open3d as o3d

        mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(head.verts), o3d.utility.Vector3iVector(head.faces))
        out = []
        for variant in (mesh.simplify_quadric_decimation(int(len(head.faces) * fraction)), mesh.subdivide_midpoint(1)):
            variant.remove_unreferenced_vertices()
            out.append(head.with_geometry(np.asarray(variant.vertices), np.asarray(variant.triangles, np.int64), None,
                                          "variant"))
        return tuple(out)


def mouth_error(coarse: Probe, coarse_frames, fine: Probe, fine_frames, reference_is_fine: bool) -> float:
    """Relative mouth displacement error between two meshings of one head, at the coarse
    mesh's lip vertices and their same-side nearest neighbours on the fine one."""
    match = metrics.corresponding_vertices(coarse.verts[coarse.lips], fine.verts, coarse.sides[coarse.lips], fine.sides)
    coarse_disp = coarse_frames[:, coarse.lips] - coarse.verts[None, coarse.lips]
    fine_disp = fine_frames[:, match] - fine.verts[None, match]
    if reference_is_fine:
        return metrics.relative_displacement_error(fine_disp, coarse_disp)
    return metrics.relative_displacement_error(coarse_disp, fine_disp)


def meshing_figures(animate, head, utterance, variants) -> dict:
    """The head as given, decimated, subdivided, permuted and in millimetres, on one clip."""
    given = make_probe(head.verts, head.landmarks, head.faces)
    frames = animate(head.verts, head.faces, utterance, key=head.name)
    decimated, subdivided = variants
    out: dict = {"vertices": {"given": head.num_vertices}}
    for name, variant in (("decimated", decimated), ("subdivided", subdivided)):
        probe = make_probe(variant.verts, head.landmarks, variant.faces)
        variant_frames = animate(variant.verts, variant.faces, utterance)
        out["vertices"][name] = variant.num_vertices
        out[f"{name}_vowel_opening_mm"] = speech_figures([clip_record(variant_frames, probe, utterance)])["vowel_opening_mm"]
        if name == "decimated":  # the decimated mesh is the coarse one, the given one the reference
            out[f"{name}_error"] = mouth_error(probe, variant_frames, given, frames, reference_is_fine=True)
        else:
            out[f"{name}_error"] = mouth_error(given, frames, probe, variant_frames, reference_is_fine=False)
    order = np.random.default_rng(0).permutation(head.num_vertices)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    permuted = animate(head.verts[order], inverse[head.faces], utterance)
    back = np.empty_like(permuted)
    back[:, order] = permuted
    millimetres = animate(head.verts * 1000.0, head.faces, utterance) / 1000.0
    for name, result in (("permuted", back), ("millimetre", millimetres)):
        out[f"{name}_deviation"] = metrics.max_deviation_ratio(result, frames, head.verts)
        out[f"{name}_deviation_p99"] = metrics.max_deviation_ratio(result, frames, head.verts, quantile=0.99)
    out["given_vowel_opening_mm"] = speech_figures([clip_record(frames, given, utterance)])["vowel_opening_mm"]
    return out


def resolve_models(args: argparse.Namespace, scratch: Path) -> list[tuple[str, str | None]]:
    """[(label, checkpoint path or None for the shipped default)] from --checkpoint / --with-old-default."""
    models: list[tuple[str, str | None]] = []
    for item in args.checkpoint or []:
        label, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        if not Path(path).is_file():
            raise ScanTalkError(f"checkpoint {path!r} does not exist; pass a .ckpt file (optionally LABEL=PATH)")
        models.append((label, path))
    if not models:
        models.append(("shipped default", None))
    if args.with_old_default:
        old = scratch / "old_default.ckpt"
        try:
            blob = subprocess.run(["git", "show", f"{OLD_DEFAULT_COMMIT}:scantalk/assets/default.ckpt"],
                                  capture_output=True, check=True, cwd=Path(__file__).resolve().parent).stdout
        except (OSError, subprocess.CalledProcessError):
            raise ScanTalkError("--with-old-default needs a git checkout holding commit "
                                f"{OLD_DEFAULT_COMMIT}; extract it elsewhere and pass --checkpoint old=PATH") from None
        old.write_bytes(blob)
        models.append((f"old default ({OLD_DEFAULT_COMMIT})", str(old)))
    return _merge_identical(models)


def _merge_identical(models: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """One entry per distinct checkpoint file, labels joined with " = " (the shipped default may
    still be the old one while a new model is being integrated)."""
    from scantalk.checkpoint import DEFAULT_CHECKPOINT

    merged: dict[str, tuple[str, str | None]] = {}
    for label, path in models:
        digest = hashlib.sha256(Path(path or DEFAULT_CHECKPOINT).read_bytes()).hexdigest()
        merged[digest] = (f"{merged[digest][0]} = {label}", merged[digest][1]) if digest in merged else (label, path)
    return list(merged.values())


def evaluate_model(path: str | None, heads: list, clips: list, meshing_heads: list, meshing_clip,
                   variants: dict, cache_dir: Path, device: str | None, progress) -> dict:
    from scantalk import Animator

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(path, cache_dir=cache_dir, device=device)

    done: dict = {}  # (head, clip) → frames: the meshing figures reuse the speech run of the given head

    def animate(verts, faces, utterance, key: str | None = None):
        memo = (key, utterance.meta["path"], len(utterance.samples))
        if key is not None and memo in done:
            return done[memo]
        frames = animator.animate(verts, utterance.samples, fps=FPS, sample_rate=utterance.sample_rate,
                                  faces=faces).frames.astype(np.float64)
        progress.update()
        if key is not None:
            done[memo] = frames
        return frames

    per_head, records = {}, []
    for head in heads:
        probe = make_probe(head.verts, head.landmarks, head.faces)
        head_records = []
        for utterance in clips:
            head_records.append(clip_record(animate(head.verts, head.faces, utterance, key=head.name), probe, utterance))
        per_head[head.name] = {"vertices": head.num_vertices, "upper_face_vertices": int(len(probe.upper_face)),
                               "lip_vertices": int(len(probe.lips)), **speech_figures(head_records),
                               "clips": head_records}
        records += head_records
    figures = speech_figures(records)
    meshing = {head.name: meshing_figures(animate, head, meshing_clip, variants[head.name])
               for head in meshing_heads}
    for key in ("decimated_error", "subdivided_error", "permuted_deviation", "millimetre_deviation"):
        figures[key] = _finite_mean(m[key] for m in meshing.values())
    return {"checkpoint": animator.checkpoint, "figures": figures, "heads": per_head, "meshing": meshing,
            "seconds": time.perf_counter() - clock}


MIN_VISIBLE_VOWEL_MM = 1.0
"""Below this vowel opening a pause ratio compares noise with noise: it is shown, never passed."""


def _cell(name: str, figures: dict) -> str:
    value = figures.get(name)
    if value is None:
        return "n/a"
    comparison, target, _ = TARGETS[name]
    text = f"{value:.3g}"
    if target is None:
        return text
    if name == "pause_over_vowel" and (figures.get("vowel_opening_mm") or 0.0) < MIN_VISIBLE_VOWEL_MM:
        return f"{text} ✗ (vowels shut)"
    ok = value >= target if comparison == ">=" else value <= target
    if name == "closure_ratio":  # only bilabials whose next vowel visibly opens have a ratio
        counts = figures.get("counts", {})
        text += f" ({counts.get('bilabials_with_visible_vowel')} of {counts.get('bilabials')})"
    return f"{text} {'✓' if ok else '✗'}"


def markdown_table(results: dict) -> str:
    labels = list(results)
    lines = ["| figure | target | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for name, (comparison, target, label) in TARGETS.items():
        target_text = f"{comparison} {target:g}" if target is not None else "—"
        lines.append(f"| {label} | {target_text} | " + " | ".join(_cell(name, results[m]["figures"])
                                                              for m in labels) + " |")
    for head in next(iter(results.values()))["heads"]:
        lines.append(f"| vowel opening (mm), {head} | >= 3 | " + " | ".join(
            _cell("vowel_opening_mm", results[m]["heads"][head]) for m in labels) + " |")
    return "\n".join(lines)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None  # NaN is not JSON
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", metavar="[LABEL=]PATH",
                        help="a model to evaluate (repeatable); default: the shipped default")
    parser.add_argument("--with-old-default", action="store_true",
                        help=f"also evaluate the default shipped at {OLD_DEFAULT_COMMIT} (extracted with git show)")
    parser.add_argument("--clips", type=int, default=4, help="real clips to use (at most 12)")
    parser.add_argument("--heads", nargs="+", default=["james", "procedural:900001", "procedural:900002"])
    parser.add_argument("--meshing-heads", nargs="+", default=["james"],
                        help="heads also evaluated decimated / subdivided / permuted / in millimetres")
    parser.add_argument("--decimate-to", type=float, default=0.4, help="decimated vertex share")
    parser.add_argument("--resolution", type=float, default=0.005,
                        help="procedural heads' marching-cubes step (m); 0.005 gives ~7k vertices")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: best available)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 clip cut to 2 s, the real scan only")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON results file (default {DEFAULT_OUT.name} in experiments/results; --quick: {QUICK_OUT})")
    args = parser.parse_args(argv)
    seconds = None
    if args.quick:
        args.clips, args.heads, args.meshing_heads, seconds = 1, ["james"], ["james"], 2.0
    # A smoke run never replaces the measured results.
    out = args.out if args.out is not None else (QUICK_OUT if args.quick else DEFAULT_OUT)

    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="scantalk-real-eval-") as scratch:
            models = resolve_models(args, Path(scratch))
            heads = held_out_heads(list(dict.fromkeys(args.heads + args.meshing_heads)), args.resolution)
            by_name = {name: head for name, head in zip(dict.fromkeys(args.heads + args.meshing_heads), heads)}
            clips, meshing_clip = ranked_clips(args.clips, seconds)
            speech_heads = [by_name[n] for n in args.heads]
            meshing_heads = [by_name[n] for n in args.meshing_heads]
            variants = {h.name: _decimate_subdivide(h, args.decimate_to) for h in meshing_heads}
            # the given meshing of a speech head on a speech clip is animated once
            shared = any(c.meta["path"] == meshing_clip.meta["path"] for c in clips)
            reused = sum(h in speech_heads for h in meshing_heads) if shared else 0
            total = len(models) * (len(speech_heads) * len(clips) + 5 * len(meshing_heads) - reused)
            results = {}
            with tqdm(total=total, desc="animating", unit="clip", file=sys.stderr) as progress:
                for label, path in models:
                    progress.set_postfix_str(label)
                    results[label] = evaluate_model(path, speech_heads, clips, meshing_heads, meshing_clip, variants,
                                                    Path(scratch) / "operators", args.device, progress)
    except ScanTalkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    table = markdown_table(results)
    print(table)
    payload = {
        "description": "ScanTalk models on held-out real recorded speech and unseen heads (issue 10)",
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "quick": bool(args.quick), "fps": FPS, "seconds": time.perf_counter() - started,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "clips": [{"path": u.meta["path"], "seconds": u.duration, "text": u.text, "source": u.voice} for u in clips],
        "meshing_clip": meshing_clip.meta["path"],
        "heads": {n: by_name[n].num_vertices for n in by_name},
        "targets": {name: {"comparison": c, "target": t, "label": label} for name, (c, t, label) in TARGETS.items()},
        "models": results, "table": table,
    }
    atomic_write_text(out, json.dumps(_json_safe(payload), indent=1))
    print(f"\nwrote {out} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

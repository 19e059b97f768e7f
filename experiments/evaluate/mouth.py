"""Does the mouth visibly open, on every head? (issue 17, "Measured")

    python experiments/evaluate/mouth.py                 # all heads, three real clips
    python experiments/evaluate/mouth.py --quick         # four heads, one clip (~1 minute)
    python experiments/evaluate/mouth.py --rig old       # ... with the rig of an earlier commit

Heads the model never saw (procedural identities of seeds >= 900000: plain, with an open neutral
mouth, stylised and caricatured; the james scan and MediaPipe's face mask, as given and warped
into caricatures), some stored in another orientation or framing (z-up, facing -y or +x, upside
down, tilted, a face-only crop, a bust with a long neck). Each is animated from held-out real
speech (pocketsphinx-testdata, force-aligned phones) by the shipped default exactly as a user
would (`Animator.animate_track` on the vertices as stored; orientation and landmarks found
automatically), and measured from what a viewer sees, `scantalk.rig.aperture.visible_aperture`:

- aperture gain on vowels: per vowel, its peak visible aperture minus the rest aperture (mm);
- open vowels (AA AE AO AW AY) over close vowels (IY IH UW UH): mean gain ratio;
- p/b/m: share of bilabials during which the lips meet (visible aperture <= 0.5 mm);
- pauses (>= 150 ms of silence): mean |aperture - rest aperture| (mm) over the settled part of
  each pause, its frames at least `SETTLE` (100 ms) from speech: the mouth leaves its rest ahead
  of the next sound and reaches it after the last, as a speaker's does; the figure over the whole
  pause (transitions included) is kept beside it;
- lips passing through each other: the lower lip's edge above the upper lip's edge at the
  midline, worst frame (mm);
- orientation found (angle to the truth < 10 degrees) and landmark errors (mm) of mouth
  corners, lip midlines, chin and nose tip;
- beside it, the old outer-midpoint figure ("vowel lip opening"), kept once for comparison.

Prints a table per head, writes `experiments/results/mouth_eval.json` and a close-up picture of
the three worst heads (`experiments/results/mouth_worst.png`: rest, widest vowel, a p/b/m).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results"
FPS = 30.0
CLIPS = ("0870.wav", "0880.wav", "0890.wav", "0920.wav", "0930.wav")
OPEN_VOWELS = ("AA", "AE", "AO", "AW", "AY")
CLOSE_VOWELS = ("IY", "IH", "UW", "UH")
LANDMARKS_SCORED = ("mouth_left", "mouth_right", "upper_lip", "lower_lip", "chin", "nose_tip")
MEET = 0.0005
SETTLE = 0.1


@dataclass
class TestHead:
    """A head as a user stores it: `verts` = scale · `rotation` @ head.verts + `offset` (file
    frame), with the truth (head, in the model frame) kept to measure against."""

    head: object
    kind: str
    rotation: np.ndarray
    scale: float = 1.0
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def file_verts(self) -> np.ndarray:
        return self.scale * self.head.verts @ self.rotation.T + self.offset

    def to_truth(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) in the file frame → the truth's frame."""
        return ((points - self.offset) / self.scale) @ self.rotation


def _rotation(up: str, forward: str, tilt_degrees: float = 0.0) -> np.ndarray:
    """File-from-model rotation for a face stored with the given up/forward axes, then tilted."""
    from scantalk.face.alignment import axes_rotation

    tilt = np.radians(tilt_degrees)
    roll = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(tilt), -np.sin(tilt)], [0.0, np.sin(tilt), np.cos(tilt)]])
    return axes_rotation(up, forward).T @ roll


def build_heads(quick: bool) -> list[TestHead]:
    from scantalk.synthesis.heads.meshing import crop_face
    from scantalk.synthesis.heads.procedural import HeadShape, procedural_head, sample_shape
    from scantalk.synthesis.heads.real import deformed_identity
    from scantalk.face.samples import real_face

    identity = np.eye(3)
    mean = HeadShape()

    def caricature(seed: int, factor: float) -> HeadShape:
        shape = sample_shape(seed)
        values = {k: getattr(mean, k) + factor * (v - getattr(mean, k)) for k, v in shape.to_dict().items()}
        values["lip_gap"] = shape.lip_gap
        return HeadShape(**values)

    def styled(seed: int, **changes) -> HeadShape:
        return replace(sample_shape(seed), **changes)

    james, mediapipe = real_face("james"), real_face("mediapipe")
    if quick:
        return [TestHead(procedural_head(900001), "plain", identity), TestHead(james, "real scan", identity),
                TestHead(mediapipe, "face mask", identity),
                TestHead(procedural_head(900011, shape=styled(900011, lip_gap=0.008)), "open neutral", identity)]
    heads = [TestHead(procedural_head(seed), "plain (eyeballs as parts)", identity) for seed in (900001, 900002, 900003)]
    heads += [TestHead(procedural_head(900010 + i, shape=styled(900010 + i, lip_gap=gap)), "open neutral", identity)
              for i, gap in enumerate((0.006, 0.0075, 0.0085, 0.01))]
    heads += [
        TestHead(procedural_head(900021, shape=caricature(900021, 2.5)), "caricature x2.5", identity),
        TestHead(procedural_head(900022, shape=caricature(900022, 0.3)), "caricature x0.3", identity),
        TestHead(procedural_head(900023, shape=styled(900023, chin=0.022)), "huge chin", identity),
        TestHead(procedural_head(900024, shape=styled(900024, chin=-0.006)), "receding chin", identity),
        TestHead(procedural_head(900025, shape=styled(900025, mouth_half_width=0.034)), "wide mouth", identity),
        TestHead(procedural_head(900026, shape=styled(900026, mouth_half_width=0.018)), "tiny mouth", identity),
        TestHead(procedural_head(900027, shape=styled(900027, lip_thickness=0.011)), "thick lips", identity),
        TestHead(procedural_head(900028, shape=styled(900028, nose_projection=0.034, nose_length=0.056)),
                 "big nose", identity),
        TestHead(james, "real scan", identity),
        TestHead(mediapipe, "face mask", identity),
        TestHead(deformed_identity(james, 7, strength=2.5), "real scan, caricature", identity),
        TestHead(deformed_identity(mediapipe, 8, strength=2.0), "face mask, caricature", identity),
    ]
    long_neck = procedural_head(900031, shape=styled(900031, neck_length=0.2))
    heads += [
        TestHead(james, "z-up, facing -y, millimetres", _rotation("z", "-y"), scale=1000.0),
        TestHead(procedural_head(900032), "upside down", _rotation("-y", "z")),
        TestHead(procedural_head(900033), "facing +x", _rotation("y", "x")),
        TestHead(mediapipe, "facing -z, tilted 12 degrees", _rotation("y", "-z", 12.0)),
        TestHead(long_neck, "bust with a long neck, z-up", _rotation("z", "-y")),
        TestHead(crop_face(procedural_head(900034)), "face-only crop, facing -x", _rotation("y", "-x")),
    ]
    return heads


def _vowel(phone: str) -> str:
    return "".join(ch for ch in phone if not ch.isdigit()).upper()


def _frames_of(phone, num_frames: int) -> np.ndarray:
    start, end = int(np.floor(phone.start * FPS)), int(np.ceil(phone.end * FPS))
    return np.arange(max(0, start), min(num_frames, max(end, start + 1)))


def speech_figures(aperture: np.ndarray, rest: float, phones, lip_close: np.ndarray) -> dict:
    """Per-clip raw values (metres) from the visible aperture (T,), the clip's phones and the
    track's lip_close (T,) (to tell the rig's closures from the front end's misses)."""
    out = {"open": [], "close": [], "vowels": [], "bilabials": [], "closed_bilabials": [], "pauses": [],
           "settled_pauses": []}
    for number, phone in enumerate(phones):
        frames = _frames_of(phone, len(aperture))
        if frames.size == 0:
            continue
        name = _vowel(phone.phone)
        if name in OPEN_VOWELS + CLOSE_VOWELS or name in ("AH", "EH", "ER", "EY", "OW", "OY"):
            gain = float(aperture[frames].max() - rest)
            out["vowels"].append(gain)
            if name in OPEN_VOWELS:
                out["open"].append(gain)
            elif name in CLOSE_VOWELS:
                out["close"].append(gain)
        elif name in ("P", "B", "M"):
            out["bilabials"].append(float(aperture[frames].min()))
            if lip_close[frames[frames < len(lip_close)]].max(initial=0.0) > 0.5:
                out["closed_bilabials"].append(float(aperture[frames].min()))
        elif name == "SIL" and phone.end - phone.start >= 0.15:
            out["pauses"].append(float(np.abs(aperture[frames] - rest).mean()))
            after = SETTLE if phone.start > 0.0 else 0.0
            before = SETTLE if number + 1 < len(phones) else 0.0
            settled = frames[(frames / FPS >= phone.start + after) & (frames / FPS <= phone.end - before)]
            if settled.size:
                out["settled_pauses"].append(float(np.abs(aperture[settled] - rest).mean()))
    return out


def pass_through(frames: np.ndarray, slit) -> float:
    """The worst (over frames and slit columns) height of the lower lip's edge above the upper
    lip's edge facing it (metres, in the frames' y; < 0 while the lips stay apart).

    frames (T, V, 3) in the face frame (x across, y up). Each upper-edge vertex is paired with
    the lower-edge vertex nearest to it across the mouth at rest."""
    if not len(slit.upper_edge) or not len(slit.lower_edge):
        return float("nan")
    rest = frames[0]
    pairs = np.abs(rest[slit.upper_edge, None, 0] - rest[None, slit.lower_edge, 0]).argmin(axis=1)
    lower = slit.lower_edge[pairs]
    return float((frames[:, lower, 1] - frames[:, slit.upper_edge, 1]).max())


def previous_rig(revision: str):
    """The rig module as it was at `revision` (git), to measure the same heads and tracks with it."""
    import importlib.util
    import subprocess
    import tempfile

    # The rig lived in scantalk/synthesis/heads/ before it had a package of its own.
    for where in ("scantalk/rig/rig.py", "scantalk/data/heads/rig.py"):
        shown = subprocess.run(["git", "show", f"{revision}:{where}"], capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parent)
        if shown.returncode == 0:
            break
    shown.check_returncode()
    source = shown.stdout
    path = Path(tempfile.mkdtemp()) / "previous_rig.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("previous_rig", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["previous_rig"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _file_frames(fit, displacement: np.ndarray) -> np.ndarray:
    """Model-frame displacements (T, V, 3) on a fit → frames in the file's order and units."""
    rotation = np.asarray(fit.alignment.rotation) / fit.alignment.scale
    return fit.mesh.to_file_order(displacement @ rotation) + fit.mesh.file_verts[None]


def evaluate_head(animator, test: TestHead, tracks: list, probe_of, previous=None) -> tuple[dict, tuple]:
    from scantalk.rig.aperture import visible_aperture
    from scantalk.rig.rig import head_slit, lip_vertices

    head = test.head
    file_verts = test.file_verts()
    fit = animator.fit_face((file_verts, head.faces))
    rotation = np.asarray(fit.alignment.rotation) @ test.rotation  # model-from-truth, if found
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))
    found = test.to_truth(fit.alignment.to_file(fit.head.landmarks.as_array()))
    truth = head.landmarks.as_array()
    names = [f for f in head.landmarks.__dataclass_fields__]
    errors = {name: 1000.0 * float(np.linalg.norm(found[names.index(name)] - truth[names.index(name)]))
              for name in LANDMARKS_SCORED}
    probe = probe_of(head)
    rest = float(visible_aperture(head.verts, head.faces, probe)[0])
    clips, old_clips, worst_cross, outer = [], [], -np.inf, []
    upper_v, lower_v = lip_vertices(head)
    up = probe.axes[1]
    kept = None
    for utterance, track in tracks:
        animation = animator.animate_track((file_verts, head.faces), track)
        frames = test.to_truth(np.asarray(animation.frames, dtype=np.float64))
        aperture = visible_aperture(frames, head.faces, probe)
        clips.append(speech_figures(aperture, rest, utterance.phones, track["lip_close"]))
        worst_cross = max(worst_cross, pass_through(np.concatenate([head.verts[None], frames]) @ np.asarray(probe.axes).T,
                                                    head_slit(head)))
        outer.append(float(np.mean([(frames[f, upper_v] - frames[f, lower_v]) @ up - (head.verts[upper_v] - head.verts[lower_v]) @ up
                                    for f in np.argsort(aperture)[-5:]])))
        if kept is None:
            kept = (frames, aperture, utterance.phones)
        if previous is not None:
            old = test.to_truth(_file_frames(fit, previous.rig_displacement(fit.head, track.values)))
            old_clips.append(speech_figures(visible_aperture(old, head.faces, probe), rest, utterance.phones,
                                            track["lip_close"]))
    pooled = {key: sum((clip[key] for clip in clips), []) for key in clips[0]}
    meet = [b <= MEET for b in pooled["bilabials"]]
    meet_closed = [b <= MEET for b in pooled["closed_bilabials"]]
    record = {
        "head": head.name, "kind": test.kind, "vertices": int(head.num_vertices),
        "slit": head_slit(head).describe(), "rest_aperture_mm": 1000 * rest,
        "vowel_gain_mm": 1000 * float(np.mean(pooled["vowels"])) if pooled["vowels"] else None,
        "open_over_close": (float(np.mean(pooled["open"]) / np.mean(pooled["close"]))
                            if pooled["open"] and pooled["close"] and np.mean(pooled["close"]) > 0 else None),
        "bilabials_meet": float(np.mean(meet)) if meet else None, "bilabials": len(meet),
        "bilabials_meet_where_track_closes": float(np.mean(meet_closed)) if meet_closed else None,
        "bilabials_track_closes": len(meet_closed),
        "pause_deviation_mm": 1000 * float(np.mean(pooled["settled_pauses"])) if pooled["settled_pauses"] else None,
        "pause_deviation_whole_mm": 1000 * float(np.mean(pooled["pauses"])) if pooled["pauses"] else None,
        "pass_through_mm": 1000 * worst_cross, "outer_midpoint_opening_mm": 1000 * float(np.mean(outer)),
        "orientation_error_degrees": angle, "orientation_found": angle < 10.0,
        "alignment": fit.alignment.as_dict(), "landmark_error_mm": errors,
    }
    if old_clips:
        old = {key: sum((clip[key] for clip in old_clips), []) for key in old_clips[0]}
        record["previous_rig"] = {
            "vowel_gain_mm": 1000 * float(np.mean(old["vowels"])) if old["vowels"] else None,
            "bilabials_meet": float(np.mean([b <= MEET for b in old["bilabials"]])) if old["bilabials"] else None,
            "pause_deviation_mm": 1000 * float(np.mean(old["settled_pauses"])) if old["settled_pauses"] else None,
        }
    return record, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="four heads, one clip")
    parser.add_argument("--checkpoint", default=None, help="model to evaluate (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "mouth_eval.json")
    parser.add_argument("--picture", type=Path, default=RESULTS / "mouth_worst.png")
    parser.add_argument("--previous", default="3fd9f86",
                        help="also measure the rig of this git revision on the same landmarks and tracks ('' for none)")
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text
    from common import real_clips
    from scantalk.errors import ScanTalkError
    from scantalk.rig.aperture import MouthProbe

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(args.checkpoint, cache_dir=False)
    utterances = real_clips()
    chosen = [next(u for u in utterances if str(u.meta.get("path", "")).endswith(name))
              for name in (CLIPS[:1] if args.quick else CLIPS)]
    tracks = [(u, animator.articulate(u.samples, fps=FPS, sample_rate=u.sample_rate)) for u in chosen]
    heads = build_heads(args.quick)
    previous = previous_rig(args.previous) if args.previous else None
    records, kept = [], {}
    for test in heads:
        try:
            record, frames = evaluate_head(animator, test, tracks, MouthProbe.of, previous)
        except ScanTalkError as error:  # the face not found: a failure of this head, said as the user sees it
            record, frames = failed_record(test, error), None
            records.append(record)
            print(f"{test.head.name[:28]:28s} {test.kind[:30]:30s} FAILED: {error}", flush=True)
            continue
        records.append(record)
        kept[len(records) - 1] = frames
        print(f"{record['head'][:28]:28s} {record['kind'][:30]:30s} gain {record['vowel_gain_mm'] or 0:5.1f} mm  "
              f"open/close {record['open_over_close'] or 0:4.2f}  meet {record['bilabials_meet'] or 0:4.2f}  "
              f"pause {record['pause_deviation_mm'] or 0:4.2f}  cross {record['pass_through_mm']:5.2f}  "
              f"orient {record['orientation_error_degrees']:5.1f}°  lm {np.median(list(record['landmark_error_mm'].values())):4.1f} mm",
              flush=True)
    summary = summarise(records)
    print_table(records, summary)
    shown = [i for i in range(len(records)) if kept.get(i) is not None]
    worst = sorted(shown, key=lambda i: records[i]["vowel_gain_mm"] or 0.0)[:3]
    picture(heads, records, kept, worst, args.picture)
    payload = {"summary": summary, "heads": records, "clips": [Path(u.meta.get("path", "")).name for u in chosen],
               "checkpoint": args.checkpoint or "default", "seconds": time.perf_counter() - clock,
               "command": "python experiments/evaluate/mouth.py" + (" --quick" if args.quick else "")}
    atomic_write_text(args.out, json.dumps(payload, indent=1, default=float))
    print(f"\nwrote {args.out} and {args.picture} ({time.perf_counter() - clock:.0f} s)")
    return 0


def failed_record(test: TestHead, error: Exception) -> dict:
    """A head the tool refused (face not found): it fails every figure."""
    return {"head": test.head.name, "kind": test.kind, "vertices": int(test.head.num_vertices), "error": str(error),
            "vowel_gain_mm": 0.0, "open_over_close": None, "bilabials_meet": 0.0, "bilabials": 0,
            "bilabials_meet_where_track_closes": 0.0, "pause_deviation_mm": None, "pass_through_mm": float("nan"),
            "outer_midpoint_opening_mm": 0.0, "orientation_error_degrees": float("nan"), "orientation_found": False,
            "landmark_error_mm": {}, "rest_aperture_mm": None, "slit": None}


def summarise(records: list[dict]) -> dict:
    gains = [r["vowel_gain_mm"] or 0.0 for r in records]
    errors = [e for r in records for e in r["landmark_error_mm"].values()]
    errors = errors or [float("nan")]
    ratio = [r["open_over_close"] for r in records if r["open_over_close"] is not None]
    return {
        "heads": len(records),
        "vowel_gain_min_mm": float(np.min(gains)), "vowel_gain_mean_mm": float(np.mean(gains)),
        "heads_gain_at_least_4mm": int(sum(g >= 4.0 for g in gains)),
        "open_over_close_min": float(np.min(ratio)) if ratio else None,
        "bilabials_meet_min": float(np.min([r["bilabials_meet"] for r in records if r["bilabials_meet"] is not None])),
        "bilabials_meet_where_track_closes_min": float(np.min(
            [r["bilabials_meet_where_track_closes"] for r in records if r["bilabials_meet_where_track_closes"] is not None])),
        "pause_deviation_max_mm": float(np.max([r["pause_deviation_mm"] or 0.0 for r in records])),
        "pause_deviation_whole_max_mm": float(np.max([r.get("pause_deviation_whole_mm") or 0.0 for r in records])),
        "pass_through_max_mm": float(np.nanmax([r["pass_through_mm"] for r in records])),
        "orientation_found": int(sum(r["orientation_found"] for r in records)),
        "landmark_error_median_mm": float(np.median(errors)), "landmark_error_max_mm": float(np.max(errors)),
        "outer_midpoint_opening_mean_mm": float(np.mean([r["outer_midpoint_opening_mm"] for r in records])),
        "previous_rig": {key: [r["previous_rig"][key] for r in records if "previous_rig" in r]
                         for key in ("vowel_gain_mm", "bilabials_meet", "pause_deviation_mm")},
        "faces_not_found": [r["head"] + " (" + r["kind"] + ")" for r in records if "error" in r],
    }


def print_table(records: list[dict], summary: dict) -> None:
    print("\n| figure | target | measured |\n| --- | --- | --- |")
    rows = [
        ("aperture gain on vowels, every head (min)", ">= 4 mm", f"{summary['vowel_gain_min_mm']:.1f} mm "
         f"({summary['heads_gain_at_least_4mm']} of {summary['heads']} heads)"),
        ("aperture gain on vowels, mean over heads", ">= 6 mm", f"{summary['vowel_gain_mean_mm']:.1f} mm"),
        ("open / close vowels (min over heads)", ">= 1.5", f"{summary['open_over_close_min']:.2f}"),
        ("p/b/m where the lips meet (min over heads)", ">= 90 %", f"{100 * summary['bilabials_meet_min']:.1f} %"),
        ("... of those the track closes (lip_close > 0.5)", ">= 90 %",
         f"{100 * summary['bilabials_meet_where_track_closes_min']:.0f} %"),
        ("pauses, settled (>= 100 ms from speech): |aperture - rest| (max over heads)", "<= 1 mm",
         f"{summary['pause_deviation_max_mm']:.2f} mm"),
        ("(whole pauses, transitions into and out of speech included)", "—",
         f"{summary['pause_deviation_whole_max_mm']:.2f} mm"),
        ("lower lip above the upper at the midline (worst)", "none", f"{summary['pass_through_max_mm']:.2f} mm"),
        ("orientation found", "every head", f"{summary['orientation_found']} of {summary['heads']}"),
        ("landmark error, median / worst", "<= 3 / 8 mm",
         f"{summary['landmark_error_median_mm']:.1f} / {summary['landmark_error_max_mm']:.1f} mm"),
        ("(old figure) outer lip midpoints apart at the widest frames", "—",
         f"{summary['outer_midpoint_opening_mean_mm']:.1f} mm"),
    ]
    before = summary["previous_rig"]
    if before["vowel_gain_mm"]:
        gains = [g or 0.0 for g in before["vowel_gain_mm"]]
        meets = [m for m in before["bilabials_meet"] if m is not None]
        rows.append(("previous rig, same landmarks: vowel gain min / mean, p/b/m meet min", "—",
                     f"{min(gains):.1f} / {np.mean(gains):.1f} mm, {100 * min(meets):.0f} %"))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if summary["faces_not_found"]:
        print("faces refused (not found): " + "; ".join(summary["faces_not_found"]))


def picture(heads: list[TestHead], records: list[dict], kept: dict, worst: list[int], path: Path) -> None:
    """Close-ups of the worst heads: rest, the widest vowel frame, the first p/b/m."""
    from PIL import Image, ImageDraw

    from scantalk.render.camera import Camera
    from scantalk.render.raycast import render_frames

    rows = []
    for index in worst:
        head = heads[index].head
        frames, aperture, phones = kept[index]
        bilabial = next((_frames_of(p, len(frames)) for p in phones if _vowel(p.phone) in ("P", "B", "M")), None)
        chosen = [0, int(np.argmax(aperture))]
        if bilabial is not None and bilabial.size:
            chosen.append(int(bilabial[np.argmin(aperture[bilabial])]))
        camera = Camera.looking_at(head.landmarks.mouth_centre, 0.035, resolution=256)
        images = list(render_frames(frames[chosen], head.faces, camera, progress=False, workers=1))
        row = Image.fromarray(np.concatenate(images, axis=1))
        ImageDraw.Draw(row).text((4, 4), f"{records[index]['head']} ({records[index]['kind']}): rest | widest | p/b/m",
                                 fill=(255, 255, 0))
        rows.append(np.asarray(row))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


if __name__ == "__main__":
    sys.exit(main())

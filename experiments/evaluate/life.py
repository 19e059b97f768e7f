"""Does the face come alive beyond its mouth, and does the mouth still speak as before?

    python experiments/evaluate/life.py            # 9 heads × a 60 s real recording (about 6 min)
    python experiments/evaluate/life.py --quick    # 3 heads, 20 s

Heads the model never saw: procedural identities (seeds ≥ 900000) with separate eyeballs under
lids, one stylised, one meshed coarsely (5 mm), one bust with a long neck stored z-up; a procedural head with its eyeballs
taken out (empty sockets); the `james` scan (eyes in the skin mesh, lids closed over them) and a
caricature of it; MediaPipe's face mask (eyes as holes, no eyeballs). Speech: the real test
recordings one after another (LibriVox, spoken card names, TIDIGITS), 60 s, with the pauses of
their forced alignment (not the energy the life motion reads).

Each head is animated with the shipped model twice, `life=0` and `life=1`, and measured:

- blinks: rate per minute; the share starting within 300 ms of a pause (≥ 150 ms of silence in
  the alignment) or a clip boundary; the lids' gap at the middle of each eye at every blink's
  peak (`lid_margins`, `lid_gaps`: ≤ 1 mm or ≤ 10 % of the open gap) and 0.4 s later (open again).
  An eye whose surface shows no opening (eyes in the skin, closed in the scan) has no gap to
  close: it is not scored, and how far the skin over it comes down is reported instead;
- eyeballs: the largest change of a distance between two vertices of one eyeball over the
  animation (rigid: < 0.05 mm), and the deepest any skin vertex goes inside an eyeball's sphere;
- brows: Pearson r between brow_inner_up and the voice's pitch excess (semitones of F0 above its
  running median, 0 where unvoiced), and the share of brow raises peaking within 200 ms of an F0
  peak. The life motion raises the brows on F0 accents by design, so this checks that the design
  is what reaches the face; it is not an independent finding;
- head: percentiles of yaw, pitch and roll, and how far the bust's shoulders move;
- lip sync with and without life (visible aperture, `scantalk.rig.aperture`, measured with the head's
  rigid motion taken back out, as a camera riding on the head sees the mouth): vowel opening,
  pause deviation, p/b/m closure — within 10 % of the life=0 figures;
- `life=0` gives exactly the frames of an animation without `life`.

Writes `experiments/results/life_eval.json` and `life_blinks.png` (each head's eyes at rest and at
its widest-remaining blink peak).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mouth import FPS, MEET, speech_figures  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
SECONDS = 60.0
NEAR_PAUSE_S = 0.3
RIGID_MM = 0.05


@dataclass
class TestHead:
    head: object
    kind: str
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def file_verts(self) -> np.ndarray:
        return self.head.verts @ self.rotation.T


def build_heads(quick: bool) -> list[TestHead]:
    from scantalk.face.alignment import axes_rotation
    from scantalk.synthesis.heads.procedural import procedural_head, sample_shape, stylised_shape
    from scantalk.synthesis.heads.real import deformed_identity
    from scantalk.face.head import Head
    from scantalk.face.samples import real_face

    plain = procedural_head(900041)
    james, mediapipe = real_face("james"), real_face("mediapipe")
    if quick:
        return [TestHead(plain, "eyeballs under lids"), TestHead(james, "eyes in the skin (closed)"),
                TestHead(mediapipe, "eye holes, no eyeballs")]
    skin = plain.parts == 0
    used = np.flatnonzero(skin)
    index = np.full(plain.num_vertices, -1)
    index[used] = np.arange(len(used))
    kept = skin[plain.faces].all(axis=1)
    sockets = Head(plain.verts[used], index[plain.faces[kept]], plain.landmarks, "procedural/900041/no-eyeballs",
                   parts=np.zeros(len(used), np.int8))
    bust = procedural_head(900044, shape=replace(sample_shape(900044), neck_length=0.2))
    return [
        TestHead(plain, "eyeballs under lids"),
        TestHead(procedural_head(900042), "eyeballs under lids"),
        TestHead(procedural_head(900043, shape=stylised_shape(900043)), "stylised, eyeballs"),
        TestHead(procedural_head(900045, resolution=0.005), "5 mm meshing, eyeballs"),
        TestHead(bust, "bust with a long neck, z-up", axes_rotation("z", "-y").T),
        TestHead(sockets, "empty eye sockets"),
        TestHead(james, "eyes in the skin (closed)"),
        TestHead(deformed_identity(james, 7, strength=2.0), "eyes in the skin, caricature"),
        TestHead(mediapipe, "eye holes, no eyeballs"),
    ]


def recording(seconds: float):
    """(samples (N,), phones tiling them, clip boundaries in s): the real recordings in a row."""
    from scantalk.synthesis.speech.phones import PhoneSegment
    from common import real_clips

    utterances = real_clips()
    samples, phones, boundaries, offset = [], [], [], 0.0
    while offset < seconds:
        for utterance in utterances:
            if offset >= seconds:
                break
            samples.append(utterance.samples)
            phones += [PhoneSegment(p.phone, p.start + offset, p.end + offset) for p in utterance.phones]
            offset += len(utterance.samples) / 16000
            boundaries.append(offset)
    audio = np.concatenate(samples)[: int(seconds * 16000)]
    return audio, [p for p in phones if p.start < seconds], boundaries[:-1]


def blink_figures(life, rig, model_frames: np.ndarray, rest: np.ndarray, skin: np.ndarray, phones,
                  boundaries) -> dict:
    from scantalk.life import lid_gaps, lid_margins

    lid = life["blink_left"]
    peaks = np.flatnonzero((lid == 1.0) & (np.r_[0.0, lid[:-1]] < 1.0))
    starts = []
    for peak in peaks:
        start = peak
        while start > 0 and lid[start - 1] > 0:
            start -= 1
        starts.append(start / FPS)
    pauses = [(p.start, p.end) for p in phones if p.phone == "SIL" and p.end - p.start >= 0.15]
    pauses += [(b, b) for b in boundaries]
    near = [any(a - NEAR_PAUSE_S <= t <= b + NEAR_PAUSE_S for a, b in pauses) for t in starts]
    pairs = lid_margins(rig, rest, skin)
    open_gap = lid_gaps(rig, rest[None], pairs)[0]
    at_peak = lid_gaps(rig, model_frames[peaks], pairs) if len(peaks) else np.zeros((0, 2))
    later = lid_gaps(rig, model_frames[np.minimum(peaks + int(0.4 * FPS), len(model_frames) - 1)], pairs) \
        if len(peaks) else np.zeros((0, 2))
    closed = (at_peak <= np.maximum(0.001, 0.1 * open_gap)) if len(peaks) else np.zeros((0, 2), bool)
    # Eyes with no opening in the surface (closed in the scan, or in the skin): nothing to close,
    # so the closure is not scored; how far the skin over the eye comes down is reported.
    from scantalk.life.rig import DEFAULT_OPENING

    opened = [tuple(round(v, 6) for v in eye.opening) != DEFAULT_OPENING for eye in rig.eyes]
    drop = [1000 * float(-((model_frames[peaks][:, eye.lid] - rest[eye.lid]) @ rig.axes[1]).min())
            if len(peaks) and len(eye.lid) else 0.0 for eye in rig.eyes]
    scored = closed[:, opened] if len(peaks) and any(opened) else None
    return {
        "blinks": int(len(peaks)), "per_minute": float(len(peaks) / (len(lid) / FPS / 60.0)),
        "near_pause_share": float(np.mean(near)) if near else None,
        "open_gap_mm": [1000 * float(g) for g in open_gap],
        "peak_gap_mm_max": [1000 * float(np.nanmax(at_peak[:, k])) if len(peaks) else None for k in range(2)],
        "eye_opening_found": opened, "lid_drop_mm": drop,
        "closed_share": float(np.mean(scored)) if scored is not None and scored.size else None,
        "reopened_share": float(np.mean(later >= 0.9 * open_gap)) if len(peaks) else None,
        "peaks": peaks.tolist(),
    }


def eyeball_figures(rig, model_frames: np.ndarray, rest: np.ndarray, skin: np.ndarray) -> dict:
    rng = np.random.default_rng(0)
    change, inside = 0.0, -np.inf
    for eye in rig.eyes:
        near = np.flatnonzero(skin & (np.linalg.norm(rest - eye.centre, axis=1) < eye.radius + 0.012))
        if near.size:
            inside = max(inside, float((eye.radius - np.linalg.norm(model_frames[:, near] - eye.centre, axis=2)).max()))
        if len(eye.eyeball) < 2:
            continue
        pairs = eye.eyeball[rng.integers(0, len(eye.eyeball), (300, 2))]
        lengths = np.linalg.norm(model_frames[:, pairs[:, 0]] - model_frames[:, pairs[:, 1]], axis=2)
        change = max(change, float(np.abs(lengths - lengths[:1]).max()))
    return {"eyeball_distance_change_mm": 1000 * change if any(len(e.eyeball) for e in rig.eyes) else None,
            "deepest_skin_inside_eyeball_mm": 1000 * inside if any(len(e.eyeball) for e in rig.eyes) else None}


def brow_figures(life, audio: np.ndarray) -> dict:
    from scantalk.life.motion import speech_features

    features = speech_features(audio, 16000, FPS, life.num_frames)
    f0 = features["f0_hz"]
    voiced = f0 > 0
    tones = np.zeros_like(f0)
    tones[voiced] = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    half = int(0.75 * FPS)
    excess = np.zeros_like(f0)
    for i in np.flatnonzero(voiced):
        window = slice(max(0, i - half), i + half + 1)
        excess[i] = max(0.0, tones[i] - np.median(tones[window][voiced[window]]))
    brow = life["brow_inner_up"]
    r = float(np.corrcoef(brow, excess)[0, 1]) if brow.std() > 0 else None
    raises = [i for i in range(1, len(brow) - 1) if brow[i] > 0.2 and brow[i] >= brow[i - 1] and brow[i] > brow[i + 1]]
    f0_peaks = [i for i in range(1, len(excess) - 1) if excess[i] > 1.0 and excess[i] >= excess[i - 1]
                and excess[i] > excess[i + 1]]
    near = [any(abs(i - j) <= 0.2 * FPS for j in f0_peaks) for i in raises]
    return {"pearson_brow_vs_pitch_excess": r, "brow_raises": len(raises),
            "raises_within_200ms_of_f0_peak": float(np.mean(near)) if near else None}


def head_figures(life, rest: np.ndarray, model_frames: np.ndarray) -> dict:
    out = {name: [float(v) for v in np.percentile(life[name], [1, 5, 50, 95, 99])]
           for name in ("head_yaw", "head_pitch", "head_roll")}
    lowest = rest[:, 1] < rest[:, 1].min() + 0.02
    out["lowest_2cm_moved_mm"] = 1000 * float(np.linalg.norm(model_frames[:, lowest] - rest[lowest], axis=2).max())
    return out


def lip_sync(frames: np.ndarray, head, phones, lip_close: np.ndarray) -> dict:
    from scantalk.rig.aperture import MouthProbe, visible_aperture

    probe = MouthProbe.of(head)
    rest = float(visible_aperture(head.verts, head.faces, probe)[0])
    aperture = visible_aperture(frames, head.faces, probe)
    figures = speech_figures(aperture, rest, phones, lip_close)
    return {"vowel_gain_mm": 1000 * float(np.mean(figures["vowels"])),
            "pause_deviation_mm": 1000 * float(np.mean(figures["pauses"])) if figures["pauses"] else None,
            "bilabials_meet": float(np.mean([b <= MEET for b in figures["bilabials"]])) if figures["bilabials"] else None}


def evaluate_head(animator, test: TestHead, audio: np.ndarray, phones, boundaries) -> tuple[dict, tuple]:
    from scantalk.life import LifeRig

    head, file_verts = test.head, test.file_verts()
    still = animator.animate((file_verts, head.faces), audio, sample_rate=16000)
    zero = animator.animate((file_verts, head.faces), audio, sample_rate=16000, life=0.0)
    alive = animator.animate((file_verts, head.faces), audio, sample_rate=16000, life=1.0)
    identical = bool(np.array_equal(np.asarray(still.frames), np.asarray(zero.frames)))
    fit = alive.fit
    rest = fit.head.verts
    model = fit.alignment.to_model(np.asarray(alive.frames, dtype=np.float64))
    rig = LifeRig.of(fit.head)
    skin = np.ones(len(rest), bool) if fit.head.parts is None else fit.head.parts == 0
    steady = rig.steady(model, alive.life.values)
    truth_frames = lambda frames: frames @ test.rotation  # file frame → the head's own frame  # noqa: E731
    before = lip_sync(truth_frames(np.asarray(still.frames, dtype=np.float64)), head, phones,
                      still.articulation["lip_close"])
    after = lip_sync(truth_frames(fit.alignment.to_file(steady)), head, phones, alive.articulation["lip_close"])
    record = {
        "head": head.name, "kind": test.kind, "vertices": int(head.num_vertices),
        "eyeball_parts": [int(len(eye.eyeball)) for eye in rig.eyes],
        "opening_degrees": [list(map(float, eye.opening)) for eye in rig.eyes],
        "life0_identical": identical,
        **blink_figures(alive.life, rig, steady, rest, skin, phones, boundaries),
        **eyeball_figures(rig, steady, rest, skin),
        **brow_figures(alive.life, audio),
        "head_motion": head_figures(alive.life, rest, model),
        "lip_sync_without_life": before, "lip_sync_with_life": after,
    }
    # For the picture: the blink peak whose lids stay farthest apart, as a camera on the head sees it.
    peaks = record["peaks"]
    shown = None
    if peaks:
        from scantalk.life import lid_gaps, lid_margins

        gaps = lid_gaps(rig, steady[peaks], lid_margins(rig, rest, skin))
        shown = steady[peaks[int(np.nanargmax(np.nan_to_num(gaps, nan=-1.0).max(axis=1)))]]
    return record, (rig, shown, rest, fit.head.faces)


def summarise(records: list[dict]) -> dict:
    def ratio(key: str) -> list[float]:
        out = []
        for r in records:
            a, b = r["lip_sync_with_life"][key], r["lip_sync_without_life"][key]
            if a is not None and b:
                out.append(a / b)
        return out

    eyeball = [r for r in records if r["eyeball_distance_change_mm"] is not None]
    return {
        "heads": len(records),
        "blinks_per_minute": [r["per_minute"] for r in records][0] if records else None,
        "near_pause_share": records[0]["near_pause_share"] if records else None,
        "closed_share_min": min((r["closed_share"] for r in records if r["closed_share"] is not None), default=None),
        "reopened_share_min": min(r["reopened_share"] for r in records if r["reopened_share"] is not None),
        "eyeball_distance_change_mm_max": max((r["eyeball_distance_change_mm"] for r in eyeball), default=None),
        "deepest_skin_inside_eyeball_mm_max": max((r["deepest_skin_inside_eyeball_mm"] for r in eyeball), default=None),
        "vowel_ratio_range": [min(ratio("vowel_gain_mm")), max(ratio("vowel_gain_mm"))],
        "pause_ratio_range": [min(ratio("pause_deviation_mm")), max(ratio("pause_deviation_mm"))],
        "bilabial_meet_ratio_range": [min(ratio("bilabials_meet")), max(ratio("bilabials_meet"))],
        "life0_identical": all(r["life0_identical"] for r in records),
        "brow_pitch_r": records[0]["pearson_brow_vs_pitch_excess"] if records else None,
    }


def print_table(records: list[dict], summary: dict) -> None:
    print("\n| head | kind | blinks/min | near pause | closed at peak | max peak gap mm (L, R) | reopened | "
          "eyeball Δ mm | vowel with/without life | pause | p/b/m meet | yaw 5-95 % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        with_, without = r["lip_sync_with_life"], r["lip_sync_without_life"]
        gaps = ", ".join("—" if g is None else f"{g:.2f}" for g in r["peak_gap_mm_max"])
        eyeball = "—" if r["eyeball_distance_change_mm"] is None else f"{r['eyeball_distance_change_mm']:.4f}"
        yaw = r["head_motion"]["head_yaw"]
        print(f"| {r['head']} | {r['kind']} | {r['per_minute']:.1f} | {r['near_pause_share']:.2f} | "
              f"{'—' if r['closed_share'] is None else format(r['closed_share'], '.2f')} | {gaps} | {r['reopened_share']:.2f} | {eyeball} | "
              f"{with_['vowel_gain_mm']:.2f} / {without['vowel_gain_mm']:.2f} | "
              f"{with_['pause_deviation_mm']:.2f} / {without['pause_deviation_mm']:.2f} | "
              f"{with_['bilabials_meet']:.2f} / {without['bilabials_meet']:.2f} | {yaw[1]:+.1f}..{yaw[3]:+.1f}° |")
    print("\n" + json.dumps(summary, indent=1))


def picture(records: list[dict], kept: list[tuple], path: Path) -> None:
    from PIL import Image

    from scantalk.render.camera import Camera
    from scantalk.render.raycast import render_frames

    rows = []
    for record, (rig, shown, rest, faces) in zip(records, kept):
        if shown is None or faces is None:
            continue
        centre = 0.5 * (rig.eyes[0].centre + rig.eyes[1].centre) + 0.03 * rig.axes[2]
        camera = Camera.looking_at(centre, 0.055, rig.axes, 256, 30.0)
        images = list(render_frames(np.stack([rest, shown]).astype(np.float32), faces, camera, progress=False,
                                    workers=1))
        rows.append(np.concatenate(images, axis=1))
    if rows:
        Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three heads, 20 s")
    parser.add_argument("--checkpoint", default=None, help="model to evaluate (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "life_eval.json")
    parser.add_argument("--picture", type=Path, default=RESULTS / "life_blinks.png")
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(args.checkpoint, cache_dir=False)
    audio, phones, boundaries = recording(20.0 if args.quick else SECONDS)
    records, kept = [], []
    for test in build_heads(args.quick):
        record, state = evaluate_head(animator, test, audio, phones, boundaries)
        records.append(record)
        kept.append(state)
        print(f"{record['head'][:30]:30s} {record['kind'][:28]:28s} blinks {record['per_minute']:4.1f}/min  "
              f"closed {record['closed_share']}  gap {record['peak_gap_mm_max']}  drop {record['lid_drop_mm']}  "
              f"vowel {record['lip_sync_with_life']['vowel_gain_mm']:.2f}/{record['lip_sync_without_life']['vowel_gain_mm']:.2f}",
              flush=True)
    summary = summarise(records)
    print_table(records, summary)
    picture(records, kept, args.picture)
    for record in records:
        record.pop("peaks")
    payload = {"summary": summary, "heads": records, "seconds_of_speech": len(audio) / 16000,
               "checkpoint": args.checkpoint or "default", "seconds": time.perf_counter() - clock,
               "command": "python experiments/evaluate/life.py" + (" --quick" if args.quick else "")}
    atomic_write_text(args.out, json.dumps(payload, indent=1, default=float))
    print(f"\nwrote {args.out} and {args.picture} ({time.perf_counter() - clock:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

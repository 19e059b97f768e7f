"""`scantalk demo`: a real face scan speaking real recorded speech, with the shipped model, offline.

The face is the `james` scan (menpo3d, BSD-3), which the default model never saw in training;
the speech is a LibriVox recording (public domain, from CMU PocketSphinx's test data). Both are
vendored in `scantalk/assets/`, so the demo needs no network and no extra package. The video shows
neutral | animated | a close-up of the mouth, large enough to see the lips part; the face blinks,
looks around, raises its brows and moves its head with the speech (`--life 0` for the mouth alone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import time
from pathlib import Path

from scantalk.atomic import atomic_write_text, check_output_dir
from scantalk.errors import OutputError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_SPEECH = ASSETS / "speech" / "librivox_sense_and_sensibility_0870.wav"
# The folder's marker: a later `scantalk demo` may rewrite a folder that holds it, and no other.
MARKER = "demo.json"
DEMO_ENTRIES = frozenset({MARKER, "face.obj", "speech.wav", "animation"})


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo", help="output folder (default ./demo)")
    parser.add_argument("--face", default=None, help="a face of your own instead of the james scan")
    parser.add_argument("--audio", default=None, help="speech of your own instead of the LibriVox clip")
    parser.add_argument("--resolution", type=int, default=512, help="pixels per side of each video panel")
    parser.add_argument("--no-video", action="store_true", help="skip the video")
    parser.add_argument("--no-closeup", action="store_true",
                        help="leave out the mouth close-up (video: neutral | animated only)")
    parser.add_argument("--life", type=float, default=1.0,
                        help="0..1: blinks, gaze, brows and head motion from the speech (default 1; 0 = mouth only)")


def is_demo_dir(path: Path) -> bool:
    """Whether `path` is a folder an earlier `scantalk demo` wrote (its marker, only its entries)."""
    try:
        names = {entry.name for entry in path.iterdir()}
        return MARKER in names and names <= DEMO_ENTRIES
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from scantalk.render.camera import check_resolution

    check_resolution(args.resolution)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is an existing file; give a folder for the demo (nothing was changed)")
    if out.exists() and any(out.iterdir()) and not is_demo_dir(out):
        raise OutputError(f"{out} exists and is not a folder written by `scantalk demo`; "
                          "choose another --out (nothing was changed)")
    check_output_dir(out, overwrite=True, is_previous_output=lambda p: is_demo_dir(p) or not any(p.iterdir()),
                     inputs=[p for p in (args.face, args.audio) if p], what="--out")
    created = [folder for folder in [out, *out.parents] if not folder.exists()]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, json.dumps({"written_by": "scantalk demo"}))
    try:
        return _demo(args, out)
    except BaseException:
        # A run that fails leaves no folder it made behind (one it did not make keeps its files).
        if created:
            shutil.rmtree(out, ignore_errors=True)
            for folder in created[1:]:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def _demo(args: argparse.Namespace, out: Path) -> int:
    from scantalk.inference.animator import Animator
    from scantalk.face.samples import real_face
    from scantalk.geometry import Mesh, save_mesh

    stages: dict[str, float] = {}

    clock = time.perf_counter()
    if args.face is None:
        head = real_face("james")
        face_path = out / "face.obj"
        save_mesh(face_path, head.verts, Mesh.from_arrays(head.verts, head.faces, name="james"))
        face_note = f"{face_path} (the james scan, {head.num_vertices} vertices; never seen in training)"
    else:
        face_path = Path(args.face)
        face_note = str(face_path)
    audio_path = Path(args.audio) if args.audio else DEMO_SPEECH
    stages["inputs"] = time.perf_counter() - clock

    clock = time.perf_counter()
    animator = Animator.from_checkpoint()
    stages["load model"] = time.perf_counter() - clock
    animation = animator.animate(face_path, audio_path, life=args.life if animator.articulated else 0.0)
    stages.update({k.removesuffix("_s"): v for k, v in animation.meta["timings"].items()})

    clock = time.perf_counter()
    animation.save(out / "animation", overwrite=True)
    video = None
    if not args.no_video:
        video = animation.to_video(out / "animation" / "animation.mp4", resolution=args.resolution,
                                   compare="neutral", mouth_closeup=not args.no_closeup)
    stages["write"] = time.perf_counter() - clock

    print(f"\nface:   {face_note}")
    print(f"speech: {audio_path} ({len(animation.audio) / animation.sample_rate:.1f} s of real recorded speech)")
    for name, seconds in stages.items():
        print(f"  {name:<14} {seconds:6.2f} s")
    print(f"animation: {(out / 'animation').resolve()}  ({animation.num_frames} frames)")
    if animation.articulation is not None:
        print(f"articulation track (editable curves): {(out / 'animation' / 'articulation.csv').resolve()}")
    if video is not None:
        layout = "neutral | animated" + ("" if args.no_closeup else " | mouth close-up")
        print(f"video ({layout}): {video.resolve()}")
    return 0

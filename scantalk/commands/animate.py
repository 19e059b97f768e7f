"""`scantalk animate FACE AUDIO -o OUT_DIR`: the Animator from the command line."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from scantalk.errors import ScanTalkError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("face", help="mesh or point cloud (.obj .ply .off .stl .glb .pcd .xyz)")
    parser.add_argument("audio", nargs="?", default=None,
                        help="speech (.wav .flac .ogg), any sample rate (optional with --track)")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=None, help="a ScanTalk .ckpt (default: the shipped model)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frames per second (default 30; with --track, the track's own rate)")
    parser.add_argument("--align", choices=["auto", "none"], default="auto")
    parser.add_argument("--up", default=None, help="the file's up axis, e.g. z (default y)")
    parser.add_argument("--forward", default=None, help="the axis the face looks along, e.g. -y (default z)")
    parser.add_argument("--emotion", default=None,
                        help="an emotion label (happy) or a mix (happy:0.6,pleased:0.3); or keyframes over time, "
                             "TIME_S=EMOTION@INTENSITY;... e.g. '0=sad@0.5;3=happy:0.6,pleased:0.3@1'")
    parser.add_argument("--intensity", type=float, default=None, help="emotion strength in [0, 1]")
    parser.add_argument("--landmarks", default=None,
                        help="a landmarks.json (as an animation saves it) to place the rig from instead of the points found")
    parser.add_argument("--track", default=None,
                        help="decode this articulation track (.csv/.json, e.g. an edited articulation.csv) "
                             "onto the face instead of the speech; AUDIO, if given, is kept as the soundtrack")
    parser.add_argument("--life", type=float, default=0.0,
                        help="0..1: blinks, gaze, brows and head motion drawn from the speech (0 = only the "
                             "mouth moves; see scantalk.life)")
    parser.add_argument("--life-groups", default=None,
                        help="which of blinks,gaze,brows,head --life draws (comma-separated; default all)")
    parser.add_argument("--life-seed", type=int, default=0, help="the random draw of the life motion")
    parser.add_argument("--life-track", default=None,
                        help="a life.csv (as an animation saves it, edited or not) to decode with --track")
    parser.add_argument("--export", action="append", choices=["glb", "usd", "arkit"], default=[],
                        help="also write animation.glb (morph targets), animation.usdc, or arkit.csv/.json "
                             "(ARKit-named curves); repeat for several")
    parser.add_argument("--no-video", action="store_true", help="skip animation.mp4")
    parser.add_argument("--compare", choices=["neutral"], default=None, help="side-by-side video")
    parser.add_argument("--export-meshes", choices=["ply", "obj"], default=None, help="one mesh per frame")
    parser.add_argument("--export-cache", choices=["pc2"], default=None, help="point cache for DCC tools")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a previous output of `scantalk animate` at -o (never other folders)")


def _emotion_or_mix(text: str) -> str | dict[str, float]:
    """"happy" → "happy"; "happy:0.6,pleased:0.3" → {"happy": 0.6, "pleased": 0.3}."""
    if ":" not in text and "," not in text:
        return text.strip()
    mix = {}
    for part in text.split(","):
        label, _, share = part.partition(":")
        try:
            mix[label.strip()] = float(share) if share else 1.0
        except ValueError:
            raise ScanTalkError(f"--emotion {text!r}: {share!r} is not a share; write e.g. happy:0.6,pleased:0.3") from None
    return mix


def parse_emotion(text: str | None) -> Any:
    """--emotion as the API takes it: None, a label, a mix, or keyframes [(time_s, label or mix, intensity)]."""
    if text is None or "=" not in text:
        return None if text is None else _emotion_or_mix(text)
    keys = []
    for part in text.split(";"):
        when, _, rest = part.partition("=")
        what, _, level = rest.rpartition("@")
        try:
            time_s, intensity = float(when), float(level)
        except ValueError:
            raise ScanTalkError(f"--emotion keyframe {part!r}: write TIME_S=EMOTION@INTENSITY, e.g. 0=sad@0.5") from None
        if not (math.isfinite(time_s) and math.isfinite(intensity)):
            raise ScanTalkError(f"--emotion keyframe {part!r}: the time must be a finite number of seconds and "
                                "the intensity a finite number in [0, 1], e.g. 0=sad@0.5")
        keys.append((time_s, _emotion_or_mix(what), intensity))
    return keys


def parse_life_groups(text: str | None) -> list[str] | None:
    """`--life-groups blinks,head` → ["blinks", "head"]; None for all."""
    if text is None:
        return None
    from scantalk.life import LIFE_GROUPS

    groups = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [group for group in groups if group not in LIFE_GROUPS]
    if unknown or not groups:
        raise ScanTalkError(f"--life-groups {text!r}: give some of {','.join(LIFE_GROUPS)}, comma-separated")
    return groups


def run(args: argparse.Namespace) -> int:
    from scantalk.inference.animation import check_fps, is_animation_dir
    from scantalk.inference.animator import Animator, resolve_device
    from scantalk.atomic import staged_output_dir
    from scantalk.render.camera import check_resolution

    # Everything a user can get wrong is checked before the model loads or inference runs.
    args.fps_given = args.fps is not None
    fps = check_fps(args.fps if args.fps_given else 30.0)
    if args.audio is None and args.track is None:
        raise ScanTalkError("give the speech to animate (AUDIO) or an articulation track (--track FILE)")
    emotion = parse_emotion(args.emotion)
    life_groups = parse_life_groups(args.life_groups)
    if not 0.0 <= args.life <= 1.0:
        raise ScanTalkError(f"--life {args.life:g} must lie in 0..1 (0 = only the mouth moves, 1 = fully alive)")
    if args.life_track is not None and args.track is None:
        raise ScanTalkError("--life-track decodes a saved life track together with --track; to draw life from the "
                            "speech, use --life")
    if args.life and args.track is not None:
        raise ScanTalkError("--life draws life motion from the speech, but --track decodes a saved track; pass the "
                            "life.csv saved beside it with --life-track instead")
    check_resolution(args.resolution)
    device = resolve_device(args.device)
    inputs = [path for path in (args.face, args.audio, args.track, args.checkpoint, args.landmarks, args.life_track)
              if path]
    landmarks = None
    if args.landmarks is not None:
        from scantalk.face.landmarks import read_landmarks

        landmarks = read_landmarks(args.landmarks)
    # The output is built in a hidden sibling folder (created now, so an unwritable place fails
    # at once) and swapped in at the end: an interrupted run leaves the old output as it was.
    with staged_output_dir(args.out, args.overwrite, is_animation_dir, inputs, what="-o") as staging:
        clock = time.perf_counter()
        animator = Animator.from_checkpoint(args.checkpoint, device=device)
        model_s = time.perf_counter() - clock
        if not animator.articulated and (args.track is not None or "arkit" in args.export):
            raise ScanTalkError(f"--track and --export arkit need a model that speaks through an articulation "
                                f"track; {args.checkpoint} is an end-to-end ScanTalk model")
        # Frames stream straight into the output file: memory stays bounded for any length.
        frames_file = staging / "animation.npy"
        if args.track is not None:
            animation = animator.animate_track(args.face, args.track, audio=args.audio, align=args.align,
                                               up=args.up, forward=args.forward, out=frames_file,
                                               fps=fps if args.fps_given else None, emotion=emotion,
                                               intensity=args.intensity, landmarks=landmarks,
                                               life=args.life_track)
        else:
            animation = animator.animate(args.face, args.audio, fps=fps, align=args.align, up=args.up,
                                         forward=args.forward, emotion=emotion, intensity=args.intensity,
                                         out=frames_file, landmarks=landmarks, life=args.life,
                                         life_groups=life_groups, life_seed=args.life_seed)
        clock = time.perf_counter()
        animation.write_files(staging)
        if len(animation.audio) == 0:  # a track without AUDIO: no soundtrack rather than an empty one
            (staging / "audio.wav").unlink(missing_ok=True)
        if not args.no_video:
            animation.to_video(staging / "animation.mp4", resolution=args.resolution, compare=args.compare)
        video_s = time.perf_counter() - clock
        if args.export_meshes:
            animation.export_meshes(staging / "meshes", args.export_meshes)
        if args.export_cache == "pc2":
            animation.export_pc2(staging / "animation.pc2")
        for kind in dict.fromkeys(args.export):
            if kind == "glb":
                report = animation.export_gltf(staging / "animation.glb")
                print(f"  animation.glb: {report.num_targets} morph targets, max error {report.max_error * 1000:.3f} mm")
            elif kind == "usd":
                animation.export_usd(staging / "animation.usdc")
            else:
                animation.export_arkit(staging / "arkit.csv")
                animation.export_arkit(staging / "arkit.json")
    out = Path(args.out)
    timings = {"model_s": model_s, **animation.meta["timings"], "write_s": video_s}
    print(f"{animation.num_frames} frames × {animation.frames.shape[1]} vertices → {out.resolve()}")
    print("  " + "  ".join(f"{k[:-2]} {v:.2f}s" for k, v in timings.items()))
    return 0

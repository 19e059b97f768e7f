"""`scantalk animate FACE AUDIO -o OUT_DIR`: the Animator from the command line."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("face", help="mesh or point cloud (.obj .ply .off .stl .glb .pcd .xyz)")
    parser.add_argument("audio", help="speech (.wav .flac .ogg), any sample rate")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=None, help="a ScanTalk .ckpt (default: the shipped model)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--align", choices=["auto", "none"], default="auto")
    parser.add_argument("--up", default=None, help="the file's up axis, e.g. z (default y)")
    parser.add_argument("--forward", default=None, help="the axis the face looks along, e.g. -y (default z)")
    parser.add_argument("--emotion", default=None, help="emotion label (models with the emotion head)")
    parser.add_argument("--intensity", type=float, default=None, help="emotion strength in [0, 1]")
    parser.add_argument("--no-video", action="store_true", help="skip animation.mp4")
    parser.add_argument("--compare", choices=["neutral"], default=None, help="side-by-side video")
    parser.add_argument("--export-meshes", choices=["ply", "obj"], default=None, help="one mesh per frame")
    parser.add_argument("--export-cache", choices=["pc2"], default=None, help="point cache for DCC tools")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a previous output of `scantalk animate` at -o (never other folders)")


def run(args: argparse.Namespace) -> int:
    from scantalk.animation import check_fps, is_animation_dir
    from scantalk.animator import Animator, resolve_device
    from scantalk.atomic import staged_output_dir
    from scantalk.render.camera import check_resolution

    # Everything a user can get wrong is checked before the model loads or inference runs.
    fps = check_fps(args.fps)
    check_resolution(args.resolution)
    device = resolve_device(args.device)
    inputs = [args.face, args.audio] + ([args.checkpoint] if args.checkpoint else [])
    # The output is built in a hidden sibling folder (created now, so an unwritable place fails
    # at once) and swapped in at the end: an interrupted run leaves the old output as it was.
    with staged_output_dir(args.out, args.overwrite, is_animation_dir, inputs, what="-o") as staging:
        clock = time.perf_counter()
        animator = Animator.from_checkpoint(args.checkpoint, device=device)
        model_s = time.perf_counter() - clock
        animation = animator.animate(args.face, args.audio, fps=fps, align=args.align, up=args.up,
                                     forward=args.forward, emotion=args.emotion, intensity=args.intensity)
        clock = time.perf_counter()
        animation.write_files(staging)
        if not args.no_video:
            animation.to_video(staging / "animation.mp4", resolution=args.resolution, compare=args.compare)
        video_s = time.perf_counter() - clock
        if args.export_meshes:
            animation.export_meshes(staging / "meshes", args.export_meshes)
        if args.export_cache == "pc2":
            animation.export_pc2(staging / "animation.pc2")
    out = Path(args.out)
    timings = {"model_s": model_s, **animation.meta["timings"], "write_s": video_s}
    print(f"{animation.num_frames} frames × {animation.frames.shape[1]} vertices → {out.resolve()}")
    print("  " + "  ".join(f"{k[:-2]} {v:.2f}s" for k, v in timings.items()))
    return 0

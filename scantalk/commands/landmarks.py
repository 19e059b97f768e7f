"""`scantalk landmarks FACE -o DIR`: see (and correct) where the shipped model places its rig.

Writes `landmarks.json` (the ten points in the face file's coordinates, the mouth slit the
surface shows, the orientation found) and `landmarks.png` (the face with its landmarks, the jaw's
vertices in red, the still upper lip in blue). Edit a point in the JSON and pass the file back:
`scantalk landmarks FACE --landmarks landmarks.json -o DIR` to check it, `scantalk animate FACE
AUDIO --landmarks landmarks.json -o OUT` to animate with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scantalk.errors import ScanTalkError

ENTRIES = frozenset({"landmarks.json", "landmarks.png"})


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("face", help="mesh or point cloud (.obj .ply .off .stl .glb .pcd .xyz)")
    parser.add_argument("-o", "--out", required=True, help="output folder (landmarks.json, landmarks.png)")
    parser.add_argument("--landmarks", default=None, help="a landmarks.json to use instead of the points found")
    parser.add_argument("--checkpoint", default=None, help="an articulated model (default: the shipped one)")
    parser.add_argument("--align", choices=["auto", "none"], default="auto")
    parser.add_argument("--up", default=None, help="the file's up axis, e.g. z (default: found)")
    parser.add_argument("--forward", default=None, help="the axis the face looks along, e.g. -y (default: found)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier `scantalk landmarks` output")


def _ours(path: Path) -> bool:
    return path.is_dir() and all(entry.name in ENTRIES for entry in path.iterdir())


def run(args: argparse.Namespace) -> int:
    from scantalk.inference.animator import Animator, resolve_device
    from scantalk.atomic import staged_output_dir
    from scantalk.face.landmarks import LANDMARK_NAMES, read_landmarks

    device = resolve_device(args.device)
    given = None if args.landmarks is None else read_landmarks(args.landmarks)
    inputs = [path for path in (args.face, args.landmarks, args.checkpoint) if path]
    with staged_output_dir(args.out, args.overwrite, _ours, inputs, what="-o") as staging:
        animator = Animator.from_checkpoint(args.checkpoint, device=device)
        if not animator.articulated:
            raise ScanTalkError(f"{args.checkpoint} is an end-to-end ScanTalk model, which places no landmarks")
        fit = animator.fit_face(args.face, align=args.align, up=args.up, forward=args.forward, landmarks=given)
        fit.save_landmarks(staging, given)
    points = fit.landmarks_in_file()
    print(f"landmarks of {args.face} (file coordinates):")
    for name, point in zip(LANDMARK_NAMES, points):
        mark = " (given)" if given and name in given else ""
        print(f"  {name:16s} {np.array2string(point, precision=5, floatmode='fixed')}{mark}")
    alignment = fit.alignment.as_dict()
    print(f"mouth slit: {fit.head is not None and _slit(fit)}; orientation: {alignment.get('orientation', 'as stored')}")
    print(f"wrote {Path(args.out).resolve() / 'landmarks.json'} and landmarks.png")
    return 0


def _slit(fit) -> str:
    from scantalk.rig.rig import head_slit

    slit = head_slit(fit.head)
    if slit.kind == "fused":
        return "fused (the lips are one surface: cut them with scantalk.rig.slit.cut_slit to let them part)"
    return f"{slit.kind}, rest gap {1000 * slit.rest_gap:.1f} mm"

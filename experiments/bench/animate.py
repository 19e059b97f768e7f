"""Wall time of `scantalk animate` on a ~10k-vertex face with 10 s of speech, by stage.

    python experiments/bench/animate.py [--vertices 10000] [--seconds 10] [--out ...]

Stages: load (face + audio), operators with a cold cache and again cached, inference, video
(512x512 H.264 + AAC). Targets: ≤ 8 s without video with a cold cache, ≤ 20 s with the video.
Uses the shipped default model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_mb, report  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from scantalk import Animator
    from scantalk.commands.demo import DEMO_SPEECH
    from scantalk.geometry import Mesh, save_mesh
    from scantalk.geometry.shapes import head_like

    work = Path(tempfile.mkdtemp(prefix="scantalk-bench-"))
    verts, faces = head_like(args.vertices)
    face_path, audio_path = work / "face.ply", work / "speech.wav"
    save_mesh(face_path, verts, Mesh.from_arrays(verts, faces))
    speech, rate = sf.read(DEMO_SPEECH, dtype="float32")  # the demo's real recording, repeated to --seconds
    sf.write(audio_path, np.resize(speech, int(args.seconds * rate)), rate)

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(cache_dir=work / "operators")
    model_s = time.perf_counter() - clock
    cold = animator.animate(face_path, audio_path)
    clock = time.perf_counter()
    video = cold.to_video(work / "animation.mp4", resolution=args.resolution, progress=False)
    video_s = time.perf_counter() - clock
    warm = animator.animate(face_path, audio_path)
    t_cold, t_warm = cold.meta["timings"], warm.meta["timings"]
    without_video = model_s + sum(t_cold.values())
    rows = [
        {"stage": "load model", "seconds": model_s},
        {"stage": "load face + audio", "seconds": t_cold["load_s"]},
        {"stage": "operators (cold cache)", "seconds": t_cold["operators_s"]},
        {"stage": "operators (cached)", "seconds": t_warm["operators_s"]},
        {"stage": "inference", "seconds": t_cold["inference_s"]},
        {"stage": f"video {args.resolution}² ({cold.num_frames} frames)", "seconds": video_s},
        {"stage": "total without video (cold)", "seconds": without_video, "target": "≤ 8 s"},
        {"stage": "total with video (cold)", "seconds": without_video + video_s, "target": "≤ 20 s"},
    ]
    report("animate", rows, args.out, vertices=int(len(verts)), seconds_of_speech=args.seconds,
           frames=cold.num_frames, peak_rss_mb=peak_rss_mb(), video_bytes=video.stat().st_size)
    return rows


if __name__ == "__main__":
    main()

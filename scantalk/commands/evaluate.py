"""`scantalk evaluate PRED_DIR --dataset DIR`: LVE / MVE / FDD of saved predictions.

PRED_DIR holds `<subject>_<sequence>.npy` files ((T, V, 3) or (T, V·3), metres, the dataset's
vertex order) and/or `<subject>_<sequence>/animation.npy` folders as `scantalk animate` writes
them. Each is matched to the dataset sequence of that name; the table goes to stdout and
`PRED_DIR/metrics.json` is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scantalk.atomic import atomic_write_text
from scantalk.datasets.load import load_dataset
from scantalk.datasets.sequence import SequenceRef
from scantalk.errors import DatasetError, ScanTalkError
from scantalk.inference.animation import check_fps
from scantalk.metrics import EvaluationReport, evaluate_sequences

METRICS_FILE = "metrics.json"


def find_predictions(pred_dir: str | Path) -> dict[str, Path]:
    """{"<subject>_<sequence>": path} of every prediction in `pred_dir` (flat .npy or <name>/animation.npy)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise DatasetError(f"{pred_dir}: prediction folder does not exist")
    found = {path.stem: path for path in sorted(pred_dir.glob("*.npy"))}
    for path in sorted(pred_dir.glob("*/animation.npy")):
        found.setdefault(path.parent.name, path)
    if not found:
        raise DatasetError(f"{pred_dir}: no predictions (expected <subject>_<sequence>.npy or <name>/animation.npy)")
    return found


def _load_prediction(path: Path, num_vertices: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: unreadable prediction ({error})") from error
    if array.ndim == 2 and array.shape[1] == num_vertices * 3:
        array = array.reshape(array.shape[0], num_vertices, 3)
    if array.ndim != 3 or array.shape[1:] != (num_vertices, 3):
        raise DatasetError(
            f"{path}: prediction of shape {array.shape}, but the ground truth has {num_vertices} vertices; "
            f"expected (T, {num_vertices}, 3) in the dataset's vertex order"
        )
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        # A NaN would turn every metric into NaN (or, in a max, vanish silently): refuse the set.
        frames = np.flatnonzero(~np.isfinite(array).all(axis=(1, 2)))
        raise DatasetError(f"{path}: the prediction has {bad} NaN or infinite values (frames {frames[:5].tolist()}"
                           f"{'...' if len(frames) > 5 else ''}); fix or re-run that prediction before evaluating")
    return array


@dataclass
class EvaluationResult:
    """What `evaluate_predictions` found besides the metrics.

    unmatched: predictions named after no sequence of the split · missing: sequences with no
    prediction · length_mismatches: {sequence: (prediction frames, ground-truth frames)} for
    pairs of different lengths (the metrics cut both to the shorter).
    """

    report: EvaluationReport
    unmatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    length_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)


def evaluate_predictions(pred_dir: str | Path, refs: list[SequenceRef]) -> EvaluationResult:
    """Metrics of the predictions in `pred_dir` against the dataset sequences `refs`.

    A prediction with NaN/inf values is a DatasetError; predictions whose frame count differs
    from the ground truth are evaluated on the common frames and listed in `length_mismatches`.
    """
    predictions = find_predictions(pred_dir)
    by_key = {ref.key: ref for ref in refs}
    matched = [key for key in sorted(predictions) if key in by_key]
    if not matched:
        raise DatasetError(
            f"{pred_dir}: no prediction is named after a sequence of the dataset split "
            f"(predictions e.g. {sorted(predictions)[:3]}, sequences e.g. {sorted(by_key)[:3]})"
        )
    preds, gts, templates, lips, uppers = [], [], [], [], []
    mismatches: dict[str, tuple[int, int]] = {}
    for key in matched:
        ref = by_key[key]
        preds.append(_load_prediction(predictions[key], ref.num_vertices))
        gts.append(ref.load_frames())
        if len(preds[-1]) != len(gts[-1]):
            mismatches[key] = (len(preds[-1]), len(gts[-1]))
        templates.append(ref.template)
        lips.append(ref.lip_vertices)
        uppers.append(ref.upper_vertices)
    report = evaluate_sequences(preds, gts, templates, lips, uppers, names=matched)
    unmatched_predictions = sorted(set(predictions) - set(by_key))
    missing_predictions = sorted(set(by_key) - set(predictions))
    return EvaluationResult(report, unmatched_predictions, missing_predictions, mismatches)


def format_table(report: EvaluationReport) -> str:
    """Per-sequence rows and a final mean row; LVE, FDD in m², MVE in m."""
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4e}"

    width = max([len("sequence"), len("mean")] + [len(item.name) for item in report.sequences])
    lines = [f"{'sequence':<{width}}  {'frames':>6}  {'LVE':>11}  {'MVE':>11}  {'FDD':>11}"]
    for item in report.sequences:
        lines.append(f"{item.name:<{width}}  {item.num_frames:>6}  {number(item.lve):>11}  "
                     f"{number(item.mve):>11}  {number(item.fdd):>11}")
    lines.append(f"{'mean':<{width}}  {report.num_frames:>6}  {number(report.lve):>11}  "
                 f"{number(report.mve):>11}  {number(report.fdd):>11}")
    return "\n".join(lines)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred_dir", type=Path, help="folder of <subject>_<sequence>.npy or <name>/animation.npy")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder (raw VOCASET or processed layout)")
    parser.add_argument("--split", default="test", help="split to evaluate on ('all' for every sequence); default test")
    parser.add_argument("--layout", default="auto", choices=["auto", "vocaset_raw", "processed"])
    parser.add_argument("--kind", default="auto", help="dataset kind: auto, vocaset, biwi, multiface, or another name")
    parser.add_argument("--fps", type=float, default=None, help="frame rate of the ground truth (default: per kind)")
    parser.add_argument("--frame-step", type=int, default=None, help="keep every n-th stored frame (default: per kind)")
    parser.add_argument("--lip-mask", type=Path, default=None, help="lip vertex indices (.npy/.txt/.mat/.pkl)")
    parser.add_argument("--upper-mask", type=Path, default=None, help="upper-face vertex indices (.npy/.txt/.mat/.pkl)")


def run(args: argparse.Namespace) -> int:
    if args.fps is not None:
        check_fps(args.fps)
    if args.frame_step is not None and args.frame_step < 1:
        raise ScanTalkError(f"--frame-step {args.frame_step}: keep every n-th frame with n ≥ 1")
    refs = load_dataset(
        args.dataset, layout=args.layout, split=None if args.split == "all" else args.split, dataset=args.kind,
        fps=args.fps, frame_step=args.frame_step, lip_mask=args.lip_mask, upper_mask=args.upper_mask,
    )
    result = evaluate_predictions(args.pred_dir, refs)
    report, unmatched, missing = result.report, result.unmatched, result.missing
    print(format_table(report))
    print("LVE, FDD in m², MVE in m; LVE and MVE averaged over all frames, FDD over sequences")
    if unmatched:
        print(f"note: {len(unmatched)} predictions match no sequence of this split (e.g. {unmatched[:3]})", file=sys.stderr)
    if missing:
        print(f"note: {len(missing)} sequences of this split have no prediction (e.g. {missing[:3]})", file=sys.stderr)
    if report.lve is None or report.fdd is None:
        print("note: no lip and/or upper-face mask for these sequences; pass --lip-mask / --upper-mask "
              "to get LVE / FDD", file=sys.stderr)
    if result.length_mismatches:
        examples = ", ".join(f"{name} ({pred} predicted vs {truth} ground-truth frames)"
                             for name, (pred, truth) in list(result.length_mismatches.items())[:3])
        print(f"warning: {len(result.length_mismatches)} predictions differ in length from their ground truth and "
              f"were cut to the shorter: {examples}; check the fps of the predictions", file=sys.stderr)
    record = {"dataset": str(args.dataset), "split": args.split, **report.to_dict(),
              "unmatched_predictions": unmatched, "missing_predictions": missing,
              "length_mismatches": {name: {"prediction_frames": pred, "ground_truth_frames": truth}
                                    for name, (pred, truth) in result.length_mismatches.items()}}
    atomic_write_text(Path(args.pred_dir) / METRICS_FILE, json.dumps(record, indent=2) + "\n")
    print(f"wrote {Path(args.pred_dir) / METRICS_FILE}")
    return 0

"""Talking-head datasets: readers for the layouts users bring, one record type, safe pickles.

`load_dataset(root, split=...)` lists a dataset as lazy `SequenceRef`s; `ref.load()` reads one
`TalkingSequence` (audio at 16 kHz, frames (T, V, 3) in metres, template, faces, masks).
"""

from scantalk.datasets.load import DATASET_DEFAULTS, STANDARD_SPLITS, detect_layout, load_dataset
from scantalk.datasets.masks import read_vertex_mask
from scantalk.datasets.processed import ProcessedRef, read_processed
from scantalk.datasets.safe_pickle import safe_load_pickle
from scantalk.datasets.sequence import SequenceRef, TalkingSequence
from scantalk.datasets.vocaset import VocasetRawRef, read_vocaset_raw

__all__ = [
    "DATASET_DEFAULTS",
    "STANDARD_SPLITS",
    "ProcessedRef",
    "SequenceRef",
    "TalkingSequence",
    "VocasetRawRef",
    "detect_layout",
    "load_dataset",
    "read_processed",
    "read_vertex_mask",
    "read_vocaset_raw",
    "safe_load_pickle",
]

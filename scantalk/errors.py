"""Project exceptions: every error a user can cause is a `ScanTalkError` with a sentence that
names their input and says what to do. Every one of them is defined here (the modules that raise
them import them from here), so a caller finds them all in one place."""

from __future__ import annotations


class ScanTalkError(Exception):
    """Base class of every error caused by a user's input, file or configuration."""


class MeshError(ScanTalkError):
    """A mesh or point-cloud file that cannot be used (unreadable, empty, NaN, bad indices)."""


class AudioError(ScanTalkError):
    """An audio file or array that cannot be used (unreadable, empty, silent, too short)."""


class DatasetError(ScanTalkError):
    """A dataset folder that does not match any supported layout, or has broken files."""


class AnimationError(ScanTalkError):
    """A saved animation folder that cannot be read (missing, truncated or inconsistent files)."""


class CheckpointError(ScanTalkError):
    """A checkpoint that is missing, corrupted, or was written by another model."""


class CacheError(ScanTalkError):
    """An operator-cache directory that cannot be used (not writable, not a directory)."""


class DeviceError(ScanTalkError):
    """A compute device that is not a device name, or that this machine does not have."""


class ModelNotFoundError(ScanTalkError):
    """A pretrained model (e.g. a Hugging Face hub id) that is not available on this machine."""


class OutputError(ScanTalkError):
    """An output path that cannot be used (unwritable place, protected folder, wrong file type)."""


class OutputExistsError(OutputError):
    """An output that already exists and would be overwritten without `overwrite=True`."""


class SpeechToolError(ScanTalkError):
    """A speech tool (festival, flite, pocketsphinx, its test data) that is not installed."""


class FaceNotFoundError(ScanTalkError):
    """The face could not be found on a mesh (its landmarks would animate the wrong place)."""


class RigError(ScanTalkError):
    """An articulation track or a head the rig cannot use (landmarks that place no face frame)."""


class OrientationError(ScanTalkError):
    """A face whose orientation cannot be found (too few points, no symmetric face with a nose)."""


class LandmarksError(ScanTalkError):
    """A landmarks file or dict that cannot place the rig."""


class ExportError(ScanTalkError):
    """An animation, track or option that cannot be exported (wrong shapes, NaN, bad bound)."""


class MeshingError(ScanTalkError):
    """A head that a meshing transform cannot handle (e.g. faces needed but it is a point cloud)."""


class ArticulationError(ScanTalkError):
    """Phones, an articulation track or a track file that cannot be used (unknown phone or channel,
    NaN, values far outside 0..1, a non-positive frame rate, a file written by something else)."""


class ProtocolError(ScanTalkError):
    """A live-viewer message that does not follow `scantalk.live.protocol` (the sender is told
    why; nothing else changes)."""


class LifeError(ScanTalkError):
    """A life track that cannot be used: unknown channels, values out of range, a bad file."""


class MetricsError(ScanTalkError, ValueError):
    """Frames or vertex indices a metric cannot compare: wrong shapes, no frames, different vertex
    counts or units (also a ValueError, as these were before they had their own class)."""

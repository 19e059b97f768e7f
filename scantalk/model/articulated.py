"""The factored talking head: speech → articulation track → motion of any face.

    audio (N,) 16 kHz ──SpeechArticulator──► articulation (T, A) in [0, 1]   (no mesh involved)
    neutral face (V, 3) ──ArticulationDecoder (DiffusionNet)──► basis (V, B, 3), once per face
    displacement[t] = Σ_b inputs[t, b] · basis[:, b]      inputs = articulation ‖ jaw_open²

The decoder learns, from the neutral surface alone, how each articulation channel moves every
vertex of that face: a per-face blendshape basis, like the linear rigs of FLAME or ARKit. Because
the motion is linear in the basis inputs, the network runs once per face however long the speech
is, a training step can score every articulation pose at once (see `rig_pose_loss`), and long audio
streams through a (T, A) × (A, V·3) product in chunks of frames. The square of jaw_open carries
the second-order term of the jaw's rotation about its hinge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np

import torch
from torch import nn

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.articulation.track import ArticulationTrack
from scantalk.audio import audio_frame_count
from scantalk.audio.encoders import normalize_clips, resample_frames
from scantalk.audio.io import SAMPLE_RATE
from scantalk.audio.mel import LogMel
from scantalk.audio.windows import OVERLAP_SECONDS, WINDOW_SECONDS, windowed
from scantalk.errors import ScanTalkError
from scantalk.face.alignment import nose_tip
from scantalk.face.head import FaceLandmarks, Head, eyeball_parts
from scantalk.geometry.operators import SurfaceOperators, compute_operators
from scantalk.model.expression_head import ExpressionHead
from scantalk.nn import DiffusionNet
from scantalk.rig.rig import rig_basis

RIG_INPUTS: tuple[str, ...] = ARTICULATION_CHANNELS + ("jaw_open_sq",)
"""What the basis multiplies: the articulation channels and the square of jaw_open."""

NUM_LANDMARKS = 10
"""`FaceLandmarks` points the landmark decoder locates."""

NUM_PHONES = 40
"""Phone classes of the articulator's auxiliary head: ARPAbet's 39 and silence."""

FRONTENDS: tuple[str, ...] = ("mel", "phonetic", "combined")
"""Ways speech becomes an articulation track (`ArticulatedConfig.frontend`)."""

DECODERS: tuple[str, ...] = ("landmarks", "basis")
"""Ways speech becomes an articulation track (`ArticulatedConfig.frontend`)."""


def rig_inputs(articulation: torch.Tensor) -> torch.Tensor:
    """Articulation (..., A) → basis inputs (..., A + 1): the channels and jaw_open²."""
    jaw = articulation[..., ARTICULATION_CHANNELS.index("jaw_open")]
    return torch.cat([articulation, (jaw * jaw).unsqueeze(-1)], dim=-1)


@dataclass
class ArticulatedConfig:
    """Everything that rebuilds an `ArticulatedTalker` (saved in its checkpoints). The defaults
    are the shipped model's (`experiments/recipes/default_articulated.py`), except what is
    learned from its training faces (`reference_center`) and the emotion head's labels and units
    (`experiments/recipes/emotional_default.py`).

    Attributes:
        k_eig: eigenpairs the face's operators must have.
        width, n_blocks: the decoder DiffusionNet.
        position_unit: metres per unit of the decoder's xyz input (0.1: decimetres, O(1) inputs).
        displacement_unit: metres per unit of the basis output (0.001: millimetres per unit of a
            channel, so Adam's steps are near the scale of the answer).
        use_normals: also feed the decoder the vertex normals (which face the lips' surfaces up
            or down at the mouth line: the cue that tells the upper lip from the lower).
        n_mels, audio_hidden, lstm_hidden, lstm_layers: the speech → articulation network.
        channels: the articulation channel names, in order.
        reference_center: (3,) metres: where `align="auto"` puts a face's `align_anchor`.
        align_anchor: the point of a face `align="auto"` moves onto `reference_center`: "nose"
            (the mean nose tip of the training faces; robust to crops and necks) or "bbox".
        frontend: how speech becomes the track: "mel" (the learned `SpeechArticulator`),
            "phonetic" (pocketsphinx phone decoding → `articulation_from_phones`, no training) or
            "combined" (per channel, `combine_weights` of mel plus the rest phonetic).
        combine_weights: the mel share per channel for "combined" (fitted on held-out voices).
        decoder: how a face's motion basis is found: "landmarks" (DiffusionNet locates the
            face's landmarks — mouth corners, lip midlines, chin, nose, eyes, jaw hinges — and the
            landmark-placed rig of `scantalk.rig.rig` turns them into the basis) or
            "basis" (DiffusionNet predicts the per-vertex basis itself).
        landmark_crop: the landmark decoder reads only the face around the nose tip
            (`landmark_region`), in training and at inference, so a scan's neck, shoulders,
            hair or missing back of the head do not change what it sees.
        emotion_labels, expression_units: with both set, the model has an emotion head
            (`ExpressionHead`) from these labels to the activations of these units of the
            expression provider (the `emotion` package's FACS action units, by name).
    """

    k_eig: int = 128
    width: int = 32
    n_blocks: int = 4
    position_unit: float = 0.1
    displacement_unit: float = 0.001
    use_normals: bool = True
    n_mels: int = 80
    audio_hidden: int = 128
    lstm_hidden: int = 64
    lstm_layers: int = 2
    channels: tuple[str, ...] = ARTICULATION_CHANNELS
    reference_center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    align_anchor: str = "nose"
    frontend: str = "phonetic"
    combine_weights: tuple[float, ...] = (0.5, 0.5, 0.5, 0.5, 0.5)
    decoder: str = "landmarks"
    landmark_crop: bool = True
    emotion_labels: tuple[str, ...] = ()
    expression_units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ScanTalkError(f"decoder {self.decoder!r} is not one of {DECODERS}")
        if self.frontend not in FRONTENDS:
            raise ScanTalkError(f"frontend {self.frontend!r} is not one of {FRONTENDS}")
        if bool(self.emotion_labels) != bool(self.expression_units):
            raise ScanTalkError("an emotion head needs both emotion_labels and expression_units (or neither)")
        if self.emotion_labels and self.decoder != "landmarks":
            raise ScanTalkError("an emotion head needs the landmark decoder, which places the expression units")
        if len(self.combine_weights) != len(self.channels):
            raise ScanTalkError(f"combine_weights has {len(self.combine_weights)} values for "
                                f"{len(self.channels)} channels")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["channels"] = list(self.channels)
        data["reference_center"] = list(self.reference_center)
        data["combine_weights"] = list(self.combine_weights)
        data["emotion_labels"] = list(self.emotion_labels)
        data["expression_units"] = list(self.expression_units)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "checkpoint") -> "ArticulatedConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ScanTalkError(f"{source}: unknown model settings {unknown}; it was written by another version "
                                f"of scantalk (known settings: {sorted(known)})")
        values = dict(data)
        for key in ("channels", "emotion_labels", "expression_units"):
            if key in values:
                values[key] = tuple(str(v) for v in values[key])
        for key in ("reference_center", "combine_weights"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)


class ArticulationDecoder(nn.Module):
    """DiffusionNet from a neutral face to its articulation basis.

    Shapes: template (V, 3) metres, ops for that surface → basis (V, B, 3) metres per unit input,
    B = len(RIG_INPUTS).
    """

    def __init__(self, config: ArticulatedConfig) -> None:
        super().__init__()
        self.config = config
        self.num_inputs = len(config.channels) + 1
        in_channels = 6 if config.use_normals else 3
        self.net = DiffusionNet(in_channels, 3 * self.num_inputs, width=config.width, n_blocks=config.n_blocks)
        self.net.zero_init_last()

    def features(self, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """(V, 3) metres → (V, 3 or 6) decoder input: decimetre coordinates (and unit normals)."""
        position = template / self.config.position_unit
        if not self.config.use_normals:
            return position
        return torch.cat([position, outward_normals(template, ops)], dim=-1)

    def forward(self, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """(V, 3) neutral face → (V, B, 3) basis in metres per unit of each rig input."""
        out = self.net(self.features(template, ops), ops)
        return out.reshape(template.shape[0], self.num_inputs, 3) * self.config.displacement_unit


# The face region the landmark decoder reads, relative to the nose tip (metres): from a little
# behind the jaw hinges, and from below the chin to above the brows, on every adult head.
REGION_BEHIND, REGION_BELOW, REGION_ABOVE = 0.105, 0.085, 0.075


def landmark_region(verts: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The part of a face (in the model frame) that the landmark decoder reads.

    Args:
        verts: (V, 3) metres, y up, facing +z. faces: (F, 3) or None (point cloud).

    Returns:
        (verts (V', 3), faces (F', 3) or None, kept (V',) indices into `verts`); the whole face
        when the region would hold too few points to compute operators on.
    """
    nose = nose_tip(verts, faces)
    keep = ((verts[:, 2] > nose[2] - REGION_BEHIND) & (verts[:, 1] > nose[1] - REGION_BELOW)
            & (verts[:, 1] < nose[1] + REGION_ABOVE))
    if faces is not None:
        faces = np.asarray(faces)
        kept_faces = faces[keep[faces].all(axis=1)]
        used = np.unique(kept_faces)
        if len(used) < 100:
            return verts, faces, np.arange(len(verts))
        remap = np.full(len(verts), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return verts[used], remap[kept_faces], used
    used = np.flatnonzero(keep)
    if len(used) < 100:
        return verts, None, np.arange(len(verts))
    return verts[used], None, used


class LandmarkDecoder(nn.Module):
    """DiffusionNet from a neutral face to its landmarks (the points the rig is placed from).

    Every vertex votes for each landmark: a weight (softmax over the surface, mass-weighted so a
    denser meshing does not vote louder) and an offset from itself (so points inside the head,
    the jaw hinges and eyeball centres, are reachable). Shapes: template (V, 3) metres →
    landmarks (L, 3) metres in `FaceLandmarks` field order.
    """

    def __init__(self, config: ArticulatedConfig) -> None:
        super().__init__()
        self.config = config
        self.num_landmarks = NUM_LANDMARKS
        in_channels = 6 if config.use_normals else 3
        self.net = DiffusionNet(in_channels, 4 * self.num_landmarks, width=config.width, n_blocks=config.n_blocks)
        self.net.zero_init_last()

    def forward(self, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        position = template / self.config.position_unit
        features = torch.cat([position, outward_normals(template, ops)], dim=-1) if self.config.use_normals else position
        out = self.net(features, ops)
        count = self.num_landmarks
        mass = ops.mass.to(template).clamp_min(1e-20)
        weights = torch.softmax(out[:, :count] + torch.log(mass)[:, None], dim=0)  # (V, L)
        offsets = out[:, count:].reshape(-1, count, 3) * self.config.position_unit
        return torch.einsum("vl,vlc->lc", weights, template[:, None, :] + offsets)


def outward_normals(template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
    """Unit normals (V, 3) from the operators' tangent frames, flipped to point away from the
    head's centre where the frame's sign is arbitrary (point clouds: PCA normals have none)."""
    normals = ops.frames[:, 2, :].to(template)
    outward = template - template.mean(0, keepdim=True)
    sign = torch.where((normals * outward).sum(-1, keepdim=True) < 0, -1.0, 1.0)
    return normals * sign if ops.faces is None else normals


class SpeechArticulator(nn.Module):
    """Speech → articulation: log-mel at 100 Hz (each band centred per clip, so a microphone's or a
    room's colouring cancels) → resampled to the frame rate → residual temporal CNN →
    bidirectional LSTM → sigmoid channels.

    Shapes: audio (N,) or (B, N) at 16 kHz → (T, A) or (B, T, A) in [0, 1]. Training feeds
    precomputed log-mel crops straight to `from_log_mel`.
    """

    def __init__(self, config: ArticulatedConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.audio_hidden
        self.spectrogram = LogMel(n_mels=config.n_mels, normalise="band")
        self.input_layer = nn.Sequential(nn.Conv1d(config.n_mels, hidden, 5, padding=2), nn.GELU())
        self.residual_layers = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden, hidden, 5, padding=2), nn.GELU()) for _ in range(2))
        self.lstm = nn.LSTM(hidden, config.lstm_hidden, num_layers=config.lstm_layers, batch_first=True,
                            bidirectional=True)
        self.head = nn.Linear(2 * config.lstm_hidden, len(config.channels))
        # Phone posteriors from the same features: a training signal far richer than five smooth
        # curves (it gets the network past predicting the mean), and free phone recognition.
        self.phone_head = nn.Linear(2 * config.lstm_hidden, NUM_PHONES)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) 16 kHz audio → (B, n_mels, N // 160 + 1) band-normalised log-mel at 100 Hz."""
        return self.spectrogram(normalize_clips(audio))

    def hidden(self, log_mel: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, n_mels, F) log-mel at 100 Hz → (B, num_frames, 2·lstm_hidden) per-frame features."""
        hidden = self.input_layer(resample_frames(log_mel, num_frames, antialias=True))
        for layer in self.residual_layers:
            hidden = hidden + layer(hidden)
        return self.lstm(hidden.transpose(1, 2))[0]

    def from_log_mel(self, log_mel: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, n_mels, F) log-mel at 100 Hz → (B, num_frames, A) articulation in [0, 1]."""
        return torch.sigmoid(self.head(self.hidden(log_mel, num_frames)))

    def forward(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        batched = audio.ndim == 2
        track = self.from_log_mel(self.log_mel(audio if batched else audio.unsqueeze(0)), num_frames)
        return track if batched else track.squeeze(0)


class ArticulatedTalker(nn.Module):
    """`SpeechArticulator` + `ArticulationDecoder`: any face, any speech, via a named track."""

    def __init__(self, config: ArticulatedConfig | None = None) -> None:
        super().__init__()
        self.config = config or ArticulatedConfig()
        self.articulator = SpeechArticulator(self.config)
        if self.config.decoder == "landmarks":
            self.decoder = LandmarkDecoder(self.config)
        else:
            self.decoder = ArticulationDecoder(self.config)
        self.expression_head = None
        if self.config.emotion_labels:
            self.expression_head = ExpressionHead(len(self.config.emotion_labels), len(self.config.expression_units),
                                                  len(self.config.channels))

    @property
    def k_eig(self) -> int:
        return self.config.k_eig

    def articulation(self, audio: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(N,) 16 kHz speech → (T, A) articulation track in [0, 1]."""
        return self.articulator(audio, num_frames)

    def speech_track(self, samples: np.ndarray, fps: float, window_seconds: float = WINDOW_SECONDS,
                     overlap_seconds: float = OVERLAP_SECONDS) -> tuple[ArticulationTrack, list | None]:
        """16 kHz speech (N,) → (its `ArticulationTrack` at `fps`, the phones heard or None),
        through the front end the config names: "phonetic" (pocketsphinx phones →
        `articulation_from_phones`), "mel" (the learned `SpeechArticulator`, in overlapping
        windows for long speech) or "combined" (per channel, `combine_weights` of the two)."""
        num_frames = audio_frame_count(len(samples), SAMPLE_RATE, fps)
        channels = tuple(self.config.channels)
        phonetic = phones = None
        if self.config.frontend in ("phonetic", "combined"):
            from scantalk.articulation.phonetic import phonetic_phones_and_track

            phones, phonetic = phonetic_phones_and_track(samples, fps, num_frames=num_frames)
            phonetic = phonetic.resample(fps)
            phonetic = ArticulationTrack(phonetic.array(channels)[:num_frames], fps, channels)
            if self.config.frontend == "phonetic":
                return phonetic, phones
        device = next(self.parameters()).device
        values = windowed(self.articulation, samples, num_frames, fps, window_seconds, overlap_seconds, device)
        learned = ArticulationTrack(values.float().cpu().numpy().clip(0.0, 1.0), fps, channels)
        if phonetic is None:
            return learned, None
        from scantalk.articulation.phonetic import combine_tracks

        return combine_tracks(learned, phonetic, list(self.config.combine_weights)), phones

    def landmarks(self, template: torch.Tensor, ops: SurfaceOperators) -> FaceLandmarks:
        """The face's landmarks, located by the landmark decoder ("landmarks" models)."""
        if self.config.decoder != "landmarks":
            raise ScanTalkError("this model predicts its motion basis directly; it locates no landmarks")
        return FaceLandmarks.from_array(self.decoder(template, ops).detach().double().cpu().numpy())

    def face_head(self, template: torch.Tensor, ops: SurfaceOperators,
                  operators: Callable[[np.ndarray, np.ndarray | None], SurfaceOperators] | None = None) -> Head:
        """The face as a `Head` with the landmarks the landmark decoder finds ("landmarks" models),
        and its separate eyeball meshes marked (`eyeball_parts`) so expressions keep them rigid.

        `operators(verts, faces)` makes the operators of the face region the decoder reads
        (default `compute_operators`; the Animator passes its cached version).
        """
        faces = None if ops.faces is None else ops.faces.cpu().numpy()
        verts = template.detach().double().cpu().numpy()
        region_ops, region = ops, template
        if self.config.landmark_crop:
            region_verts, region_faces, _ = landmark_region(verts, faces)
            if len(region_verts) < len(verts):
                make = operators or (lambda v, f: compute_operators(v, f, self.config.k_eig))
                region_ops = make(region_verts, region_faces).to(template.device)
                region = torch.as_tensor(region_verts, dtype=template.dtype, device=template.device)
        landmarks = self.landmarks(region, region_ops)
        return Head(verts, faces, landmarks, "input", parts=eyeball_parts(verts, faces, landmarks))

    def basis(self, template: torch.Tensor, ops: SurfaceOperators,
              operators: Callable[[np.ndarray, np.ndarray | None], SurfaceOperators] | None = None,
              head: Head | None = None) -> torch.Tensor:
        """(V, 3) metres → (V, B, 3) metres per unit rig input (`head`: from `face_head`, if known)."""
        if self.config.decoder == "basis":
            return self.decoder(template, ops)
        head = head or self.face_head(template, ops, operators)
        return torch.as_tensor(rig_basis(head), dtype=template.dtype, device=template.device)

    @staticmethod
    def displacement(basis: torch.Tensor, articulation: torch.Tensor) -> torch.Tensor:
        """basis (V, B, 3) or its `basis_rows` (B, V·3), articulation (T, A) → displacement
        (T, V, 3) in metres."""
        rows = basis if basis.dim() == 2 else ArticulatedTalker.basis_rows(basis)
        return (rig_inputs(articulation).to(rows) @ rows).reshape(len(articulation), -1, 3)

    @staticmethod
    def basis_rows(basis: torch.Tensor) -> torch.Tensor:
        """(V, B, 3) → (B, V·3): the layout `displacement` multiplies in; made once, it saves a
        copy of the basis per call (a stream decodes a frame or two at a time)."""
        return basis.permute(1, 0, 2).reshape(basis.shape[1], -1).contiguous()


def rig_pose_loss(predicted: torch.Tensor, target: torch.Tensor, pose_moment: torch.Tensor,
                  vertex_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared displacement error over *all* articulation poses at once, in closed form.

    For poses drawn with second moment M = E[u uᵀ] over the rig inputs u (B,), the expected
    squared error Σ_v w_v E‖(P_v − R_v)ᵀ u‖² equals Σ_v w_v tr((P_v − R_v) (P_v − R_v)ᵀ M), so one
    step scores the whole pose distribution with no sampling noise.

    Args:
        predicted, target: bases (V, B, 3) in the same units.
        pose_moment: (B, B) second moment of the rig inputs.
        vertex_weight: (V,) non-negative, e.g. mass × (1 + lip weight); default uniform.

    Returns:
        () the weighted mean over vertices (squared units of the bases).
    """
    error = predicted - target  # (V, B, 3)
    per_vertex = torch.einsum("vbc,bd,vdc->v", error, pose_moment.to(error), error)
    if vertex_weight is None:
        return per_vertex.mean()
    weight = vertex_weight.to(error)
    return (per_vertex * weight).sum() / weight.sum().clamp_min(1e-12)


__all__ = [
    "RIG_INPUTS", "ArticulatedConfig", "ArticulatedTalker", "ArticulationDecoder", "LandmarkDecoder", "SpeechArticulator",
    "rig_inputs", "rig_pose_loss",
]

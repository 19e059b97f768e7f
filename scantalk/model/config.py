"""`ScanTalkConfig`: the one typed description of a ScanTalk network.

The model is built from it, the LightningModule takes it as its `config` argument (so a YAML
file reaches every field), and every checkpoint stores it (`to_dict`) so the file alone
rebuilds the model. Memory settings (chunk sizes) are not part of it: they are runtime choices
of the machine that runs the model, not of the trained weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class ScanTalkConfig:
    """Architecture and input conventions of `scantalk.model.ScanTalk`.

    Defaults follow the paper: latent 32, DiffusionNet width 32 with 4 blocks, k_eig 128,
    Linear(D→32) then a 3-layer bidirectional LSTM with hidden size 16.

    Args:
        audio_encoder: name ("mel", "hubert", "wav2vec2") or config dict for
            `scantalk.audio.build_audio_encoder`.
        latent: identity / motion feature size C.
        width: DiffusionNet width (encoder and decoder).
        n_blocks: DiffusionNet depth (encoder and decoder).
        k_eig: eigenpairs the operators must have (the data module's k_eig is tied to it).
        lstm_layers: layers of the bidirectional LSTM.
        lstm_hidden: LSTM hidden size; 2·lstm_hidden must equal latent.
        identity_input: "xyz" (neutral-face coordinates), "hks" (heat kernel signature,
            invariant to rigid motion of the face) or "xyz+regions" (the coordinates and the
            face's regions found on it, `scantalk.rig.rig.REGION_FEATURES`: at a closed mouth
            the two lips' coordinates nearly coincide, and the regions tell them apart; not in
            the paper).
        hks_scales: HKS channels when identity_input is "hks".
        emotion: None, or keyword arguments of `scantalk.model.conditioning.EmotionConditioning`
            (label + intensity embeddings joined to the audio features before the LSTM).
        position_unit: metres per unit of the encoder's xyz input (0.1: it sees decimetres).
        displacement_unit: metres per unit of the decoder's output (0.001: millimetres). Faces
            live in metres and move by millimetres; units near 1 keep Adam's step (~lr per
            weight) from throwing the output around by centimetres.
        reference_center: (3,) metres, where inference moves an aligned face's `align_anchor`
            (`scantalk.face.alignment`); None centres faces on the origin.
        align_anchor: the point of a face `align="auto"` moves onto `reference_center`: "bbox"
            (the bounding-box centre; `reference_center` is then the training faces' mean centre)
            or "nose" (the nose tip; `reference_center` the training faces' mean nose tip), which
            puts the mouth where the model learned it whatever the crop, neck or shoulders.
    """

    audio_encoder: str | dict[str, Any] = "mel"
    latent: int = 32
    width: int = 32
    n_blocks: int = 4
    k_eig: int = 128
    lstm_layers: int = 3
    lstm_hidden: int = 16
    identity_input: str = "xyz"
    hks_scales: int = 16
    emotion: dict[str, Any] | None = None
    position_unit: float = 0.1
    displacement_unit: float = 0.001
    reference_center: tuple[float, float, float] | None = None
    align_anchor: str = "bbox"

    # Keys older checkpoints stored that are runtime settings now: read and ignored.
    RETIRED_KEYS: ClassVar[tuple[str, ...]] = ("max_chunk_floats",)

    def to_dict(self) -> dict[str, Any]:
        """Plain containers only (what a `weights_only` checkpoint can hold)."""
        values = asdict(self)
        if values["reference_center"] is not None:
            values["reference_center"] = [float(x) for x in values["reference_center"]]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ScanTalkConfig":
        """A config from `to_dict` output (or an older checkpoint's dict).

        Raises:
            ValueError: naming the keys that are not fields (a config from another model or a
                newer version), so callers can turn it into a message about their file.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known - set(cls.RETIRED_KEYS))
        if unknown:
            raise ValueError(f"unknown ScanTalk configuration keys {unknown} (known: {sorted(known)})")
        kept = {key: value for key, value in values.items() if key in known}
        if kept.get("reference_center") is not None:
            kept["reference_center"] = tuple(float(x) for x in kept["reference_center"])
        return cls(**kept)

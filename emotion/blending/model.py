"""`EmoBlender`: EmoVOCA's "double encoder, shared decoder" on DiffusionNet, so any topology works.

    talking displacement (B, V, 3) ──talk encoder DiffusionNet──► mass-weighted mean ─► z_talk (B, L)
    expression displacement (B, V, 3) ──expression encoder──────► mass-weighted mean ─► z_expr (B, L)
    decoder DiffusionNet([template xyz ‖ μt·z_talk ‖ μe·z_expr] per vertex) ──► displacement (B, V, 3)
    (with talking_skip: + μt · the talking displacement, so the decoder draws only what changes)

Training objective (the blending choice, see `EmoBlender.losses`). EmoVOCA trains each branch to
reconstruct its own input from equal latents, decode(z, z), and blends with μt = 2 and μe ∈ {1,
2, 3}: the slots only mean "talking" and "expression" by convention, and decode(μt·z_t, 0) is
never trained, so μe = 0 does not give the talking motion back. Our default objective
("split") gives each slot its meaning explicitly, with three terms per batch:

    decode(z_t, 0)      ≈ talking displacement              (μe = 0 returns the talking motion)
    decode(0, z_e)      ≈ expression displacement           (the expression alone)
    decode(z_t, s·z_e)  ≈ talking + s · expression,  s ~ U[0.2, 1] (calibrated intensity)

With `talking_skip` the decoder is also handed the talking displacement and adds to it, so the
first and third terms ask it only for what the expression changes (nothing, and s · expression):
the blend keeps the lip motion of the talking frames instead of redrawing it from a 64- or
256-number latent, which smooths the millimetre lip gap of a vowel or a p/b/m away.

The mixture target is additive: the procedural data composes that way, and for real data
(VOCASET × Florence 4D) no mixture is ever captured, so additivity is the same assumption
EmoVOCA's blending makes implicitly. With it μt = 1 and μe = s scale exactly like the targets:
μe ∈ {1/3, 2/3, 1} for low / mid / high keeps EmoVOCA's 1 : 2 : 3 ratio, with "high" the
captured expression itself. objective="emovoca" trains EmoVOCA's decode(z, z) terms instead
(then use μt = 2, μe ∈ {1, 2, 3}); `default_mu` answers for either.

Units follow `scantalk.model.ScanTalkConfig`: `position_unit` is the metres per unit of the
template coordinates the networks see (0.1: decimetres) and `displacement_unit` the metres per
unit of the displacements they read and predict (0.001: millimetres), so both are O(1) features
(in metres a head's coordinates are nearly constant to the first layer). Inputs are divided by
the unit, outputs multiplied by it; the public API is in metres.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scantalk.emotions import intensity_value
from scantalk.errors import ScanTalkError
from scantalk.geometry.operators import SurfaceOperators
from scantalk.model.articulated import outward_normals
from scantalk.nn import DiffusionNet

OBJECTIVES = ("split", "emovoca")


def positional_encoding(template: torch.Tensor, frequencies: int, position_unit: float = 0.1) -> torch.Tensor:
    """Template coordinates and their Fourier features, the decoder's per-vertex input.

    The decoder's latents are the same at every vertex, so all spatial detail of a decoded
    expression comes from the template coordinates; Fourier features let a small network draw
    centimetre-sized patterns (a brow, an eyelid) from them.

    Args:
        template: (V, 3) neutral face in metres.
        frequencies: number K of octaves.
        position_unit: metres per unit of the encoded coordinates (0.1: decimetres, a head ≈ ±1).

    Returns:
        (V, 3 + 6·K): xyz = template / position_unit, then sin and cos of π·2^k·xyz, k < K.
    """
    xyz = template / position_unit
    if frequencies == 0:
        return xyz
    angles = xyz[:, None, :] * (torch.pi * 2.0 ** torch.arange(frequencies, device=xyz.device, dtype=xyz.dtype))[None, :, None]
    return torch.cat([xyz, torch.sin(angles).flatten(1), torch.cos(angles).flatten(1)], dim=-1)


class EmoBlender(nn.Module):
    """Two DiffusionNet encoders (talking, expression) and one shared DiffusionNet decoder.

    Args:
        latent: size L of z_talk and z_expr (EmoVOCA: 256; tiny values train fast on CPU).
        width, n_blocks: DiffusionNet width and depth of all three networks.
        k_eig: eigenpairs the surface operators must have.
        encoder_xyz: also give the encoders the template coordinates (3 more input channels),
            so a displacement is read in the context of where it sits on the face.
        objective: "split" (default; see the module docstring) or "emovoca".
        gradient_features: DiffusionNet's gradient features (off: diffusion + MLP only, several
            times cheaper; enough for the smooth displacement fields of faces on small budgets).
        frequencies: Fourier octaves of the decoder's template coordinates (`positional_encoding`).
        use_normals: also give all three networks the template's unit normals. Upper and lower
            lip lie millimetres apart, so coordinates alone cannot tell them apart; their facing
            surfaces point down and up, and the decoder can then open the mouth at the slit.
        position_unit: metres per unit of the template coordinates the networks see (0.1:
            decimetres), as `ScanTalkConfig.position_unit`.
        displacement_unit: metres per unit of the displacements the networks read and predict
            (0.001: millimetres), as `ScanTalkConfig.displacement_unit`.
        talking_skip: the decoder adds to the (μt-scaled) talking displacement it is given
            instead of drawing all of it from z_talk. Redrawn from a latent, centimetres of jaw
            and lip motion come back smoothed, and the lip gap that a vowel or a p/b/m makes is
            what suffers; with the skip the blend carries the talking motion whole, and the
            decoder draws only what the expression adds (z_talk still tells it what the mouth
            is doing).
    """

    def __init__(
        self,
        latent: int = 256,
        width: int = 64,
        n_blocks: int = 4,
        k_eig: int = 128,
        encoder_xyz: bool = True,
        objective: str = "split",
        gradient_features: bool = True,
        frequencies: int = 4,
        position_unit: float = 0.1,
        displacement_unit: float = 0.001,
        use_normals: bool = False,
        talking_skip: bool = False,
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if not (position_unit > 0 and displacement_unit > 0):
            raise ValueError(f"position_unit ({position_unit}) and displacement_unit ({displacement_unit}) "
                             "must be positive lengths in metres")
        self.config: dict[str, Any] = dict(latent=latent, width=width, n_blocks=n_blocks, k_eig=k_eig,
                                           encoder_xyz=encoder_xyz, objective=objective,
                                           gradient_features=gradient_features, frequencies=frequencies,
                                           position_unit=float(position_unit),
                                           displacement_unit=float(displacement_unit), use_normals=bool(use_normals),
                                           talking_skip=bool(talking_skip))
        self.position_unit = float(position_unit)
        self.displacement_unit = float(displacement_unit)
        self.frequencies = frequencies
        self.latent = latent
        self.k_eig = k_eig
        self.encoder_xyz = encoder_xyz
        self.objective = objective
        self.use_normals = bool(use_normals)
        self.talking_skip = bool(talking_skip)
        extra = 3 if use_normals else 0
        encoder_channels = (6 if encoder_xyz else 3) + extra
        # Mass-weighted mean pooling: a latent does not depend on how densely the face is meshed.
        shape = dict(width=width, n_blocks=n_blocks, with_gradient_features=gradient_features)
        self.talk_encoder = DiffusionNet(encoder_channels, latent, outputs="global_mean", **shape)
        self.expression_encoder = DiffusionNet(encoder_channels, latent, outputs="global_mean", **shape)
        # Start from "no displacement", as ScanTalk's decoder does.
        self.decoder = DiffusionNet(3 + 6 * frequencies + extra + 2 * latent, 3, zero_init_last=True, **shape)

    def _encode(self, encoder: nn.Module, displacement: torch.Tensor, template: torch.Tensor,
                ops: SurfaceOperators) -> torch.Tensor:
        features = displacement / self.displacement_unit
        if self.encoder_xyz:
            features = torch.cat([features, (template / self.position_unit).expand_as(features)], dim=-1)
        if self.use_normals:
            features = torch.cat([features, outward_normals(template, ops).expand_as(displacement)], dim=-1)
        return encoder(features, ops)  # (B, L)

    def encode_talking(self, displacement: torch.Tensor, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """Talking latents of talking displacements.

        Args:
            displacement: (B, V, 3) talking frames minus the template, metres.
            template: (V, 3) the neutral face, metres.
            ops: the template's operators.

        Returns:
            z_talk (B, L).
        """
        return self._encode(self.talk_encoder, displacement, template, ops)

    def encode_expression(self, displacement: torch.Tensor, template: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
        """Expression latents of expression displacements.

        The expression may live on another surface than the talking face (its own `ops`):
        the latent is a mass-weighted mean, free of vertex count and order.

        Args:
            displacement: (B, V, 3) expressions minus their neutral, metres.
            template: (V, 3) the neutral face they are on, metres.
            ops: that face's operators.

        Returns:
            z_expr (B, L).
        """
        return self._encode(self.expression_encoder, displacement, template, ops)

    def decode(self, template: torch.Tensor, z_talk: torch.Tensor, z_expr: torch.Tensor,
               ops: SurfaceOperators, talking: torch.Tensor | None = None) -> torch.Tensor:
        """Decode displacements on a face from talking and expression latents.

        Args:
            template: (V, 3) the neutral face, metres.
            z_talk: (B, L) talking latents (scaled by μt when blending).
            z_expr: (B, L) expression latents (scaled by μe when blending).
            ops: the template's operators.
            talking: (B, V, 3) the talking displacement z_talk came from (scaled by μt as it is),
                metres; what a `talking_skip` blender adds to (None: no talking, zeros).

        Returns:
            (B, V, 3) displacements in metres.
        """
        # The decoder's input is [position_v ‖ z_talk ‖ z_expr]: a per-vertex part and a per-frame part.
        position = positional_encoding(template, self.frequencies, self.position_unit)
        if self.use_normals:  # the lips' facing surfaces point up and down: what parts them
            position = torch.cat([position, outward_normals(template, ops)], dim=-1)
        latents = torch.cat([z_talk, z_expr], dim=-1)
        decoded = self.decoder.forward_factored(position, latents, ops) * self.displacement_unit
        if self.talking_skip and talking is not None:
            decoded = decoded + talking
        return decoded

    def losses(self, template: torch.Tensor, talking: torch.Tensor, expression: torch.Tensor,
               ops: SurfaceOperators, scales: torch.Tensor | None = None,
               mixture_expression: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training losses (`relative_squared_error`, averaged per term) of one batch on one surface.

        Args:
            template: (V, 3) the neutral face, metres.
            talking: (B, V, 3) talking displacements, metres.
            expression: (B, V, 3) expression displacements, metres.
            ops: the template's operators.
            scales: (B,) expression strengths s of the mixture term (default U[0.2, 1]; s = 0
                is the talking term).
            mixture_expression: (B, V, 3) what the expression adds to talking in the mixture
                term, at full strength (default `expression`: additive). The anatomical heads'
                data give the expression with its lip gap left to speech, so blends keep both.

        Returns:
            Scalars "talking", "expression", "mixture" (zero for objective "emovoca") and
            "loss", their sum.
        """
        z_talk = self.encode_talking(talking, template, ops)
        z_expr = self.encode_expression(expression, template, ops)
        batch = talking.shape[0]
        if self.objective == "emovoca":
            decoded = self.decode(template, torch.cat([z_talk, z_expr]), torch.cat([z_talk, z_expr]), ops,
                                  talking=torch.cat([talking, torch.zeros_like(talking)]))
            targets = torch.cat([talking, expression])
            errors = relative_squared_error(decoded, targets)
            parts = {"talking": errors[:batch].mean(), "expression": errors[batch:].mean(),
                     "mixture": errors.new_zeros(())}
        else:
            if scales is None:
                scales = 0.2 + 0.8 * torch.rand(batch, device=talking.device, dtype=talking.dtype)
            zeros = torch.zeros_like(z_talk)
            decoded = self.decode(
                template, torch.cat([z_talk, zeros, z_talk]), torch.cat([zeros, z_expr, scales[:, None] * z_expr]), ops,
                talking=torch.cat([talking, torch.zeros_like(talking), talking]),
            )
            added = scales[:, None, None] * (expression if mixture_expression is None else mixture_expression)
            errors = relative_squared_error(decoded[:2 * batch], torch.cat([talking, expression]))
            # The mixture error is measured against the added expression's size: relative to the
            # whole target, centimetre jaw motion would hide a millimetre brow that went missing.
            mixture = relative_squared_error(decoded[2 * batch:] - talking, added)
            parts = {"talking": errors[:batch].mean(), "expression": errors[batch:].mean(), "mixture": mixture.mean()}
        parts["loss"] = parts["talking"] + parts["expression"] + parts["mixture"]
        return parts


def relative_squared_error(prediction: torch.Tensor, target: torch.Tensor, floor: float = 1e-4) -> torch.Tensor:
    """Per-sample ‖prediction − target‖² / (‖target‖² + V·floor²).

    Relative, so millimetre expressions weigh as much as centimetre jaw motion; the floor
    keeps near-still targets (a closed mouth) from dominating. A ratio of squared lengths, so
    the same in any unit.

    Args:
        prediction: (B, V, 3) metres.
        target: (B, V, 3) metres.
        floor: per-vertex rms length in metres added to the target's size (default 0.1 mm).

    Returns:
        (B,) relative errors.
    """
    error = (prediction - target).pow(2).sum(dim=(1, 2))
    energy = target.pow(2).sum(dim=(1, 2))
    return error / (energy + target.shape[1] * floor ** 2)


def default_mu(blender: EmoBlender, intensity: float | str) -> tuple[float, float]:
    """The latent weights (μt, μe) for an intensity under the blender's objective.

    "split": (1, intensity) — 1/3, 2/3, 1 for low, mid, high. "emovoca": EmoVOCA's release
    values (2, 3·intensity) — 1, 2, 3 for low, mid, high.

    Args:
        blender: the blender (its `objective` decides).
        intensity: "low", "mid", "high" or a number in [0, 1].

    Returns:
        (μt, μe).
    """
    value = intensity_value(intensity)
    return (2.0, 3.0 * value) if blender.objective == "emovoca" else (1.0, value)


def blend(
    blender: EmoBlender,
    template: torch.Tensor,
    talking_frames: torch.Tensor,
    expression_displacement: torch.Tensor,
    ops: SurfaceOperators,
    mu_t: float | None = None,
    mu_e: float | None = None,
    intensity: float | str = "high",
    expression_template: torch.Tensor | None = None,
    expression_ops: SurfaceOperators | None = None,
    chunk: int = 32,
) -> torch.Tensor:
    """Talking frames with an expression blended in.

    Args:
        blender: a trained `EmoBlender` (eval mode).
        template: (V, 3) the neutral face, metres.
        talking_frames: (T, V, 3) its talking animation (absolute positions), metres.
        expression_displacement: (V', 3) an expression minus its neutral, metres, on `template`
            (V' = V) or on the surface given by `expression_template` and `expression_ops`.
        ops: the template's operators.
        mu_t: talking latent weight; None takes it from `intensity` via `default_mu`.
        mu_e: expression latent weight (0 gives the talking frames back); None as `mu_t`.
        intensity: "low", "mid", "high" or a number in [0, 1], used when a μ is None.
        expression_template: (V', 3) the expression's own neutral surface, metres, if not `template`.
        expression_ops: that surface's operators.
        chunk: frames decoded at a time (bounds memory).

    Returns:
        (T, V, 3) emotional frames, metres.

    Raises:
        ScanTalkError: frames or expression whose shapes do not match their surfaces.
    """
    if talking_frames.ndim != 3 or talking_frames.shape[1:] != template.shape:
        raise ScanTalkError(f"talking frames of shape {tuple(talking_frames.shape)} do not match the template "
                            f"{tuple(template.shape)}; expected (T, {template.shape[0]}, 3)")
    expression_surface = template if expression_template is None else expression_template
    expression_ops = ops if expression_ops is None else expression_ops
    if expression_displacement.shape != expression_surface.shape:
        raise ScanTalkError(
            f"expression displacement of shape {tuple(expression_displacement.shape)} is not on the expression "
            f"surface of {expression_surface.shape[0]} vertices; pass expression_template/expression_ops of its mesh"
        )
    default_t, default_e = default_mu(blender, intensity)
    mu_t = default_t if mu_t is None else float(mu_t)
    mu_e = default_e if mu_e is None else float(mu_e)
    with torch.no_grad():
        z_expr = blender.encode_expression(expression_displacement[None], expression_surface, expression_ops)
        frames = []
        for start in range(0, talking_frames.shape[0], chunk):
            talking = talking_frames[start:start + chunk] - template[None]
            z_talk = blender.encode_talking(talking, template, ops)
            decoded = blender.decode(template, mu_t * z_talk, (mu_e * z_expr).expand_as(z_talk), ops, talking=mu_t * talking)
            frames.append(template[None] + decoded)
    return torch.cat(frames, dim=0)


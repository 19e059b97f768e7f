"""The channels of a face's life beyond the mouth: lids, eyes, brows and the head, with units."""

from __future__ import annotations

LIFE_CHANNELS: tuple[str, ...] = (
    "blink_left", "blink_right", "eye_yaw", "eye_pitch", "brow_inner_up", "brow_outer_up", "brow_down",
    "head_yaw", "head_pitch", "head_roll", "head_x", "head_y", "head_z",
)
"""Channel names of a `LifeTrack`, in its column order."""

LIFE_UNITS: dict[str, str] = {
    "blink_left": "0..1, 1 = the head's left upper lid down on the lower one",
    "blink_right": "0..1, 1 = the right upper lid down on the lower one",
    "eye_yaw": "degrees, both eyes, + = looking towards the head's left",
    "eye_pitch": "degrees, both eyes, + = looking up",
    "brow_inner_up": "0..1, 1 = the inner brows raised 4 mm (at standard size)",
    "brow_outer_up": "0..1, 1 = the outer brows raised 4 mm",
    "brow_down": "0..1, 1 = the inner brows lowered 3 mm and drawn together 1.5 mm",
    "head_yaw": "degrees, + = the face turns towards its left",
    "head_pitch": "degrees, + = a nod down (the chin drops)",
    "head_roll": "degrees, + = the top of the head tilts towards the face's right",
    "head_x": "millimetres, + = towards the face's left",
    "head_y": "millimetres, + = up",
    "head_z": "millimetres, + = forward",
}
"""What each channel's value means."""

LIFE_LIMITS: dict[str, tuple[float, float]] = {
    "blink_left": (0.0, 1.0), "blink_right": (0.0, 1.0), "eye_yaw": (-40.0, 40.0), "eye_pitch": (-30.0, 30.0),
    "brow_inner_up": (0.0, 1.0), "brow_outer_up": (0.0, 1.0), "brow_down": (0.0, 1.0),
    "head_yaw": (-45.0, 45.0), "head_pitch": (-30.0, 30.0), "head_roll": (-30.0, 30.0),
    "head_x": (-50.0, 50.0), "head_y": (-50.0, 50.0), "head_z": (-50.0, 50.0),
}
"""The range each channel may take (a value outside is an error: a unit mistake, or a rig torn apart)."""

LIFE_GROUPS: dict[str, tuple[str, ...]] = {
    "blinks": ("blink_left", "blink_right"),
    "gaze": ("eye_yaw", "eye_pitch"),
    "brows": ("brow_inner_up", "brow_outer_up", "brow_down"),
    "head": ("head_yaw", "head_pitch", "head_roll", "head_x", "head_y", "head_z"),
}
"""The groups `life_from_speech(groups=...)` and `--life-groups` switch on and off."""

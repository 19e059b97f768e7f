"""FACS action units placed on any head from its landmarks, EmoVOCA's 11 emotions as their
combinations, the recogniser that reads an emotion back from a displacement, and the expression
provider the core finds through the plugin registry."""

"""EmoVOCA's data: the emotional dataset layout, its writer (talking sequences × expressions ×
intensities), its reader, Florence-4D-style expression sets, the `scantalk emovoca` command, and
the training of an articulated model's emotion head on such a dataset."""

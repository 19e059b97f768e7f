"""Made training data: procedural and real-face heads in many meshings (`heads`), speech from
real voices with exact phones (`speech`), and the procedural talking set that joins them through
the rig (`talking_set`), written in the layouts the readers of `scantalk.datasets` accept."""

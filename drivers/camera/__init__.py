"""Face camera: capture from V4L2, files, streams or image folders; 1:1 face verification
against the ID-card photo; challenge-response liveness.

Frames and face encodings are citizen data: they stay in memory, are zeroed after each
verification and never reach a log.
"""

"""Inspection tasks and the evidence of field inspectors: tasks, uploads, checks, case bundles.

A hub extension (:func:`hub.inspection.setup.install`); see docs/inspector.md.
"""

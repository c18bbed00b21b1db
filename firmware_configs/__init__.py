"""Versioned configuration of each device model, validated against a schema before use."""

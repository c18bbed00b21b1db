"""Signed software releases on the hub: stored, served to devices (resumable), and rolled out in
stages with health gates, failure limits and update windows per site."""

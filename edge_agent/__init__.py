"""The edge agent: the one process on a device that owns its hardware and its link to the hub."""

"""Device drivers: each device class speaks its own wire protocol over a byte transport.

A driver knows bytes and frames; it knows nothing of MQTT, Qt or the hub. Each device class
lives in its own package with a sans-I/O codec, a transport-bound driver and a typed interface.
"""

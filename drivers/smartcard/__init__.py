"""Smart cards over PC/SC: ISO 7816-4 APDUs, readers and card presence, and the Chinese
social-security card application.

Layers, bottom up: ``apdu`` and ``status`` (sans-I/O codec and status words), ``exchange`` (the
61xx/6Cxx rules over any transmit function), ``pcsc`` (the only module that talks to pcscd, via
pyscard), ``socialsecurity`` (the application, driven by ``data/ssc_layout.json``), ``polled``
(the agent's view) and ``cli`` (the technician's commands).
"""

"""ESC/POS receipt printers over TCP (port 9100), serial and USB.

Modules: ``commands`` (ESC/POS byte builders), ``text`` (display columns and GB18030 with the
printer's Chinese mode), ``receipt`` (receipt layouts as data), ``render`` (receipt -> bytes),
``status`` (DLE EOT status decoding and health), ``transport`` (byte transports from a URL),
``device`` (the printer over a transport), ``polled`` (the edge agent's driver), ``cli``.
"""

"""A simulated ESC/POS receipt printer on TCP: decodes what it is sent and renders PNG receipts.

Modules: ``parser`` (ESC/POS byte stream -> events), ``page`` (events -> receipts of text lines,
QR codes, barcodes, images and cuts), ``engine`` (printer state, DLE EOT answers, receipts),
``render`` (receipt -> PNG), ``server`` (the TCP server), ``cli`` (``govedge sim printer``).
"""

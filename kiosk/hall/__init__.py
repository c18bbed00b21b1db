"""The hall kiosk app: a Qt-free flow (states, session, timeouts, client protocols) and the
PySide6 screens that render it (kiosk.hall.ui). Tests drive the flow directly."""

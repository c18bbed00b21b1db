"""The hall kiosk's PySide6 screens: they render the flow's views and forward taps, nothing
else. Import only where PySide6 is installed (the ``kiosk`` extra)."""

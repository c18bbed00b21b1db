"""The running kiosk: window, speaker and the flow's thread, connected."""

from __future__ import annotations

from PySide6.QtCore import QTimer

from kiosk.hall.config import KioskConfig
from kiosk.hall.flow import View
from kiosk.hall.protocols import ClientFactory
from kiosk.hall.ui.bridge import FlowRunner
from kiosk.hall.ui.speech import Speaker, make_speaker
from kiosk.hall.ui.window import KioskWindow


class Kiosk:
    """``start()`` shows the window and starts the flow; ``stop()`` wipes and ends it."""

    def __init__(
        self,
        config: KioskConfig,
        make_clients: ClientFactory,
        orientation: str = "portrait",
        speaker: Speaker | None = None,
        tick_s: float = 0.2,
    ) -> None:
        self.config = config
        self.speaker = speaker or make_speaker(config.speech)
        self.window = KioskWindow(config.hall_name, orientation, self.speaker)
        self.runner = FlowRunner(config, make_clients, tick_s)
        self.runner.view_changed.connect(self._on_view)
        self.window.tapped.connect(self.runner.tap)
        self._latest: View | None = None
        # Views may come faster than a screen is worth drawing (progress steps): draw the latest
        # on the next turn of the event loop.
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._draw)

    def start(self, full_screen: bool = True) -> None:
        """Start the flow's thread (raising as ``FlowRunner.start`` does), then show the window."""
        self.runner.start()
        if full_screen:
            self.window.showFullScreen()
        else:
            self.window.show()

    def _on_view(self, view: object) -> None:
        if isinstance(view, View):
            self._latest = view
            self._timer.start()

    def _draw(self) -> None:
        if self._latest is not None:
            self.window.show_view(self._latest)

    def stop(self) -> None:
        """Stop the flow (which wipes the session), silence the speaker, close the window."""
        self.runner.stop()
        self.speaker.stop()
        self.window.close()

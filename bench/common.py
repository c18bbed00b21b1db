"""The result every benchmark returns, and how the suite prints it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One figure beside its baseline, measured in the same run.

    ``higher_is_better`` says which way the ratio should go (rates up, latencies and memory down).
    """

    name: str
    figure: float
    unit: str
    baseline: float
    baseline_label: str
    higher_is_better: bool = True
    goal: str = ""
    notes: str = ""

    @property
    def ratio(self) -> float:
        """The figure over the baseline (NaN for a zero baseline); ``higher_is_better`` reads it."""
        return self.figure / self.baseline if self.baseline else float("nan")

    def line(self) -> str:
        """The one-line summary printed for each result: figure, baseline, ratio, goal, notes."""
        return (
            f"{self.name}: {self.figure:.4g} {self.unit} | baseline ({self.baseline_label}) "
            f"{self.baseline:.4g} {self.unit} | ratio {self.ratio:.3f}"
            + (f" | goal {self.goal}" if self.goal else "")
            + (f" | {self.notes}" if self.notes else "")
        )


class RawPublisher:
    """Publishes QoS 1 telemetry as raw MQTT packets and counts the broker's PUBACKs.

    A flood for the overload benches and tests: built with the fleet simulator's codec rather
    than sent through paho, so that offering the load takes little of the machine's CPU. A
    PUBACK means the broker took the message: every acknowledged message must end up stored.
    """

    def __init__(self, host: str, port: int, client_id: str) -> None:
        import socket
        import threading

        from sim.fleet import mqtt_codec as mq

        self._mq = mq
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(mq.connect(client_id, keepalive=0))
        self.acked = 0
        self.sent = 0
        self._next_id = 0
        self._reader = mq.PacketReader()
        first = self.sock.recv(4)
        if len(first) != 4 or first[3] != 0:
            raise RuntimeError("the broker refused the publisher's connection")
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="raw-puback", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for packet in self._reader.feed(data):
                if packet.kind == 0x40:  # PUBACK
                    self.acked += 1

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Send these (topic, payload) pairs at QoS 1 in one socket write."""
        mq = self._mq
        packets = []
        for name, body in messages:
            self._next_id = self._next_id % 65535 + 1
            packets.append(mq.publish(name, body, qos=1, packet_id=self._next_id))
        self.sock.sendall(b"".join(packets))
        self.sent += len(messages)

    def wait_acked(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every message sent is acknowledged; False if not."""
        import time

        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked >= self.sent

    def close(self) -> None:
        """Send DISCONNECT, close the socket and stop the PUBACK reader (waits up to 2 s)."""
        self._closed.set()
        try:
            self.sock.sendall(bytes([0xE0, 0]))  # DISCONNECT
        except OSError:
            pass
        self.sock.close()
        self._thread.join(2)


def machine_ceilings(messages: int = 20_000) -> dict[str, float]:
    """This machine's own ceilings, measured now: how fast mosquitto_sub and a bare paho
    subscriber drain ``messages`` queued telemetry messages from a fresh Mosquitto (msg/s).

    Printed beside each performance figure so that runs on different machines compare by ratio.
    """
    from bench.ingest import Figures, measure_mosquitto_sub, measure_paho
    from bench.ingest_load import Load

    devices = 100
    load = Load(devices, max(1, messages // devices), 2, 1)
    figures = Figures(load)
    measure_mosquitto_sub(load, figures)
    measure_paho(load, figures)
    return {"mosquitto_sub": figures.mosquitto_sub, "paho": figures.paho}


def ceilings_line(ceilings: dict[str, float]) -> str:
    """One line stating the machine's MQTT drain ceilings, to read the figures against."""
    return (
        f"machine ceilings: mosquitto_sub drains {ceilings['mosquitto_sub']:.0f} msg/s, "
        f"a bare paho subscriber {ceilings['paho']:.0f} msg/s"
    )

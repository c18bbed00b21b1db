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
        return self.figure / self.baseline if self.baseline else float("nan")

    def line(self) -> str:
        return (
            f"{self.name}: {self.figure:.4g} {self.unit} | baseline ({self.baseline_label}) "
            f"{self.baseline:.4g} {self.unit} | ratio {self.ratio:.3f}"
            + (f" | goal {self.goal}" if self.goal else "")
            + (f" | {self.notes}" if self.notes else "")
        )

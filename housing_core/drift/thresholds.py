"""Watch and drift thresholds: effect-size floors, raised where a batch is too small to tell.

A threshold is stored per column per score as the effect-size band (`watch`, `drift`) and the
score's calibrated sampling noise (`noise`, see `calibration`). For a batch of ``b`` rows
checked against ``n`` reference rows the noise part is ``noise * (1/b + 1/n) ** power``
(power 1 for PSI, 1/2 for distances and shares) and the thresholds applied are

    watch(b) = max(watch, watch_margin * noise part)
    drift(b) = max(drift, drift_margin * noise part)

Large batches are judged on the effect-size bands alone; a small batch must show a larger
effect before it is flagged, in proportion to its own sampling noise. There is no cut-off
below which nothing is judged: a 50-row batch whose incomes doubled is still drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from housing_core.drift.scores import ALL_SCORES, noise_scale

Band = tuple[float, float]
# {score: (watch, drift)} for every column, or {column: {score: (watch, drift)}} for one;
# the two can be mixed and a column's own entry wins.
Overrides = Mapping[str, Band | Mapping[str, Band]]

# Effect sizes worth a look / worth acting on, whatever the calibration says. PSI: the bands
# in common use (0.1, 0.2-0.25); Wasserstein/std: Evidently's drift threshold is 0.1; JS
# distance: Evidently's 0.1; unseen categories and blanks: shares of the rows.
DEFAULT_FLOORS: dict[str, Band] = {
    "psi": (0.1, 0.2),
    "wasserstein": (0.05, 0.1),
    "js": (0.05, 0.1),
    "unseen": (0.01, 0.03),
    "blank": (0.02, 0.05),
}
WATCH_MARGIN = 1.5
DRIFT_MARGIN = 3.0


@dataclass(frozen=True)
class Threshold:
    """The effect-size band of one score of one column and its calibrated sampling noise."""

    watch: float
    drift: float
    noise: float = 0.0

    def at(
        self,
        score: str,
        rows: int,
        reference_rows: int,
        margins: Band = (WATCH_MARGIN, DRIFT_MARGIN),
    ) -> Band:
        """The (watch, drift) thresholds for a batch of `rows` rows (see the module's rule)."""
        noise = self.noise * noise_scale(score, rows, reference_rows)
        watch = max(self.watch, margins[0] * noise)
        return watch, max(self.drift, margins[1] * noise, watch)

    def to_dict(self) -> dict[str, float]:
        return {"watch": self.watch, "drift": self.drift, "noise": self.noise}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> Threshold:
        return cls(float(data["watch"]), float(data["drift"]), float(data["noise"]))


def floors_for(
    scores: tuple[str, ...], column: str, overrides: Overrides | None
) -> dict[str, Band]:
    """The band of each score of `column`: the defaults, then overrides for all, then its own."""
    bands = {score: DEFAULT_FLOORS[score] for score in scores}
    for score, band in _overrides_of(column, overrides).items():
        if score in bands:
            bands[score] = band
    return bands


def apply_overrides(
    thresholds: Mapping[str, Threshold], column: str, overrides: Overrides | None
) -> dict[str, Threshold]:
    """`thresholds` with the bands that `overrides` names replaced; the noise stays."""
    changed = dict(thresholds)
    for score, (watch, drift) in _overrides_of(column, overrides).items():
        if score in changed:
            changed[score] = replace(changed[score], watch=watch, drift=drift)
    return changed


def validate_overrides(overrides: Overrides | None, columns: tuple[str, ...]) -> None:
    """Refuse an override that names no score or column of the profile, or a reversed band."""
    for key, value in (overrides or {}).items():
        if not isinstance(value, Mapping):
            if key not in ALL_SCORES:
                raise ValueError(f"override {key!r}: not a score (one of {', '.join(ALL_SCORES)})")
            _check_band(key, value)
            continue
        if key not in columns:
            raise ValueError(f"override {key!r}: not a column of the profile")
        for score, band in value.items():
            if score not in ALL_SCORES:
                raise ValueError(f"override {key!r}: {score!r} is not a score")
            _check_band(f"{key}.{score}", band)


def _overrides_of(column: str, overrides: Overrides | None) -> dict[str, Band]:
    chosen: dict[str, Band] = {}
    own: Mapping[str, Band] = {}
    for key, value in (overrides or {}).items():
        if not isinstance(value, Mapping):
            chosen[key] = (float(value[0]), float(value[1]))
        elif key == column:
            own = value
    chosen.update({score: (float(w), float(d)) for score, (w, d) in own.items()})
    return chosen


def _check_band(name: str, band: Band) -> None:
    watch, drift = band
    if not 0 <= watch <= drift:
        raise ValueError(f"override {name}: need 0 <= watch <= drift, got {band}")

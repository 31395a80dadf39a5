"""The check: same data is ok at any size, realistic shifts are drift where they happened."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from housing_core.drift import PREDICTION, STATUSES, Profile, Threshold, build_profile, check
from housing_core.drift.thresholds import Overrides
from tests.benchmarks.synthetic import LinearPrices, jittered_rows, shifted
from tests.core.drift.conftest import CATEGORICAL, FEATURES, NUMERIC, TARGET


@pytest.fixture(scope="module")
def jittered(housing: pd.DataFrame) -> pd.DataFrame:
    """Fresh rows like the real ones (not the reference rows themselves) for the shifts."""
    return jittered_rows(housing, 30_000, seed=11)


def test_two_halves_of_the_real_data_are_ok_everywhere(housing: pd.DataFrame) -> None:
    # given a profile of one random half, predictions included
    shuffled = housing.sample(frac=1.0, random_state=3).reset_index(drop=True)
    first, second = shuffled.iloc[: len(shuffled) // 2], shuffled.iloc[len(shuffled) // 2 :]
    model = LinearPrices(first)
    profile = build_profile(first, NUMERIC, CATEGORICAL, TARGET, model.predict(first))

    # when the other half is checked
    report = check(profile, second, predictions=model.predict(second))

    # then
    assert report.drifted == [] and report.watch == []
    assert {f.name for f in report.features} == {*FEATURES, TARGET, PREDICTION}


def test_a_million_jittered_rows_are_ok_everywhere(
    profile: Profile, housing: pd.DataFrame, model: LinearPrices
) -> None:
    # given a million new rows drawn from the real ones with small noise
    batch = jittered_rows(housing, 1_000_000, seed=5)

    # when
    report = check(profile, batch, predictions=model.predict(batch))

    # then a sample this large is judged on the effect sizes alone, and none is reached
    assert report.status == "ok", report.to_json_line()
    income = report.feature("median_income")
    assert income.thresholds["psi"] == (0.1, 0.2)
    assert income.scores["psi"] < 0.01


OTHERS = set(FEATURES) | {PREDICTION}


@pytest.mark.parametrize(
    ("kind", "drift", "ok"),
    [
        ("income_up", {"median_income", PREDICTION}, OTHERS - {"median_income", PREDICTION}),
        ("inland_only", {"ocean_proximity", "longitude", "latitude"}, set()),
        ("bedrooms_blank", {"total_bedrooms"}, OTHERS - {"total_bedrooms"}),
        ("new_category", {"ocean_proximity"}, OTHERS - {"ocean_proximity"}),
        ("older_homes", {"housing_median_age"}, OTHERS - {"housing_median_age", PREDICTION}),
    ],
)
def test_a_shift_is_drift_where_it_happened_and_nowhere_else(
    profile: Profile,
    jittered: pd.DataFrame,
    model: LinearPrices,
    kind: str,
    drift: set[str],
    ok: set[str],
) -> None:
    # given fresh rows shifted in one realistic way
    batch = shifted(jittered, kind)

    # when
    report = check(profile, batch, predictions=model.predict(batch))

    # then
    assert drift <= set(report.drifted), report.to_json_line()
    assert {f.name for f in report.features if f.status == "ok"} >= ok, report.to_json_line()


def _categories(shares: dict[str, float], rows: int) -> pd.DataFrame:
    labels = [name for name, share in shares.items() for _ in range(round(share * rows))]
    return pd.DataFrame({"kind": labels})


@pytest.mark.parametrize(
    ("unseen_share", "status"),
    [(0.0, "ok"), (0.005, "ok"), (0.02, "watch"), (0.1, "drift")],
)
def test_unseen_categories_by_their_share(unseen_share: float, status: str) -> None:
    # given a reference of a and b only (floors alone: no calibration noise)
    reference = _categories({"a": 0.5, "b": 0.5}, 2_000)
    profile = build_profile(reference, categorical=["kind"], folds=0)
    known = (1 - unseen_share) / 2
    batch = _categories({"a": known, "b": known, "z": unseen_share}, 10_000)

    # when
    report = check(profile, batch, overrides={"psi": (9.0, 9.0), "js": (9.0, 9.0)})

    # then the unseen share alone decides
    assert report.feature("kind").scores["unseen"] == pytest.approx(unseen_share)
    assert report.feature("kind").status == status


@pytest.mark.parametrize(
    ("blank_share", "status"),
    [(0.0, "ok"), (0.01, "ok"), (0.03, "watch"), (0.1, "drift")],
)
def test_a_change_in_blanks_by_its_size(blank_share: float, status: str) -> None:
    generator = np.random.default_rng(0)
    profile = build_profile(pd.DataFrame({"x": generator.normal(size=2_000)}), ["x"], folds=0)
    values = generator.normal(size=10_000)
    values[: round(blank_share * values.size)] = np.nan

    report = check(profile, pd.DataFrame({"x": values}))

    assert report.feature("x").scores["blank"] == pytest.approx(blank_share)
    assert report.feature("x").status == status


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        (None, "drift"),
        ({"psi": (0.5, 1.0), "wasserstein": (0.5, 1.0)}, "ok"),
        ({"median_income": {"psi": (0.5, 1.0), "wasserstein": (0.3, 1.0)}}, "watch"),
        # a feature's own entry wins over the one for all features
        (
            {
                "psi": (0.5, 1.0),
                "wasserstein": (0.3, 1.0),
                "median_income": {"wasserstein": (0.5, 1.0)},
            },
            "ok",
        ),
        ({"psi": (0.05, 0.1), "wasserstein": (2.0, 3.0)}, "drift"),
    ],
)
def test_overrides_replace_the_bands(
    profile: Profile, jittered: pd.DataFrame, overrides: Overrides | None, status: str
) -> None:
    # given incomes up 20 % (psi about 0.17, wasserstein about 0.4)
    batch = shifted(jittered, "income_up")

    report = check(profile, batch, overrides=overrides)

    assert report.feature("median_income").status == status
    assert report.feature("median_income").scores["wasserstein"] == pytest.approx(0.4, abs=0.05)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"psy": (0.1, 0.2)}, "not a score"),
        ({"psi": (0.3, 0.2)}, "watch <= drift"),
        ({"income": {"psi": (0.1, 0.2)}}, "not a column"),
        ({"median_income": {"psy": (0.1, 0.2)}}, "not a score"),
    ],
)
def test_overrides_that_mean_nothing_are_refused(
    profile: Profile, housing: pd.DataFrame, overrides: Overrides, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check(profile, housing.head(100), overrides=overrides)


@pytest.mark.parametrize(
    ("score", "rows", "expected"),
    [
        # large batch: the effect-size bands
        ("psi", 1_000_000, (0.1, 0.2)),
        # noise part 40 * (1/100 + 1/10000) = 0.404, times 1.5 and 3
        ("psi", 100, (0.606, 1.212)),
        # sqrt for distances: 2.5 * sqrt(1/100 + 1/10000) = 0.251246...
        ("wasserstein", 100, (1.5 * 2.5 * 0.0101**0.5, 3 * 2.5 * 0.0101**0.5)),
    ],
)
def test_small_batches_widen_thresholds_by_their_sampling_noise(
    score: str, rows: int, expected: tuple[float, float]
) -> None:
    floors = {"psi": (0.1, 0.2), "wasserstein": (0.05, 0.1)}[score]
    noise = {"psi": 40.0, "wasserstein": 2.5}[score]

    thresholds = Threshold(*floors, noise=noise).at(score, rows, reference_rows=10_000)

    assert thresholds == pytest.approx(expected)


@pytest.mark.parametrize(
    ("rows", "income_factor", "statuses"),
    [
        (50, 1.0, {"ok"}),  # same data, tiny batch
        (50, 1.2, {"ok", "watch"}),  # too few rows to call +20 % drift: at most worth a look
        (50, 3.0, {"drift"}),  # but a gross change is drift at any size
        (1_000, 1.2, {"drift"}),
    ],
)
def test_the_small_batch_rule_on_real_rows(
    profile: Profile, jittered: pd.DataFrame, rows: int, income_factor: float, statuses: set[str]
) -> None:
    batch = jittered.sample(n=rows, random_state=1).copy()
    batch["median_income"] = batch["median_income"] * income_factor

    report = check(profile, batch)

    assert report.feature("median_income").status in statuses
    assert all(f.status == "ok" for f in report.features if f.name != "median_income")


def test_the_report_line_and_table(
    profile: Profile, jittered: pd.DataFrame, model: LinearPrices
) -> None:
    batch = shifted(jittered, "income_up")

    report = check(profile, batch, predictions=model.predict(batch))
    line = report.to_json_line()

    assert "\n" not in line
    data = json.loads(line)
    assert set(data) == {"rows", "status", "drifted", "watch", "features"}
    assert data["rows"] == len(batch) and data["status"] == "drift"
    assert data["drifted"] == ["median_income", PREDICTION]
    assert set(data["features"]["median_income"]) == {"status", "psi", "wasserstein", "blank"}
    assert set(data["features"]["ocean_proximity"]) == {"status", "psi", "js", "unseen", "blank"}
    assert {f["status"] for f in data["features"].values()} <= set(STATUSES)
    table = report.table()
    assert [row["feature"] for row in table] == list(data["features"])
    income = next(row for row in table if row["feature"] == "median_income")
    assert income["status"] == "drift" and income["score"] == "wasserstein"
    assert set(income) == {
        "feature",
        "status",
        "score",
        "value",
        "watch at",
        "drift at",
        "other scores",
    }
    assert all(isinstance(v, str) for row in table for v in row.values())


def test_a_summary_is_checked_like_its_rows(profile: Profile, jittered: pd.DataFrame) -> None:
    from housing_core.drift import summarize

    batch = shifted(jittered, "bedrooms_blank")

    assert check(profile, summarize(batch, like=profile)).drifted == check(profile, batch).drifted
    with pytest.raises(ValueError, match="give the predictions to `summarize`"):
        check(profile, summarize(batch, like=profile), predictions=np.zeros(len(batch)))


def test_the_figure_has_one_bar_per_feature_coloured_by_status(
    profile: Profile, jittered: pd.DataFrame
) -> None:
    from matplotlib.colors import to_hex

    from housing_core.reports.drift import STATUS_COLOURS, drift_figure

    report = check(profile, shifted(jittered, "income_up"))

    figure = drift_figure(report)

    axes = figure.axes[0]
    bars = axes.patches
    assert len(bars) == len(report.features)
    colours = {to_hex(bar.get_facecolor()) for bar in bars}
    assert colours == {STATUS_COLOURS["ok"], STATUS_COLOURS["drift"]}
    assert "median_income" in [t.get_text() for t in axes.get_yticklabels()]

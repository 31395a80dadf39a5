"""The split is decided per row by its own features: stable when other rows come and go."""

from __future__ import annotations

import pandas as pd

from housing_core.data.split import held_out_mask, split_frame


def frame_of(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "longitude": [-120.0 - i / 1000 for i in range(n)],
            "latitude": [35.0 + i / 1000 for i in range(n)],
            "housing_median_age": [20.0] * n,
            "total_rooms": [1000.0 + i for i in range(n)],
            "total_bedrooms": [200.0] * n,
            "population": [500.0] * n,
            "households": [150.0] * n,
            "median_income": [3.0] * n,
            "median_house_value": [200000.0] * n,
            "ocean_proximity": ["INLAND"] * n,
        }
    )


def test_about_a_fifth_is_held_out() -> None:
    parts = split_frame(frame_of(5000), test_fraction=0.2)

    assert len(parts.train) + len(parts.test) == 5000
    assert 900 < len(parts.test) < 1100


def test_a_rows_side_does_not_change_when_other_rows_are_added_or_removed() -> None:
    full = frame_of(2000)
    before = held_out_mask(full, 0.2, "s")

    subset = full.iloc[::3].sample(frac=1.0, random_state=0)  # fewer rows, other order
    after = pd.Series(held_out_mask(subset, 0.2, "s"), index=subset.index)

    assert (after == pd.Series(before, index=full.index).loc[subset.index]).all()


def test_the_target_does_not_move_a_row() -> None:
    frame = frame_of(500)
    corrected = frame.assign(median_house_value=frame["median_house_value"] * 1.1)

    assert (held_out_mask(frame, 0.2, "s") == held_out_mask(corrected, 0.2, "s")).all()


def test_integer_and_float_spellings_of_a_value_land_on_the_same_side() -> None:
    frame = frame_of(300)
    as_int = frame.assign(housing_median_age=frame["housing_median_age"].astype(int))

    assert (held_out_mask(frame, 0.2, "s") == held_out_mask(as_int, 0.2, "s")).all()


def test_the_salt_reshuffles() -> None:
    frame = frame_of(1000)

    assert (held_out_mask(frame, 0.2, "a") != held_out_mask(frame, 0.2, "b")).any()

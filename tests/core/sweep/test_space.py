"""Search spaces: the shipped ones load, every broken rule is named by its key, and Optuna
proposes within the ranges."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from housing_core.settings import RandomForestConfig
from housing_core.settings.sections import FAMILIES
from housing_core.sweep.proposals import grid_size, make_sampler, suggest
from housing_core.sweep.space import SpaceError, load_space, parse_space


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_ships_a_space_that_builds_its_config(family: str) -> None:
    space = load_space(family)
    assert space.family == family
    lows = {p.name: p.choices[0] if p.kind == "categorical" else p.low for p in space.params}
    lows = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in lows.items()}
    assert space.config(lows).family == family


def test_the_forest_space_covers_the_seeds_tree_counts_and_depth() -> None:
    space = load_space("random_forest")
    trees = next(p for p in space.params if p.name == "n_estimators")
    assert (trees.low, trees.high) == (100, 300)
    assert "max_depth" in space.names()


@pytest.mark.parametrize(
    ("tree", "named"),
    [
        ({"family": "xgboost", "params": {}}, "family: 'xgboost' is not a model family"),
        ({"family": "random_forest"}, "params: must map at least one"),
        ({"family": "random_forest", "params": {"n_trees": {"type": "int"}}}, "params.n_trees"),
        (
            {"family": "random_forest", "params": {"max_depth": {"type": "int", "low": 9}}},
            "params.max_depth.high: must be an integer",
        ),
        (
            {
                "family": "random_forest",
                "params": {"max_depth": {"type": "int", "low": 9, "high": 3}},
            },
            "params.max_depth: low (9) must be below high (3)",
        ),
        (
            {
                "family": "random_forest",
                "params": {"min_samples_leaf": {"type": "int", "low": 0, "high": 3}},
            },
            "params.min_samples_leaf.low: Input should be greater than or equal to 1",
        ),
        (
            {"family": "random_forest", "params": {"max_depth": {"type": "range", "low": 1}}},
            "params.max_depth.type: 'range' is not one of",
        ),
        (
            {
                "family": "hist_gradient_boosting",
                "params": {
                    "learning_rate": {"type": "float", "low": 0.0, "high": 0.3, "log": True}
                },
            },
            "params.learning_rate.low: must be above 0 on a log scale",
        ),
        (
            {
                "family": "random_forest",
                "params": {"max_depth": {"type": "categorical", "choices": [10, -1]}},
            },
            "params.max_depth.choices[1]",
        ),
        (
            {
                "family": "random_forest",
                "params": {"max_depth": {"type": "int", "low": 1, "high": 3, "stepp": 1}},
            },
            "params.max_depth.stepp: unknown key",
        ),
        (
            {
                "family": "random_forest",
                "params": {"max_depth": {"type": "int", "low": 1, "high": 3}},
                "fixed": {"n_estimators": 0},
            },
            "fixed: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_broken_rule_is_named_by_its_key(tree: dict[str, object], named: str) -> None:
    with pytest.raises(SpaceError) as raised:
        parse_space(tree, "space.yaml")
    assert named in str(raised.value)
    assert "space.yaml" in str(raised.value)


def test_every_problem_is_listed_at_once() -> None:
    tree = {
        "family": "random_forest",
        "params": {"n_trees": {"type": "int"}, "max_depth": {"type": "int", "low": 5, "high": 2}},
        "colour": "blue",
    }
    with pytest.raises(SpaceError) as raised:
        parse_space(tree)
    assert len(raised.value.problems) == 3


def test_a_file_that_is_not_yaml_or_missing_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("family: [random_forest\n")
    with pytest.raises(SpaceError, match=r"(?s)broken\.yaml.*is not YAML"):
        load_space(broken)
    with pytest.raises(SpaceError, match="cannot be read"):
        load_space(tmp_path / "absent.yaml")


def test_a_trial_config_is_the_base_the_fixed_values_then_the_trials() -> None:
    space = parse_space(
        {
            "family": "random_forest",
            "params": {"n_estimators": {"type": "int", "low": 4, "high": 8}},
            "fixed": {"min_samples_leaf": 3},
        }
    )
    config = space.config({"n_estimators": 6}, RandomForestConfig(max_depth=7))
    assert (config.n_estimators, config.min_samples_leaf, config.max_depth) == (6, 3, 7)


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
def test_proposals_stay_within_the_space(sampler: str) -> None:
    space = parse_space(
        {
            "family": "hist_gradient_boosting",
            "params": {
                "max_iter": {"type": "int", "low": 50, "high": 150, "step": 50},
                "learning_rate": {"type": "float", "low": 0.05, "high": 0.15, "step": 0.05},
                "max_depth": {"type": "categorical", "choices": [3, None]},
            },
        }
    )
    assert grid_size(space) == 3 * 3 * 2
    study = optuna.create_study(sampler=make_sampler(sampler, 7, space))  # type: ignore[arg-type]
    seen = set()
    for _ in range(18 if sampler == "grid" else 8):
        trial = study.ask()
        values = suggest(trial, space)
        assert values["max_iter"] in (50, 100, 150)
        assert 0.05 <= values["learning_rate"] <= 0.15
        assert values["max_depth"] in (3, None)
        seen.add(tuple(values.values()))
        study.tell(trial, 1.0)
    if sampler == "grid":
        assert len(seen) == 18  # the whole grid, each point once


def test_the_same_seed_proposes_the_same_values() -> None:
    space = load_space("random_forest")

    def first_proposals() -> list[dict[str, object]]:
        study = optuna.create_study(sampler=make_sampler("tpe", 42, space))
        proposals = []
        for _ in range(3):
            trial = study.ask()
            proposals.append(suggest(trial, space))
            study.tell(trial, 1.0)
        return proposals

    assert first_proposals() == first_proposals()

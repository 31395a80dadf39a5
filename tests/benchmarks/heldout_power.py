"""What a 10 % held-out share (instead of 20 %) gains the model and costs the promotion gate.

    HOUSING_DATA__SOURCE=../shared/data/housing.csv \\
        .venv/bin/python -m tests.benchmarks.heldout_power [--repetitions 5] [--resamples 2000]

The rows are cut into tenths by the split's own keyed hash (`data.split.held_out_mask`, salt
`split.salt`): with the default salt, tenth 0 is the held-out side of `test_fraction = 0.1` and
tenths 0 and 1 that of `0.2`. Repetition k holds out tenth 2k, so the repetitions score on
disjoint rows (k = 0 is the real split):

1. **Gain to the model.** The default model fitted on the other 80 % and on the other 90 % (the
   80 % plus tenth 2k + 1), both scored on tenth 2k: the paired RMSE gain, mean and standard
   error over the repetitions, and the fit times.
2. **Cost to promotion.** The 80 % fits also price tenth 2k + 1, so every row gets an
   out-of-fold price from the default, from a weaker configuration (one boosted model of 150
   iterations) and from the default with other seeds. A blend
   `default + lam * (weaker - default)` is a model whose RMSE on these rows is known exactly;
   `lam` is solved so that the candidate is Delta better or Delta worse than production, the
   other side being the default (pair "blend") or the reseeded default (pair "retrain", with a
   retrain's own noise, as between real versions); the default and its reseeded twin are the
   "equal" pair, in both orders. Held-out sets of 20 % and 10 % of the rows are drawn with
   replacement (paired: both models on the same rows) and the gate of `decide` is applied
   (candidate RMSE < production RMSE x (1 - min_improvement)): power for a better
   candidate, false promotion for a worse or equal one, and the bootstrap standard error of
   the RMSE difference at each size.

Prints JSON lines (one per repetition, per scenario and size, per size, then a summary and
the runtime); asserts nothing and writes nothing. About 5 minutes on 2 shared cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from housing_core.data.contract import TARGET
from housing_core.data.split import held_out_mask
from housing_core.settings import HistGradientBoostingConfig, load_settings
from tests.benchmarks import stack
from tests.benchmarks.sweep_quality import held_out_predictions, paired

TENTHS = 10
DELTAS = (0.005, 0.01, 0.02)
SHARES = (0.2, 0.1)


def tenths(frame: pd.DataFrame, salt: str) -> np.ndarray:
    """Each row's tenth of the split's hash: tenth j holds the rows with j/10 <= hash < (j+1)/10."""
    outside = [~held_out_mask(frame, j / TENTHS, salt) for j in range(1, TENTHS)]
    return np.asarray(np.sum(outside, axis=0))


@dataclass
class OutOfFold:
    """Every row's price from models that did not see it (the 80 % fits)."""

    default: np.ndarray
    weaker: np.ndarray
    reseeded: np.ndarray


def model_gain(
    frame: pd.DataFrame,
    tenth: np.ndarray,
    repetitions: int,
    configs: dict[str, HistGradientBoostingConfig],
) -> tuple[list[dict[str, float]], OutOfFold]:
    y = frame[TARGET].to_numpy()
    prices = {name: np.full(len(frame), np.nan) for name in ("default", "weaker", "reseeded")}
    rows = []
    for k in range(repetitions):
        test, extra = tenth == 2 * k, tenth == 2 * k + 1
        scored = test | extra
        train80, train90 = frame.loc[~scored], frame.loc[~test]
        started = time.perf_counter()
        at80 = held_out_predictions(train80, frame.loc[scored], configs["default"])
        seconds80 = time.perf_counter() - started
        started = time.perf_counter()
        at90 = held_out_predictions(train90, frame.loc[test], configs["default"])
        seconds90 = time.perf_counter() - started
        prices["default"][scored] = at80
        for name in ("weaker", "reseeded"):
            prices[name][scored] = held_out_predictions(train80, frame.loc[scored], configs[name])
        rmse80 = _rmse(at80[test[scored]] - y[test])
        rmse90 = _rmse(at90 - y[test])
        row = {
            "repetition": k,
            "n_train_80": len(train80),
            "n_train_90": len(train90),
            "n_scored": int(test.sum()),
            "rmse_80": round(rmse80),
            "rmse_90": round(rmse90),
            "gain": round(rmse80 - rmse90),
            "fit_and_predict_s_80": round(seconds80, 1),
            "fit_and_predict_s_90": round(seconds90, 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows, OutOfFold(**prices)


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2)))


def blend_for(e0: np.ndarray, d: np.ndarray, target: float) -> float:
    """The lam >= lam_min whose blend errors e0 + lam d have RMSE `target` (a quadratic in lam)."""
    a, b, c = np.mean(e0**2), np.mean(e0 * d), np.mean(d**2)
    disc = b * b - c * (a - target**2)
    if disc < 0:
        raise ValueError(f"no blend reaches RMSE {target:,.0f}")
    return float((-b + np.sqrt(disc)) / c)


@dataclass(frozen=True)
class Scenario:
    """A production and a candidate model, by their errors on the pooled rows."""

    pair: str  # "blend": the candidate shares production's seeds; "retrain": other seeds
    case: str  # "better", "equal" or "worse": the candidate's truth on the pooled rows
    delta: float
    production: np.ndarray
    candidate: np.ndarray

    @property
    def true_gain(self) -> float:
        return 1 - _rmse(self.candidate) / _rmse(self.production)


def scenarios(oof: OutOfFold, y: np.ndarray) -> list[Scenario]:
    """Pairs whose candidate is Delta better or worse on the pooled rows, or equal.

    A blend towards the weaker model, `default + lam * (weaker - default)`, sets the gap; its
    other side is the default itself (same seeds: only the gap differs row by row) or the
    reseeded default (a retrain's own noise on top of the gap, as between real versions).
    """
    e0, retrain = oof.default - y, oof.reseeded - y
    d = oof.weaker - oof.default
    out = []
    for pair, other in (("blend", e0), ("retrain", retrain)):
        for delta in DELTAS:
            weaker = e0 + blend_for(e0, d, _rmse(other) / (1 - delta)) * d
            out.append(Scenario(pair, "better", delta, weaker, other))
            worse = e0 + blend_for(e0, d, _rmse(other) * (1 + delta)) * d
            out.append(Scenario(pair, "worse", delta, other, worse))
    # the same configuration with other seeds, in both orders: truly equal on average
    out.append(Scenario("retrain", "equal", 0.0, e0, retrain))
    out.append(Scenario("retrain", "equal", 0.0, retrain, e0))
    return out


def gate_power(
    oof: OutOfFold, y: np.ndarray, min_improvement: float, resamples: int, seed: int = 0
) -> list[dict[str, object]]:
    """Each scenario on `resamples` held-out sets of each share, drawn with replacement."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    cases = scenarios(oof, y)
    for share in SHARES:
        n = round(share * len(y))
        draws = rng.integers(0, len(y), size=(resamples, n))
        for case in cases:
            rmse_p = np.sqrt(np.mean(case.production[draws] ** 2, axis=1))
            rmse_c = np.sqrt(np.mean(case.candidate[draws] ** 2, axis=1))
            promoted = rmse_c < rmse_p * (1 - min_improvement)
            difference = rmse_c - rmse_p
            row: dict[str, object] = {
                "share": share,
                "n": n,
                "pair": case.pair,
                "case": case.case,
                "delta": case.delta,
                "true_gain": round(case.true_gain, 4),
                "promoted": round(float(promoted.mean()), 3),
                "se_difference": round(float(difference.std(ddof=1))),
                "se_relative_difference": round(float((difference / rmse_p).std(ddof=1)), 4),
                "se_rmse_production": round(float(rmse_p.std(ddof=1))),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def gate_summary(rows: list[dict[str, object]], min_improvement: float) -> list[dict[str, object]]:
    """Per share: power and false promotion by pair and Delta, and the gain that 80 % power
    needs with a retrain's noise (normal approximation: gate + 0.84 se)."""
    out = []
    for share in SHARES:
        at = [r for r in rows if r["share"] == share]
        equal = [r for r in at if r["case"] == "equal"]
        se = float(np.mean([float(str(r["se_relative_difference"])) for r in equal]))
        summary: dict[str, object] = {
            "share": share,
            "n": at[0]["n"],
            "false_promotion_equal_retrain": round(
                float(np.mean([float(str(r["promoted"])) for r in equal])), 3
            ),
            "se_relative_difference_retrain": round(se, 4),
            "gain_for_80_percent_power": round(min_improvement + 0.8416 * se, 4),
            "se_rmse_one_model": equal[0]["se_rmse_production"],
        }
        for r in at:
            if r["case"] != "equal":
                key = "power" if r["case"] == "better" else "false_promotion"
                summary[f"{key}_{r['pair']}_{r['delta']}"] = r["promoted"]
        print(json.dumps(summary), flush=True)
        out.append(summary)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5, help="at most 5 (disjoint tenths)")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = load_settings()
    default = settings.model
    if not isinstance(default, HistGradientBoostingConfig):
        raise SystemExit("the power analysis compares the default boosted model's variants")
    configs: dict[str, HistGradientBoostingConfig] = {
        "default": default,
        "weaker": default.model_copy(update={"n_models": 1, "max_iter": 150}),
        # members seeded random_state + i: a shift by n_models shares none of them
        "reseeded": default.model_copy(
            update={"random_state": default.random_state + default.n_models}
        ),
    }
    frame = pd.read_csv(stack.data_source())
    tenth = tenths(frame, settings.split.salt)
    gains, oof = model_gain(frame, tenth, min(args.repetitions, TENTHS // 2), configs)
    y = frame[TARGET].to_numpy()
    scored = ~np.isnan(oof.default)
    oof_scored = OutOfFold(oof.default[scored], oof.weaker[scored], oof.reseeded[scored])
    min_improvement = settings.promotion.gates.min_improvement
    gate_summary(
        gate_power(oof_scored, y[scored], min_improvement, args.resamples), min_improvement
    )
    gain = paired([float(r["gain"]) for r in gains])
    summary = {
        "rows": len(frame),
        "pooled_rows": int(scored.sum()),
        "min_improvement": min_improvement,
        "gain_mean": round(gain["mean"]),
        "gain_se": round(gain["se"]),
        "gain_relative": round(gain["mean"] / np.mean([r["rmse_80"] for r in gains]), 4),
        "rmse_80_mean": round(float(np.mean([r["rmse_80"] for r in gains]))),
        "rmse_90_mean": round(float(np.mean([r["rmse_90"] for r in gains]))),
        "pooled_rmse": {
            name: round(_rmse(getattr(oof_scored, name) - y[scored]))
            for name in ("default", "weaker", "reseeded")
        },
        "fit_s_80_mean": round(float(np.mean([r["fit_and_predict_s_80"] for r in gains])), 1),
        "fit_s_90_mean": round(float(np.mean([r["fit_and_predict_s_90"] for r in gains])), 1),
    }
    print(json.dumps(summary), flush=True)
    print(json.dumps({"runtime_s": round(time.perf_counter() - started, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

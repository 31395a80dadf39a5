"""The data contract row by row, for rows that are scored rather than trained on.

A batch to score (or a request to serve) may hold rows that break the contract: a blank where
none is allowed, a value outside what a block group can take, a category never seen, text in
a numeric column. Each such row is named by the rules it breaks, counted per rule, and then
scored with a flag, left unscored, or refused with the whole batch: the caller's setting. The
target is optional and any other column passes through untouched. Columns the model needs
that are missing, and numeric columns without a single number in them (the wrong type, not
a few bad rows), refuse the batch: DataValidationError naming each.

The rules themselves are data.portable.rules, which housing-serve's workers run too.
"""

from __future__ import annotations

import pandas as pd

from housing_core.data.contract import contract_spec
from housing_core.data.portable import rules
from housing_core.data.portable.rules import Checked as RowCheck
from housing_core.data.portable.rules import describe_counts
from housing_core.data.validation import DataValidationError

__all__ = ["RowCheck", "check_rows", "describe_counts"]
SPEC = contract_spec()


def check_rows(frame: pd.DataFrame, source: str = "") -> RowCheck:
    """Check every feature of every row; refuse only what cannot be scored at all."""
    checked = rules.check(frame, SPEC)
    if checked.unusable:
        raise DataValidationError(list(checked.unusable), source)
    return checked

"""Chronos-2 input frames: covariates aligned to the horizon, checked before the model sees them.

Chronos-2 reads covariates from the frames it is given: columns only in the context frame are
past-only, columns in both frames are known in the future. Flags are fed as 0/1 floats because
Chronos target-encodes booleans and strings. Stock-out days are missing demand (NaN), not zero:
what sold while the shelf was empty says nothing about what customers wanted.

The calendar's ``planned_price`` is today's list price less each day's promotion discount: the plan
for the days after the data ends. A backtest cutoff is in the past, when today's list price was not
known; its items' planned price is re-based on the regular price known at the cutoff (see
:func:`plan_known_at`). Promotions are taken as given: the landing format has no date on which a
promotion was announced, so a backtest treats every promotion as known at every cutoff.

``predict_df`` would reject some bad frames itself, with a message about its own frames; the checks
here run first so that the error names the client, the item and the field a user can go and fix,
and so that series the model should not be trusted with are routed to the baselines instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

PAST_COVARIATES = ("price", "is_stockout")
FUTURE_COVARIATES = (
    "promo_flag",
    "promo_discount",
    "is_holiday",
    "days_to_holiday",
    "is_weekend",
    "planned_price",
)
EVENT_PREFIX = "event_"
ONE_DAY = pd.Timedelta(days=1)


class ForecastInputError(ValueError):
    """Input the model cannot be given; the message names the client, item and field."""

    def __init__(self, client_id: str, item_id: str, column: str, problem: str):
        self.client_id, self.item_id, self.field = client_id, item_id, column
        super().__init__(f"client '{client_id}', item '{item_id}', field '{column}': {problem}")


@dataclass(frozen=True)
class ChronosFrames:
    """The context (target and covariates up to the cutoff) and future (known covariates) frames."""

    context: pd.DataFrame
    future: pd.DataFrame
    future_covariates: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)  # item_id -> why it goes to the baselines

    @property
    def items(self) -> list[str]:
        return list(self.context["item_id"].unique())


def _numeric(frame: pd.DataFrame, column: str, client_id: str) -> pd.Series:
    """``column`` as floats, or an error naming the first row whose value is not a number."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        row = frame.loc[bad.idxmax()]
        raise ForecastInputError(
            client_id,
            str(row["item_id"]),
            column,
            f"non-numeric value {values[bad.idxmax()]!r} on {pd.Timestamp(row['date']).date()}",
        )
    return converted.astype(float)


def _check_dates(frame: pd.DataFrame, client_id: str, what: str) -> None:
    """One row per item and day, consecutive days (Chronos assumes a regular daily series)."""
    dupes = frame.duplicated(["item_id", "date"])
    if dupes.any():
        row = frame.loc[dupes.idxmax()]
        raise ForecastInputError(
            client_id, str(row["item_id"]), "date", f"duplicate {what} date {row['date'].date()}"
        )
    gaps = frame["date"].diff().where(frame["item_id"].eq(frame["item_id"].shift()))
    irregular = gaps.notna() & gaps.ne(ONE_DAY)
    if irregular.any():
        at = irregular.idxmax()
        raise ForecastInputError(
            client_id,
            str(frame.at[at, "item_id"]),
            "date",
            f"irregular {what} dates: {frame.at[at - 1, 'date'].date()} is followed by "
            f"{frame.at[at, 'date'].date()} (one row per day expected)",
        )


def _check_future(
    context: pd.DataFrame,
    future: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    covariates: tuple[str, ...],
    client_id: str,
) -> None:
    """Every item's context ends at the cutoff and its future rows are exactly the next ``horizon`` days."""
    last = context.groupby("item_id", sort=False)["date"].max()
    early = last[last != cutoff]
    if len(early):
        raise ForecastInputError(
            client_id,
            str(early.index[0]),
            "date",
            f"history ends {early.iloc[0].date()}, not at the cutoff {cutoff.date()}",
        )
    expected = pd.date_range(cutoff + ONE_DAY, periods=horizon, freq="D")
    extra = set(future["item_id"]) - set(last.index)
    if extra:
        raise ForecastInputError(
            client_id, sorted(extra)[0], "item_id", "future covariate rows for an item with no history"
        )
    # Dates are unique per item (checked) and within the horizon (filtered), so a count of
    # ``horizon`` means exact coverage: one vectorised count instead of a loop over items.
    counts = future.groupby("item_id", sort=False).size().reindex(last.index, fill_value=0)
    short = counts[counts != horizon]
    if len(short):
        item = short.index[0]
        got = pd.DatetimeIndex(future.loc[future["item_id"] == item, "date"])
        missing = expected.difference(got)
        problem = (
            f"future covariates must cover exactly {expected[0].date()}..{expected[-1].date()} "
            f"({horizon} days); got {len(got)} rows"
        )
        if len(missing):
            problem += f", missing {missing[0].date()}"
        raise ForecastInputError(client_id, str(item), "date", problem)
    for column in covariates:
        holes = future[column].isna()
        if holes.any():
            row = future.loc[holes.idxmax()]
            raise ForecastInputError(
                client_id,
                str(row["item_id"]),
                column,
                f"no known-future value for {row['date'].date()} (a future covariate must be known)",
            )


def regular_prices(history: pd.DataFrame, promo_flag: pd.DataFrame) -> pd.Series:
    """Each item's regular price at the end of ``history``: the last price observed on a day
    without a promotion, else the last price observed at all (an item seen only on promotion).

    ``history`` has item_id, date, price (sorted by item and date); ``promo_flag`` has item_id,
    date, promo_flag for (at least) the same days.
    """
    priced = history.loc[history["price"].notna(), ["item_id", "date", "price"]]
    flags = priced.merge(promo_flag[["item_id", "date", "promo_flag"]], on=["item_id", "date"], how="left")
    regular = priced[flags["promo_flag"].fillna(0).to_numpy() == 0].groupby("item_id", sort=False)["price"]
    return regular.last().combine_first(priced.groupby("item_id", sort=False)["price"].last())


def observed_after(calendar: pd.DataFrame, demand: pd.DataFrame, cutoff: pd.Timestamp) -> list[str]:
    """Items with days after ``cutoff`` that the data has already observed: the cutoff is in their
    past (a backtest, or a retrospective run), so today's list price was not known at it.

    The calendar's ``is_future`` (1 after the item's last day in the whole delivery) says which
    days were observed; a calendar without it falls back on the last day in ``demand``.
    """
    if "is_future" in calendar.columns:
        observed = calendar["is_future"].eq(0)
    else:
        observed = calendar["date"] <= calendar["item_id"].map(demand.groupby("item_id")["date"].max())
    return sorted(calendar.loc[observed & (calendar["date"] > cutoff), "item_id"].unique())


def plan_known_at(cal: pd.DataFrame, history: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """``cal`` with the planned price of ``items`` as known at the end of ``history`` (the cutoff):
    their regular price then (:func:`regular_prices`), less each day's promotion discount.

    Every day of those items is re-based, context and horizon alike, so the planned price does
    not jump at the cutoff from one price level to another. Other items keep the calendar's plan.
    """
    if not items:
        return cal
    base = cal["item_id"].map(regular_prices(history, cal))
    rebase = cal["item_id"].isin(items) & base.notna()
    out = cal.copy()
    out.loc[rebase, "planned_price"] = base[rebase] * (1 - out.loc[rebase, "promo_discount"])
    return out


def screen_series(context: pd.DataFrame, min_history: int) -> dict[str, str]:
    """Items the model should not be given, with the reason: all-missing or too little history.

    Only observed demand counts: stock-out days are missing, so an item that was out of stock
    for most of its short life has less history than its row count suggests.
    """
    observed = context["target"].notna().groupby(context["item_id"], sort=False).sum()
    total = context.groupby("item_id", sort=False).size()
    excluded = {}
    for item, n in observed.items():
        if n == 0:
            excluded[str(item)] = f"all {total[item]} days missing (stock-outs): no demand observed"
        elif n < min_history:
            excluded[str(item)] = f"{n} observed days, fewer than the minimum {min_history}"
    return excluded


def build_frames(
    demand: pd.DataFrame,
    calendar: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    *,
    client_id: str,
    events: pd.DataFrame | None = None,
    context_length: int | None = None,
    min_history: int = 1,
) -> ChronosFrames:
    """Checked context and future frames for the items of ``demand``, forecasting from ``cutoff``.

    ``demand`` has item_id, date, units_sold, price, is_stockout; ``calendar`` has item_id, date and
    the known-future covariates for history and horizon; ``events`` (optional) has date and
    ``event_*`` columns, shared by every item (a day not listed is a 0). Nothing after ``cutoff``
    reaches the context frame, so a backtest cannot peek; nor does a later price reach its
    planned price (:func:`plan_known_at`). The context is cut to the last
    ``context_length`` days, which is all the model reads. Items failing :func:`screen_series`
    are dropped from both frames and listed in ``excluded``.
    """
    cutoff = pd.Timestamp(cutoff)
    history = demand.loc[demand["date"] <= cutoff, ["item_id", "date", "units_sold", *PAST_COVARIATES]]
    history = history.sort_values(["item_id", "date"], kind="stable").reset_index(drop=True)
    for column in ("units_sold", *PAST_COVARIATES):
        history[column] = _numeric(history, column, client_id)
    _check_dates(history, client_id, "history")
    full_history = history
    if context_length:
        history = history.groupby("item_id", sort=False).tail(context_length).reset_index(drop=True)
    history["target"] = history["units_sold"].where(history["is_stockout"] == 0)

    items = history["item_id"].unique()
    end = cutoff + pd.Timedelta(days=horizon)
    cal = calendar.loc[
        calendar["item_id"].isin(items) & (calendar["date"] <= end), ["item_id", "date", *FUTURE_COVARIATES]
    ]
    covariates = FUTURE_COVARIATES
    if events is not None and len(events):
        event_columns = tuple(c for c in events.columns if c.startswith(EVENT_PREFIX))
        cal = cal.merge(events[["date", *event_columns]], on="date", how="left")
        cal[list(event_columns)] = cal[list(event_columns)].fillna(0.0)
        covariates = covariates + event_columns
    cal = cal.sort_values(["item_id", "date"], kind="stable").reset_index(drop=True)
    for column in covariates:
        cal[column] = _numeric(cal, column, client_id)
    _check_dates(cal, client_id, "calendar")
    cal = plan_known_at(cal, full_history, observed_after(calendar, demand, cutoff))

    context = history[["item_id", "date", "target", *PAST_COVARIATES]].merge(
        cal, on=["item_id", "date"], how="left"
    )
    future = cal[cal["date"] > cutoff].reset_index(drop=True)
    _check_future(context, future, cutoff, horizon, covariates, client_id)

    excluded = screen_series(context, min_history)
    if excluded:
        keep = ~context["item_id"].isin(list(excluded))
        context = context[keep].reset_index(drop=True)
        future = future[future["item_id"].isin(context["item_id"].unique())].reset_index(drop=True)
    context[list(covariates)] = context[list(covariates)].astype(float)
    return ChronosFrames(context=context, future=future, future_covariates=covariates, excluded=excluded)


def frame_rows(frames: ChronosFrames) -> int:
    """Series the model sees per item: the target plus every covariate (``predict_df``'s batch unit)."""
    return 1 + len(PAST_COVARIATES) + len(frames.future_covariates)

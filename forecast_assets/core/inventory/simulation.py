"""A daily simulation of the periodic-review order-up-to (R, S) policy, to prove it.

The policy's promise is a cycle service level: P(demand over L + R <= S). Whether the code keeps
it (mean rather than median, spread with its bias, L + R rather than L, rounding) is checked by
running it against demand whose distribution is known and counting the cycles that went short.
:class:`PeriodicReviewSimulation` is that clock; the decision at each review comes from outside
(``benchmarks/inventory_simulation.py`` and ``tests/test_inventory_simulation.py`` ask the core
policy), so the simulation tests the real decision code.

Conventions, the textbook's (Silver, Pyke and Thomas, ch. 6, backorders):

- day t: orders due that day arrive at its start; on a review day the order is placed next, then
  the day's demand is served from stock on hand; what stock cannot serve is backordered (net
  stock goes negative) and served when stock arrives;
- an order placed on review day t with lead time L arrives at the start of day t + L;
- review k's cycle ends just before the order of review k + 1 arrives, at the end of day
  t_k + R + L_{k+1} - 1; it had no stock-out when the net stock then is not negative, i.e. the
  demand of those L + R days did not exceed the position S set at review k. The share of such
  cycles is the achieved cycle service level;
- fill rate: demand served from stock on hand the day it occurs, over all demand;
- average on hand: mean end-of-day stock on hand (net stock when positive).

Orders must not cross (L_k - L_{k+1} < R), or "the next order" would arrive before this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimulationResult:
    """Per-item outcomes of a simulated (R, S) policy, over the reviews simulated."""

    cycles: np.ndarray  # review cycles checked per item
    cycles_short: np.ndarray  # of which ended with demand waiting (a stock-out)
    demand: np.ndarray  # total demand per item
    served_from_stock: np.ndarray  # demand served from stock on hand the day it occurred
    average_on_hand: np.ndarray  # mean end-of-day stock on hand per item

    def cycle_service_level(self, mask: np.ndarray | None = None) -> float:
        """Share of all review cycles (of the masked items) without a stock-out."""
        m = np.ones(len(self.cycles), bool) if mask is None else mask
        return float(1 - self.cycles_short[m].sum() / self.cycles[m].sum())

    def fill_rate(self, mask: np.ndarray | None = None) -> float:
        """Share of all demand (of the masked items) served from stock on hand."""
        m = np.ones(len(self.cycles), bool) if mask is None else mask
        total = self.demand[m].sum()
        return float(self.served_from_stock[m].sum() / total) if total > 0 else 1.0


class PeriodicReviewSimulation:
    """Many items on one daily clock, reviewed every ``review_period`` days (backorders).

    ``demand``: (items, days) true daily demand, covering ``reviews * R + R + max lead`` days;
    ``lead_times``: (items, reviews + 1) integer lead time of each review's order (the extra
    column is the lead time of the order after the last review, which ends its cycle);
    ``initial_net``: net stock on hand at day 0, nothing on order.
    """

    def __init__(
        self, demand: np.ndarray, lead_times: np.ndarray, review_period: int, initial_net: np.ndarray
    ) -> None:
        self.demand = np.asarray(demand, dtype=float)
        self.lead_times = np.asarray(lead_times, dtype=int)
        self.review_period = int(review_period)
        items, days = self.demand.shape
        reviews = self.lead_times.shape[1] - 1
        if days < reviews * review_period + review_period + int(self.lead_times.max()):
            raise ValueError("demand must cover every review's cycle")
        if (self.lead_times[:, :-1] - self.lead_times[:, 1:] >= review_period).any():
            raise ValueError("orders would cross: a lead time shrinks by R or more between reviews")
        self.net = np.asarray(initial_net, dtype=float).copy()
        self.arrivals = np.zeros((items, days + int(self.lead_times.max()) + 1))
        self.net_end = np.full((items, days), np.nan)  # net stock at the end of each day
        self.served = np.zeros(items)
        self.day = 0
        self.review = 0

    @property
    def position(self) -> np.ndarray:
        """Inventory position at the start of today: net stock plus everything on order (today's
        arrivals included)."""
        return self.net + self.arrivals[:, self.day :].sum(axis=1)

    def review_and_advance(self, order_qty: np.ndarray) -> None:
        """Place this review's orders (arriving after each item's lead time), then run R days."""
        lead = self.lead_times[:, self.review]
        rows = np.arange(len(lead))
        np.add.at(self.arrivals, (rows, self.day + lead), np.clip(order_qty, 0.0, None))
        self.review += 1
        self._run_days(self.review_period)

    def _run_days(self, n: int) -> None:
        for _ in range(n):
            self.net += self.arrivals[:, self.day]
            self.arrivals[:, self.day] = 0.0
            d = self.demand[:, self.day]
            self.served += np.minimum(d, np.clip(self.net, 0.0, None))
            self.net -= d
            self.net_end[:, self.day] = self.net
            self.day += 1

    def result(self) -> SimulationResult:
        """Run the days that close the last cycles (no more orders), then score the reviews done."""
        reviews, r = self.review, self.review_period
        horizon = reviews * r
        served = self.served.copy()  # the days after the horizon only close cycles
        check_days = np.arange(reviews)[None, :] * r + r + self.lead_times[:, 1 : reviews + 1] - 1
        self._run_days(int(check_days.max()) + 1 - self.day)
        short = np.take_along_axis(self.net_end, check_days, axis=1) < 0
        demand = self.demand[:, :horizon].sum(axis=1)
        on_hand = np.clip(self.net_end[:, :horizon], 0.0, None).mean(axis=1)
        return SimulationResult(
            cycles=np.full(len(self.net), reviews),
            cycles_short=short.sum(axis=1),
            demand=demand,
            served_from_stock=served,
            average_on_hand=on_hand,
        )

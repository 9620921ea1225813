"""The champion-challenger rule as a decision table: one row per branch of ``decide_champion``."""

import math

import pandas as pd
import pytest

from forecast_assets.core.evaluation.champions import (
    ChampionSituation,
    choose_champions,
    decide_champion,
    item_situation,
)

NAN = float("nan")
MODELS = frozenset({"chronos-2", "auto_ets", "seasonal_naive"})


@pytest.mark.parametrize(
    ("situation", "champion", "reason"),
    [
        pytest.param(
            ChampionSituation(MODELS, incumbent="auto_ets"),
            "auto_ets",
            "no holdout score: kept incumbent auto_ets",
            id="no-score-incumbent-available",
        ),
        pytest.param(
            ChampionSituation(frozenset({"seasonal_naive", "auto_ets"}), incumbent="chronos-2"),
            "auto_ets",
            "no holdout score: fallback order",
            id="no-score-fallback-order",
        ),
        pytest.param(
            ChampionSituation(frozenset({"zeta", "alpha"})),
            "alpha",
            "no holdout score: fallback order",
            id="no-score-unknown-models-by-name",
        ),
        pytest.param(
            ChampionSituation(frozenset()),
            None,
            "no holdout score: fallback order",
            id="no-score-no-candidate",
        ),
        pytest.param(
            ChampionSituation(MODELS, best="auto_ets", challenger="auto_ets", challenger_score=1.0),
            "auto_ets",
            "lowest holdout MAE",
            id="no-incumbent",
        ),
        pytest.param(
            ChampionSituation(
                MODELS - {"chronos-2"},
                best="auto_ets",
                incumbent="chronos-2",
                challenger="auto_ets",
                challenger_score=1.0,
            ),
            "auto_ets",
            "incumbent chronos-2 has no current forecast; lowest holdout MAE",
            id="incumbent-without-forecast",
        ),
        pytest.param(
            ChampionSituation(
                MODELS, best="auto_ets", incumbent="chronos-2", challenger="auto_ets", challenger_score=1.0
            ),
            "auto_ets",
            "incumbent chronos-2 has no holdout MAE; lowest holdout MAE",
            id="incumbent-without-score",
        ),
        pytest.param(
            ChampionSituation(MODELS, best="chronos-2", incumbent="chronos-2", incumbent_score=1.0),
            "chronos-2",
            "kept incumbent chronos-2: no challenger scored",
            id="no-challenger",
        ),
        pytest.param(
            ChampionSituation(
                MODELS,
                best="auto_ets",
                incumbent="chronos-2",
                incumbent_score=10.0,
                challenger="auto_ets",
                challenger_score=8.0,
                margin=0.1,
            ),
            "auto_ets",
            "challenger auto_ets replaced incumbent chronos-2: 20.0% better on MAE, margin 10%",
            id="challenger-beats-margin",
        ),
        pytest.param(
            ChampionSituation(
                MODELS,
                best="auto_ets",
                incumbent="chronos-2",
                incumbent_score=10.0,
                challenger="auto_ets",
                challenger_score=9.5,
                margin=0.1,
                label="WAPE",
            ),
            "chronos-2",
            "kept incumbent chronos-2: challenger auto_ets only 5.0% better on WAPE, margin 10%",
            id="challenger-under-margin",
        ),
        pytest.param(
            ChampionSituation(
                MODELS,
                best="chronos-2",
                incumbent="chronos-2",
                incumbent_score=8.0,
                challenger="auto_ets",
                challenger_score=8.0,
            ),
            "chronos-2",
            "kept incumbent chronos-2: lowest holdout MAE",
            id="incumbent-best",
        ),
    ],
)
def test_decide_champion_table(situation, champion, reason):
    assert decide_champion(situation) == (champion, reason)


def test_improvement_is_relative_and_zero_on_a_perfect_incumbent():
    s = ChampionSituation(MODELS, incumbent="a", incumbent_score=10.0, challenger="b", challenger_score=7.5)
    assert s.improvement == pytest.approx(0.25)
    assert ChampionSituation(MODELS, incumbent="a", incumbent_score=0.0, challenger="b").improvement == 0.0
    assert math.isnan(ChampionSituation(MODELS, incumbent="a", incumbent_score=1.0).improvement)
    assert math.isnan(ChampionSituation(MODELS, challenger="b", challenger_score=1.0).improvement)


def test_item_situation_ranks_scored_candidates_only_with_fallback_tie_break():
    scores = {"seasonal_naive": 5.0, "chronos-2": 5.0, "auto_ets": NAN, "stale": 1.0}
    s = item_situation(scores, set(MODELS), "seasonal_naive", 0.05, "MAE")
    # "stale" has no current forecast; auto_ets has no score; the tie goes to chronos-2.
    assert (s.best, s.challenger, s.challenger_score, s.incumbent_score) == (
        "chronos-2",
        "chronos-2",
        5.0,
        5.0,
    )
    assert decide_champion(s) == ("seasonal_naive", "kept incumbent seasonal_naive: lowest holdout MAE")


def test_choose_champions_reports_the_situation_it_decided_on():
    accuracy = pd.DataFrame(
        {
            "level": "item",
            "item_id": ["A", "A"],
            "model": ["chronos-2", "auto_ets"],
            "mae": [10.0, 8.0],
        }
    )
    row = choose_champions(accuracy, ["A"], {"A": set(MODELS)}, incumbents={"A": "chronos-2"}, margin=0.1)
    row = row.iloc[0]
    assert (row.champion_model, row.previous_champion, row.challenger_model) == (
        "auto_ets",
        "chronos-2",
        "auto_ets",
    )
    assert row.selection_score == 8.0 and row.improvement == pytest.approx(0.2)
    assert row.reason == "challenger auto_ets replaced incumbent chronos-2: 20.0% better on MAE, margin 10%"

"""The dbt vars of one client's build: the partition key becomes a SQL literal in every model, so
only a valid client key ever reaches dbt."""

import pytest

from forecast_assets.core.clients import InvalidClientKey
from forecast_assets.defs.dbt.assets import dbt_vars


@pytest.mark.parametrize(
    ("partition_key", "horizon", "holiday_country", "expected"),
    [
        ("acme", 28, "US", {"client_id": "acme", "horizon": 28, "holiday_country": "US"}),
        ("shop_1", 7, "DE", {"client_id": "shop_1", "horizon": 7, "holiday_country": "DE"}),
        ("9lives", 1, "GB", {"client_id": "9lives", "horizon": 1, "holiday_country": "GB"}),
        ("a" * 63, 90, "US", {"client_id": "a" * 63, "horizon": 90, "holiday_country": "US"}),
    ],
)
def test_a_valid_client_key_becomes_the_client_var(partition_key, horizon, holiday_country, expected):
    assert dbt_vars(partition_key, horizon, holiday_country) == expected


@pytest.mark.parametrize(
    "partition_key",
    [
        "",
        "Acme",  # upper case
        "_acme",  # must start with a letter or digit
        "acme-north",  # hyphen
        "acme'; drop table raw.sales; --",  # would break out of the SQL literal
        "../etc",
        "a" * 64,  # too long
        "acme\n",
    ],
)
def test_an_invalid_client_key_never_reaches_dbt(partition_key):
    with pytest.raises(InvalidClientKey):
        dbt_vars(partition_key, 28, "US")

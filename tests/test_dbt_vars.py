"""The dbt vars of one client's build: the partition key becomes a SQL literal in every model, so
only a valid client key ever reaches dbt."""

import pytest

from forecast_assets.core.clients import InvalidClientKey
from forecast_assets.defs.dbt.assets import dbt_vars


@pytest.mark.parametrize(
    ("partition_key", "horizon", "expected"),
    [
        ("acme", 28, {"client_id": "acme", "horizon": 28}),
        ("shop_1", 7, {"client_id": "shop_1", "horizon": 7}),
        ("9lives", 1, {"client_id": "9lives", "horizon": 1}),
        ("a" * 63, 90, {"client_id": "a" * 63, "horizon": 90}),
    ],
)
def test_a_valid_client_key_becomes_the_client_var(partition_key, horizon, expected):
    assert dbt_vars(partition_key, horizon) == expected


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
        dbt_vars(partition_key, 28)

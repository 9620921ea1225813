import pytest

from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.core.landing.validation import client_landing_dir


@pytest.mark.parametrize("key", ["acme", "m5_ca_1", "0shop", "a" * 63])
def test_valid_client_keys_pass_unchanged(key):
    assert validate_client_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "Acme", "_acme", "../etc", "a/b", "acme'; drop table raw.sales; --", "a" * 64, "shop-1", " acme"],
)
def test_invalid_client_keys_are_refused(key):
    with pytest.raises(InvalidClientKey, match="invalid client key"):
        validate_client_key(key)


def test_client_key_is_validated_before_it_becomes_a_path(tmp_path):
    with pytest.raises(InvalidClientKey):
        client_landing_dir(tmp_path, "../outside")
    assert client_landing_dir(tmp_path, "acme") == tmp_path / "acme"

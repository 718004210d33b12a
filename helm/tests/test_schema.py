"""values.schema.json accepts the shipped values and every test value set, and rejects bad
values with a message naming the key."""

from __future__ import annotations

import helm_python as helm
import pytest

from conftest import CHART, VALUE_SETS


@pytest.fixture(scope="module")
def chart():
    return helm.Chart.load(str(CHART))


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_value_sets_are_valid(chart, value_set):
    chart.validate_schema(chart.merge_values(VALUE_SETS[value_set]))


BAD_VALUES = [
    ({"keyservice": {"replicaCount": 0}}, "/keyservice/replicaCount"),
    ({"keyservice": {"rootKey": {"provider": "env"}}}, "/keyservice/rootKey/provider"),
    ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"integrationservice": {"jwt": {"jwksUrl": "http://idp.example/jwks"}}}, "/integrationservice/jwt/jwksUrl"),
    ({"integrationservice": {"tenantPolicy": {"principals": [{"id": "cn:crm", "tenants": []}]}}},
     "/integrationservice/tenantPolicy/principals/0/tenants"),
    ({"networkPolicy": {"enabled": "yes"}}, "/networkPolicy/enabled"),
    ({"keyservice": {"image": {"repository": "keyservice", "digest": "sha256:nothex"}}}, "/keyservice/image/digest"),
    ({"tls": {"certManager": {"issuerRef": {"name": "ca", "kind": "Secret"}}}}, "/tls/certManager/issuerRef/kind"),
    ({"keyservice": {"policy": [{"identity": "x", "operations": [], "keys": ["k"]}]}}, "/keyservice/policy/0/operations"),
    ({"keyservice": {"databse": {}}}, "databse"),
    # Without mTLS the service has no way to authenticate callers unless JWTs are configured.
    ({"integrationservice": {"tls": {"mtls": False}}}, "/integrationservice/jwt/issuer"),
]


def test_jwt_only_is_accepted(chart):
    chart.validate_schema(chart.merge_values({"integrationservice": {
        "tls": {"mtls": False},
        "jwt": {"issuer": "https://idp.example", "audience": "webinar", "jwksUrl": "https://idp.example/jwks"},
    }}))


@pytest.mark.parametrize(("values", "where"), BAD_VALUES, ids=[w for _, w in BAD_VALUES])
def test_bad_values_are_rejected(chart, values, where):
    with pytest.raises(helm.HelmValuesError) as error:
        chart.validate_schema(chart.merge_values(values))
    assert where in str(error.value)

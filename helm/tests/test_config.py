"""The config files the chart renders fit the services: valid TOML, and every key is one the
service knows (its embedded defaults in <service>/src/config.rs), so a renamed key in the
service fails here instead of at the pod's start."""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest

from conftest import VALUE_SETS, find

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULTS = re.compile(r'pub const DEFAULTS: &str = r#"(.*?)"#;', re.S)


def service_defaults(service: str) -> dict:
    source = REPO / service / "src" / "config.rs"
    if not source.is_file():
        pytest.skip(f"{source} does not exist")
    match = DEFAULTS.search(source.read_text())
    assert match, f"no DEFAULTS TOML in {source}"
    return tomllib.loads(match.group(1))


def unknown_keys(rendered: dict, known: dict, prefix: str = "") -> list[str]:
    bad = []
    for key, value in rendered.items():
        if key not in known:
            bad.append(prefix + key)
        elif isinstance(value, dict):
            bad += unknown_keys(value, known[key], f"{prefix}{key}.")
    return bad


def wrong_types(rendered: dict, known: dict, prefix: str = "") -> list[str]:
    """Keys whose rendered TOML type differs from the default's (e.g. 30.0 for an integer)."""
    bad = []
    for key, value in rendered.items():
        if key not in known:
            continue
        if isinstance(value, dict):
            bad += wrong_types(value, known[key], f"{prefix}{key}.")
        elif type(value) is not type(known[key]):
            bad.append(f"{prefix}{key}={value!r} (default {known[key]!r})")
    return bad


def config_of(docs: list[dict], component: str, name: str = "config.toml") -> dict:
    (cm,) = [c for c in find(docs, "ConfigMap", component)]
    return tomllib.loads(cm["data"][name])


@pytest.mark.parametrize("service", ["keyservice", "integrationservice"])
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_config_uses_only_known_keys(manifests, service, value_set):
    known = service_defaults(service)
    for component in (service, f"{service}-migrate"):
        rendered = config_of(manifests[value_set], component)
        assert not unknown_keys(rendered, known), unknown_keys(rendered, known)
        assert not wrong_types(rendered, known), wrong_types(rendered, known)
        # The URL with the password is never in the file, only in the env var.
        assert "url" not in rendered.get("database", {})


def test_keyservice_config(manifests):
    config = config_of(manifests["default"], "keyservice")
    assert config["listen"] == {"main": "0.0.0.0:7443", "health": "0.0.0.0:7080"}
    assert config["root_key"]["source"] == "file:/var/run/secrets/webinar/root-key/root-key"
    # With an HSM root key the audit key is a mounted Secret (it cannot be derived).
    assert (
        config_of(manifests["pkcs11-digests"], "keyservice")["audit"]["key"]
        == "file:/var/run/secrets/webinar/audit-key/audit-key"
    )
    pkcs11 = config_of(manifests["pkcs11-digests"], "keyservice")["root_key"]["source"]
    assert pkcs11.startswith("pkcs11:token=webinar;object=webinar-root?module-path=")
    assert pkcs11.endswith("&pin-source=file:/var/run/secrets/webinar/pkcs11-pin/pin")
    policy = tomllib.loads(find(manifests["default"], "ConfigMap", "keyservice")[0]["data"]["policy.toml"])
    assert policy["rule"][0]["identity"] == "spiffe://webinar.local/integrationservice"
    assert policy["rule"][0]["keys"] == ["on24-credentials"]
    assert policy["rule"][1]["keys"] == ["tenant-*"]
    assert "admin:*" not in policy["rule"][1]["operations"]


def test_integrationservice_config(manifests):
    config = config_of(manifests["default"], "integrationservice")
    assert config["listen"] == {"grpc": "0.0.0.0:8443", "health": "0.0.0.0:8080"}
    assert config["keyservice"]["endpoint"] == "https://webinar-keyservice.webinar.svc:7443"
    assert config["keyservice"]["cert_file"].startswith("/var/run/secrets/webinar/keyservice-client/")
    # The migration Jobs migrate; the pods don't race them.
    assert config["database"]["migrate_on_start"] is False
    assert config["on24"]["allow_loopback"] is False
    assert config_of(manifests["on24sim"], "integrationservice")["on24"]["allow_loopback"] is True
    policy = tomllib.loads(find(manifests["default"], "ConfigMap", "integrationservice")[0]["data"]["tenant-policy.toml"])
    assert policy == {}, "deny by default: no principal unless the operator lists one"


def test_numbers_from_values_stay_integers():
    from conftest import objects, render

    docs = objects(render({"integrationservice": {"config": {"database": {"max_connections": 32}, "workers": {"concurrency": 8}}},
                           "keyservice": {"config": {"limits": {"rate_per_second": 2000}}}}))
    config = config_of(docs, "integrationservice")
    assert config["database"]["max_connections"] == 32 and isinstance(config["database"]["max_connections"], int)
    assert isinstance(config["jwt"]["leeway_seconds"], int)
    assert not wrong_types(config, service_defaults("integrationservice"))
    ks = config_of(docs, "keyservice")
    assert ks["limits"]["rate_per_second"] == 2000 and isinstance(ks["limits"]["rate_per_second"], int)


def test_tenant_policy_and_page_token_key_from_values():
    from conftest import objects, render

    docs = objects(render({"integrationservice": {
        "tenantPolicy": {"principals": [{"id": "spiffe://webinar.local/crm/acme", "tenants": ["acme"]}]},
        "pageTokenKey": {"existingSecret": "page-key"},
    }}))
    (cm,) = find(docs, "ConfigMap", "integrationservice")
    policy = tomllib.loads(cm["data"]["tenant-policy.toml"])
    assert policy["principal"] == [{"id": "spiffe://webinar.local/crm/acme", "tenants": ["acme"]}]
    config = tomllib.loads(cm["data"]["config.toml"])
    assert config["api"]["page_token_key_file"] == "/var/run/secrets/webinar/page-token-key/page-token-key"
    (deploy,) = find(docs, "Deployment", "integrationservice")
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert volumes["page-token-key"]["secret"]["secretName"] == "page-key"


def test_page_token_key_is_generated_and_shared_when_none_is_named(manifests):
    """Without an existingSecret every replica still signs page tokens with one key: the
    chart's own Secret, mounted by the Deployment and named in the configuration."""
    import base64

    for value_set in ("default", "autoscaling"):
        docs = manifests[value_set]
        secrets = [s for s in find(docs, "Secret") if s["metadata"]["name"] == "webinar-integrationservice-page-token"]
        assert len(secrets) == 1, value_set
        (secret,) = secrets
        key = base64.b64decode(secret["data"]["page-token-key"])
        assert len(key) >= 32, "at least the 32 bytes the service requires"
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        (deploy,) = find(docs, "Deployment", "integrationservice")
        volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
        assert volumes["page-token-key"]["secret"]["secretName"] == "webinar-integrationservice-page-token"
        (cm,) = find(docs, "ConfigMap", "integrationservice")
        config = tomllib.loads(cm["data"]["config.toml"])
        assert config["api"]["page_token_key_file"] == "/var/run/secrets/webinar/page-token-key/page-token-key"


def test_a_named_page_token_secret_replaces_the_generated_one():
    from conftest import objects, render

    docs = objects(render({"integrationservice": {"pageTokenKey": {"existingSecret": "page-key"}}}))
    assert not [s for s in find(docs, "Secret") if s["metadata"]["name"].endswith("-page-token")]


def test_integrationservice_audit_key_from_a_secret():
    """The access audit's key is a mounted Secret named in audit.key; without one the service
    makes a random key per process (no audit.key rendered, no volume)."""
    from conftest import objects, render

    docs = objects(render({"integrationservice": {"audit": {"keySecret": "is-audit-key"}}}))
    config = config_of(docs, "integrationservice")
    assert config["audit"]["key"] == "file:/var/run/secrets/webinar/audit-key/audit-key"
    (deploy,) = find(docs, "Deployment", "integrationservice")
    pod = deploy["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["audit-key"]["secret"]["secretName"] == "is-audit-key"
    assert volumes["audit-key"]["secret"]["defaultMode"] == 0o440
    mounts = {m["name"]: m for c in pod["containers"] for m in c.get("volumeMounts", [])}
    assert mounts["audit-key"]["mountPath"] == "/var/run/secrets/webinar/audit-key"
    default = config_of(objects(render({})), "integrationservice")
    assert "audit" not in default

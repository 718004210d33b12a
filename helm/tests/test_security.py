"""Security properties of the rendered objects: hardened pods, probes, NetworkPolicies that
let only integrationservice reach keyservice, and no secret in any ConfigMap."""

from __future__ import annotations

import re

import pytest

from conftest import CHART as CHART_DIR, VALUE_SETS, find, pod_specs, render, objects

HEALTH_PORT = {"keyservice": 7080, "integrationservice": 8080}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_pods_are_hardened(manifests, value_set):
    specs = pod_specs(manifests[value_set])
    assert specs
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert isinstance(pod_sc["runAsUser"], int) and pod_sc["runAsUser"] > 0, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc.get("privileged", False) is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
            assert container["resources"]["limits"]["memory"], name
            assert container["resources"]["requests"]["cpu"], name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_services_have_grpc_probes_on_the_health_port(manifests, value_set):
    for component, port in HEALTH_PORT.items():
        (deploy,) = find(manifests[value_set], "Deployment", component)
        (container,) = [c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == component]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"]["port"] == port, (component, probe)


def test_pods_roll_when_config_changes():
    def checksum(values):
        docs = objects(render(values))
        return {
            d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in find(docs, "Deployment")
        }

    before = checksum({})
    after = checksum(
        {"keyservice": {"policy": [{"identity": "spiffe://x/y", "operations": ["wrap"], "keys": ["k"]}]}}
    )
    assert before["keyservice"] != after["keyservice"]
    assert before["integrationservice"] == after["integrationservice"]


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_only_integrationservice_reaches_keyservice(manifests, value_set):
    docs = manifests[value_set]
    (ks,) = find(docs, "Deployment", "keyservice")
    (isvc,) = find(docs, "Deployment", "integrationservice")
    ks_labels = ks["spec"]["template"]["metadata"]["labels"]
    is_labels = isvc["spec"]["template"]["metadata"]["labels"]

    policies = [p for p in find(docs, "NetworkPolicy") if _selects(p["spec"]["podSelector"], ks_labels)]
    assert len(policies) == 1, "exactly one NetworkPolicy selects the keyservice pods"
    (policy,) = policies
    assert "Ingress" in policy["spec"]["policyTypes"] and "Egress" in policy["spec"]["policyTypes"]
    rules = policy["spec"]["ingress"]
    assert rules, "an empty ingress list would deny the integrationservice too"
    for rule in rules:
        assert [p["port"] for p in rule["ports"]] == [7443]
        assert rule.get("from"), "a rule without 'from' admits every source"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, "no namespaceSelector or ipBlock peers"
            assert _selects(peer["podSelector"], is_labels)
            assert not _selects(peer["podSelector"], ks_labels)
            assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "integrationservice"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_integrationservice_egress_is_limited(manifests, value_set):
    docs = manifests[value_set]
    (policy,) = [p for p in find(docs, "NetworkPolicy", "integrationservice")]
    ports = sorted({p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]})
    # With the simulator sidecar ON24 is inside the pod: no egress to 443 (nor to 9080).
    expected = {53, 5432, 7443} | (set() if value_set == "on24sim" else {443})
    if VALUE_SETS[value_set].get("otel", {}).get("endpoint"):
        expected.add(4317)
    assert set(ports) == expected
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), "every egress rule names its destination"


def test_on24_egress_excludes_internal_ranges(manifests):
    """The ON24 egress rule on 443 leaves out every range no ON24 host lives in."""
    (policy,) = [p for p in find(manifests["default"], "NetworkPolicy", "integrationservice")]
    (rule,) = [r for r in policy["spec"]["egress"] if any(p["port"] == 443 for p in r["ports"])]
    blocks = {peer["ipBlock"]["cidr"]: set(peer["ipBlock"].get("except", [])) for peer in rule["to"]}
    assert blocks["0.0.0.0/0"] >= {
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
    }
    assert blocks["::/0"] >= {"fc00::/7", "fe80::/10", "::1/128"}


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"postgres(ql)?://[^/\s]*:[^@\s]*@", re.I),  # a URL with a password
    re.compile(r"(password|passwd|secret|token|pin)\s*=\s*\"[^\"]+\"", re.I),
    re.compile(r"env:[A-Z_]+"),  # root key or HMAC key in an env var is development only
]


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_secret_in_any_configmap(manifests, value_set):
    configmaps = find(manifests[value_set], "ConfigMap")
    assert configmaps
    for cm in configmaps:
        for key, text in cm.get("data", {}).items():
            for pattern in SECRET_PATTERNS:
                assert not pattern.search(text), f'{cm["metadata"]["name"]}/{key} matches {pattern.pattern}'
    # The database URLs reach the pods only through secretKeyRef.
    for _, spec in pod_specs(manifests[value_set]):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if env["name"].endswith("DATABASE__URL"):
                    assert "secretKeyRef" in env["valueFrom"] and "value" not in env


def test_secret_patterns_do_catch_secrets():
    # The scan above must be able to fail: feed it what a careless value would render.
    leaked = objects(render({"keyservice": {"config": {"database": {"url": "postgres://ks:hunter2@db:5432/ks"}}}}))
    texts = [t for cm in find(leaked, "ConfigMap") for t in cm["data"].values()]
    assert any(p.search(t) for p in SECRET_PATTERNS for t in texts)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_chart_secret_holds_values(manifests, value_set):
    # Secrets are created by the operator or cert-manager, never templated with values. The
    # one exception holds no value: the page-token key the chart generates (random, read back
    # on upgrades) when the operator names no Secret of their own.
    secrets = find(manifests[value_set], "Secret")
    assert [s["metadata"]["name"] for s in secrets] in ([], ["webinar-integrationservice-page-token"])
    template = (CHART_DIR / "templates" / "integrationservice-pagetokenkey-secret.yaml").read_text()
    assert "randAlphaNum" in template and ".Values" not in template.split("data:")[1].replace(
        ".Values.integrationservice.pageTokenKey.secretKey", ""
    ).replace("$is.pageTokenKey.secretKey", "")


def test_root_key_file_is_mounted_read_only_and_not_world_readable(manifests):
    (ks,) = find(manifests["default"], "Deployment", "keyservice")
    spec = ks["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "root-key"]
    assert volume["secret"]["defaultMode"] & 0o007 == 0
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "root-key"]
    assert mount["readOnly"] is True
    (pkcs11,) = find(manifests["pkcs11-digests"], "Deployment", "keyservice")
    assert not [v for v in pkcs11["spec"]["template"]["spec"]["volumes"] if v["name"] == "root-key"]


def test_database_egress_must_be_named():
    """No default opens the database port to every address: without peers the render fails
    and says which value to set."""
    with pytest.raises(Exception, match=r"database\.networkPolicyPeers is required"):
        render({}, with_database=False)
    # Without network policies there is nothing to open, so nothing is required.
    render({"networkPolicy": {"enabled": False}}, with_database=False)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_database_egress_goes_to_the_named_peers_only(manifests, value_set):
    for policy in find(manifests[value_set], "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            if any(p.get("port") == 5432 for p in rule.get("ports", [])):
                cidrs = {peer["ipBlock"]["cidr"] for peer in rule["to"]}
                assert cidrs <= {"10.20.0.5/32", "10.20.0.6/32"}, policy["metadata"]["name"]
                assert "0.0.0.0/0" not in cidrs

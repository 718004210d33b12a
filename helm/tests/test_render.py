"""The chart lints cleanly and renders valid Kubernetes objects for every value set."""

from __future__ import annotations

import helm_python as helm
import kubernetes_validate
import pytest

from conftest import CHART, KUBE_VERSION, NAMESPACE, VALUE_SETS, find

# Kinds that are CRDs (no schema in kubernetes-validate); their shape is checked below.
CRD_KINDS = {"Certificate", "PrometheusRule"}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_is_clean(value_set):
    report = helm.lint(
        str(CHART),
        VALUE_SETS[value_set],
        strict=True,
        namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}",
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_object_matches_the_kubernetes_schema(manifests, value_set):
    docs = manifests[value_set]
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        # strict: unknown fields are errors too (catches typos such as "readinesProbe").
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_expected_objects_per_value_set(manifests):
    default = manifests["default"]
    assert len(find(default, "Deployment")) == 2
    assert len(find(default, "Certificate")) == 3
    assert not find(default, "HorizontalPodAutoscaler")
    assert len(find(default, "PodDisruptionBudget")) == 2
    assert {j["metadata"]["labels"]["app.kubernetes.io/component"] for j in find(default, "Job")} == {
        "keyservice-migrate",
        "integrationservice-migrate",
    }
    assert not find(manifests["provided-secrets"], "Certificate")
    assert len(find(manifests["autoscaling"], "HorizontalPodAutoscaler", "integrationservice")) == 1
    # The simulator is a sidecar, not a Deployment or Service of its own.
    assert not find(manifests["on24sim"], "Deployment", "on24sim")
    assert not find(manifests["on24sim"], "Service", "on24sim")


def test_simulator_mode_is_a_loopback_sidecar(manifests):
    """The ON24 simulator listens on the integrationservice pod's loopback address only, and the
    service reaches it through the operator-only allow_loopback flag, not a cluster host."""
    import tomllib

    (deploy,) = find(manifests["on24sim"], "Deployment", "integrationservice")
    containers = {c["name"]: c for c in deploy["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"integrationservice", "on24sim"}
    sim = containers["on24sim"]
    assert sim["args"] == ["--listen", "127.0.0.1:9080"]
    assert "ports" not in sim, "nothing outside the pod reaches the simulator"
    assert sim["securityContext"]["readOnlyRootFilesystem"] is True
    (cm,) = find(manifests["on24sim"], "ConfigMap", "integrationservice")
    config = tomllib.loads(cm["data"]["config.toml"])
    assert config["on24"]["allow_loopback"] is True
    (default,) = find(manifests["default"], "Deployment", "integrationservice")
    assert [c["name"] for c in default["spec"]["template"]["spec"]["containers"]] == ["integrationservice"]
    (default_cm,) = find(manifests["default"], "ConfigMap", "integrationservice")
    assert tomllib.loads(default_cm["data"]["config.toml"])["on24"]["allow_loopback"] is False


def test_hpa_owns_the_replica_count(manifests):
    (deploy,) = find(manifests["autoscaling"], "Deployment", "integrationservice")
    assert "replicas" not in deploy["spec"]
    (hpa,) = find(manifests["autoscaling"], "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)


def test_migration_jobs_are_pre_install_and_pre_upgrade_hooks(manifests):
    for job in find(manifests["default"], "Job"):
        hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
        assert sorted(hooks) == ["pre-install", "pre-upgrade"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"][0] == "migrate"
        # What the Job mounts must exist before it: hooks with a lower weight.
        weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        (config,) = [v["configMap"]["name"] for v in job["spec"]["template"]["spec"]["volumes"]]
        (cm,) = [c for c in find(manifests["default"], "ConfigMap") if c["metadata"]["name"] == config]
        assert "pre-install" in cm["metadata"]["annotations"]["helm.sh/hook"]
        assert int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight


def test_certificates(manifests):
    certs = {c["metadata"]["name"]: c for c in find(manifests["default"], "Certificate")}
    client = certs["webinar-integrationservice-keyservice-client"]["spec"]
    assert client["uris"] == ["spiffe://webinar.local/integrationservice"]
    assert "client auth" in client["usages"]
    ks = certs["webinar-keyservice"]["spec"]
    assert "webinar-keyservice.webinar.svc" in ks["dnsNames"]
    for cert in certs.values():
        assert cert["spec"]["issuerRef"]["name"] == "webinar-ca"
        assert cert["spec"]["privateKey"]["rotationPolicy"] == "Always"


def test_provided_secrets_are_mounted(manifests):
    (ks,) = find(manifests["provided-secrets"], "Deployment", "keyservice")
    secrets = {v["name"]: v["secret"]["secretName"] for v in ks["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert secrets["tls"] == "ks-server"
    assert secrets["client-ca"] == "ks-client-ca"
    (isvc,) = find(manifests["provided-secrets"], "Deployment", "integrationservice")
    secrets = {v["name"]: v["secret"]["secretName"] for v in isvc["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert secrets["keyservice-client"] == "is-keyservice-client"
    assert secrets["client-ca"] == "crm-client-ca"


def test_cert_manager_off_without_secrets_fails_to_render():
    from conftest import render

    with pytest.raises(helm.HelmError, match="serverSecretName is required"):
        render({"tls": {"certManager": {"enabled": False}}})


def test_otel_env(manifests):
    for deploy in find(manifests["autoscaling"], "Deployment"):
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"
        assert env["OTEL_SERVICE_NAME"] == container["name"]
        attrs = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        assert attrs["k8s.cluster.name"] == "prod-eu"
        assert attrs["k8s.namespace.name"] == NAMESPACE
    # Without an endpoint nothing is exported.
    for deploy in find(manifests["default"], "Deployment"):
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in {e["name"] for e in container["env"]}


def test_notes_render(renders):
    notes = renders["default"]["webinar/templates/NOTES.txt"]
    assert "rollout status" in notes
    assert "ON24 SIMULATOR" in renders["on24sim"]["webinar/templates/NOTES.txt"]

"""Renders the webinar chart with the real Helm engine (helm-python-sdk, Helm's Go SDK) once
per value set, and shares the parsed manifests with every test module.

The value sets cover the switches that change which objects exist: the defaults (cert-manager
on), user-provided TLS Secrets (cert-manager off), the autoscaler, the ON24 simulator, a
PKCS#11 root key and the monitoring objects (dashboard and alerts).
"""

from __future__ import annotations

import pathlib

import helm_python as helm
import pytest
import yaml

CHART = pathlib.Path(__file__).resolve().parent.parent / "webinar"
RELEASE = "webinar"
NAMESPACE = "webinar"
# The Kubernetes version the manifests are validated and linted against.
KUBE_VERSION = "1.37.0"

VALUE_SETS: dict[str, dict] = {
    "default": {},
    "provided-secrets": {
        "tls": {"certManager": {"enabled": False}},
        "keyservice": {
            "tls": {"serverSecretName": "ks-server", "clientCASecretName": "ks-client-ca"}
        },
        "integrationservice": {
            "tls": {
                "serverSecretName": "is-server",
                "clientCASecretName": "crm-client-ca",
                "keyserviceClientSecretName": "is-keyservice-client",
            }
        },
    },
    "autoscaling": {
        "integrationservice": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}},
        "otel": {
            "endpoint": "http://otel-collector.observability:4317",
            "resourceAttributes": {"k8s.cluster.name": "prod-eu"},
            "networkPolicyPeers": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}
            ],
        },
    },
    "on24sim": {"on24sim": {"enabled": True}},
    "monitoring": {
        "monitoring": {
            "enabled": True,
            "dashboard": {"annotations": {"grafana_folder": "Webinar"}},
            "prometheusRule": {
                "labels": {"release": "kube-prometheus-stack"},
                "additionalAlertLabels": {"team": "crm"},
            },
        }
    },
    "pkcs11-digests": {
        "keyservice": {
            "rootKey": {"provider": "pkcs11"},
            "audit": {"keySecret": "webinar-keyservice-audit-key"},
            "image": {"repository": "keyservice", "digest": "sha256:" + "a" * 64},
        },
        "integrationservice": {
            "image": {"repository": "integrationservice", "digest": "sha256:" + "b" * 64}
        },
    },
}


# What every install must name: the PostgreSQL servers' addresses (the chart has no default
# that would open the database port to every address).
DATABASE_PEERS: dict = {
    "keyservice": {"database": {"networkPolicyPeers": [{"ipBlock": {"cidr": "10.20.0.5/32"}}]}},
    "integrationservice": {"database": {"networkPolicyPeers": [{"ipBlock": {"cidr": "10.20.0.6/32"}}]}},
}


def merged(base: dict, override: dict) -> dict:
    """`override` deep-merged over `base` (dicts merge, everything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def render(values: dict, with_database: bool = True) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would produce on install; the
    database peers every install needs are added unless `with_database` is false."""
    chart = helm.Chart.load(str(CHART))
    if with_database:
        values = merged(DATABASE_PEERS, values)
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(rendered: dict[str, str]) -> list[dict]:
    """Every Kubernetes object in a render (NOTES.txt left out)."""
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


@pytest.fixture(scope="session")
def renders() -> dict[str, dict[str, str]]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


@pytest.fixture(scope="session")
def manifests(renders) -> dict[str, list[dict]]:
    return {name: objects(rendered) for name, rendered in renders.items()}


def find(docs: list[dict], kind: str, component: str | None = None) -> list[dict]:
    """Objects of one kind, optionally of one app.kubernetes.io/component."""
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (
            component is None
            or d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        )
    ]


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    """(name, pod spec) of every Deployment and Job."""
    return [
        (f'{d["kind"]}/{d["metadata"]["name"]}', d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "Job")
    ]

"""The monitoring objects: the Grafana dashboard ConfigMap and the PrometheusRule render only
when `monitoring.enabled`; the dashboard is what Grafana's schema builders produce and loads in
Grafana's dashboard models; the rules pass promtool; and every metric name used in a dashboard
query or an alert is one the services register, after the OTLP-to-Prometheus translation."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

import dashboard
from conftest import CHART, NAMESPACE, find

ROOT = CHART.parent.parent
# Where the services register their instruments: every crate under these folders (the
# integration service's ON24 client is a crate of its own inside integrationservice/).
SOURCES = ["servicekit", "keyservice", "integrationservice"]
INSTRUMENT = re.compile(
    r'\.(?P<kind>[a-z0-9]+_(?:observable_)?(?:counter|up_down_counter|histogram|gauge))'
    r'\(\s*"(?P<name>[^"]+)"\s*\)(?P<builder>(?:\s*\.\s*with_\w+\((?:[^()]|\([^()]*\))*\))*)'
)
UNITS = {"ms": "milliseconds", "s": "seconds", "By": "bytes", "1": "ratio"}
# A selector is `name{`: every query in the chart writes its braces (see dashboard.py).
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def prometheus_names(kind: str, name: str, unit: str | None) -> set[str]:
    """The series names an OpenTelemetry Collector exports for one instrument (Prometheus
    exporter / remote write with metric suffixes, the default)."""
    base = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    if unit and not unit.startswith("{"):
        suffix = UNITS.get(unit, unit)
        if not (suffix == "ratio" and "gauge" not in kind):
            base = f"{base}_{suffix}"
    if kind.endswith("histogram"):
        return {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    if kind.endswith("counter") and "up_down" not in kind:
        return {f"{base}_total"}
    return {base}


def registered() -> dict[str, str]:
    """Prometheus series name -> the instrument it comes from, for every instrument built in
    the services' sources."""
    names: dict[str, str] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("src/**/*.rs")):
            for match in INSTRUMENT.finditer(path.read_text()):
                unit = re.search(r'with_unit\(\s*"([^"]*)"', match.group("builder"))
                for series in prometheus_names(match["kind"], match["name"], unit and unit.group(1)):
                    names[series] = f'{match["name"]} ({path.relative_to(ROOT)})'
    return names


def expressions(docs: list[dict]) -> list[str]:
    (rule,) = find(docs, "PrometheusRule")
    (cm,) = find(docs, "ConfigMap", "monitoring")
    board = json.loads(cm["data"]["webinar-overview.json"])
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    exprs += [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return exprs


def test_nothing_is_rendered_unless_enabled(manifests):
    for name, docs in manifests.items():
        if name == "monitoring":
            continue
        assert not find(docs, "PrometheusRule"), name
        assert not find(docs, "ConfigMap", "monitoring"), name


def test_enabled_renders_the_dashboard_and_the_rules(manifests):
    docs = manifests["monitoring"]
    (cm,) = find(docs, "ConfigMap", "monitoring")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Webinar"}
    assert cm["data"]["webinar-overview.json"] == dashboard.PATH.read_text().rstrip("\n")
    (rule,) = find(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "WebinarDeliveriesStalled",
        "WebinarOldestPendingDeliveryTooOld",
        "WebinarCredentialsRejected",
        "WebinarKeyServiceErrors",
        "WebinarKeyServiceAuditWriteFailures",
    }
    for alert in alerts.values():
        assert alert["labels"]["team"] == "crm"
        assert alert["labels"]["severity"] in ("warning", "critical")
        # Scoped to this release's services (service.namespace = the release namespace).
        assert f'job="{NAMESPACE}/' in alert["expr"]
    assert "> 1800000" in alerts["WebinarOldestPendingDeliveryTooOld"]["expr"]
    assert "{{ $labels.tenant_id }}" in alerts["WebinarCredentialsRejected"]["annotations"]["summary"]


def test_each_part_can_be_switched_off():
    from conftest import objects, render

    docs = objects(render({"monitoring": {"enabled": True, "prometheusRule": {"enabled": False}}}))
    assert find(docs, "ConfigMap", "monitoring") and not find(docs, "PrometheusRule")
    docs = objects(render({"monitoring": {"enabled": True, "dashboard": {"enabled": False}}}))
    assert find(docs, "PrometheusRule") and not find(docs, "ConfigMap", "monitoring")


def test_dashboard_file_is_what_the_builders_produce():
    assert dashboard.PATH.read_text() == dashboard.render(), "run: .venv/bin/python helm/tests/dashboard.py"


def _missing(ours, loaded, path="$"):
    """Paths present in our JSON that Grafana's models dropped or changed."""
    if isinstance(ours, dict):
        if not isinstance(loaded, dict):
            return [path]
        return [m for k, v in ours.items() for m in
                ([f"{path}.{k}"] if k not in loaded else _missing(v, loaded[k], f"{path}.{k}"))]
    if isinstance(ours, list):
        if not isinstance(loaded, list) or len(loaded) != len(ours):
            return [path]
        return [m for i, (a, b) in enumerate(zip(ours, loaded)) for m in _missing(a, b, f"{path}[{i}]")]
    return [] if ours == loaded else [path]


def test_dashboard_loads_in_grafanas_dashboard_schema():
    ours = json.loads(dashboard.PATH.read_text())
    loaded = json.loads(json.dumps(Dashboard.from_json(ours).to_json(), default=lambda o: o.to_json()))
    assert _missing(ours, loaded) == []
    assert ours["schemaVersion"] >= 39
    types = {p["type"] for p in ours["panels"]}
    assert types <= {"row", "timeseries", "stat", "table"}, types


def test_every_metric_name_is_registered_by_the_services(manifests):
    known = registered()
    # The instruments the dashboard and alerts rely on; if one is renamed, this list and the
    # queries must follow.
    assert {"outbox_depth", "on24_credentials_status", "keyservice_audit_records_total",
            "rpc_server_duration_milliseconds_bucket"} <= set(known), sorted(known)
    used: set[str] = set()
    for expr in expressions(manifests["monitoring"]):
        names = set(SELECTOR.findall(expr))
        assert names, f"no `name{{...}}` selector in {expr!r}"
        used |= names
    unknown = sorted(used - set(known))
    assert not unknown, f"metrics no service registers: {unknown}; registered: {sorted(known)}"


def test_the_translation_follows_the_collector():
    assert prometheus_names("f64_histogram", "rpc.server.duration", "ms") == {
        "rpc_server_duration_milliseconds_bucket",
        "rpc_server_duration_milliseconds_sum",
        "rpc_server_duration_milliseconds_count",
    }
    assert prometheus_names("u64_counter", "on24.responses", None) == {"on24_responses_total"}
    assert prometheus_names("i64_observable_gauge", "outbox.oldest_age", "ms") == {
        "outbox_oldest_age_milliseconds"
    }
    assert prometheus_names("i64_observable_gauge", "outbox.depth", None) == {"outbox_depth"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) not installed")
def test_rules_pass_promtool(manifests, tmp_path: pathlib.Path):
    (rule,) = find(manifests["monitoring"], "PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""The Grafana dashboard of helm/webinar (`dashboards/webinar-overview.json`), built with
Grafana's own typed builders (grafana-foundation-sdk, generated from Grafana's dashboard
schema), so the JSON has the shape Grafana loads. `python helm/tests/dashboard.py` rewrites
the file; test_monitoring.py fails when the file and this code disagree.

Metric and label names are the Prometheus names an OpenTelemetry Collector gives the
services' OTLP instruments (docs/observability.md): dots become underscores, a unit `ms`
adds `_milliseconds`, counters add `_total`, histograms `_bucket`/`_sum`/`_count`. Every
selector is written `name{...}` (braces even when empty), which is how the metric-name test
finds them.
"""

from __future__ import annotations

import json
import pathlib

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PATH = pathlib.Path(__file__).resolve().parent.parent / "webinar" / "dashboards" / "webinar-overview.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"


def query(expr: str, legend: str = "") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


def series(title: str, description: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).description(description).unit(unit)
        .datasource(DATASOURCE).height(8).span(12).min(0)
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel


def build() -> dict:
    credentials = (
        table.Panel()
        .title("ON24 credentials by tenant")
        .description(
            "Each tenant's credentials status as last observed by the integration service "
            "(HEALTHY, NOT_AUTHENTICATED, TOKEN_EXPIRED, FORBIDDEN, UNHEALTHY, UNCHECKED)."
        )
        .datasource(DATASOURCE).height(8).span(12)
        .with_target(
            query('max by (tenant_id, credentials_status) (on24_credentials_status{})')
            .instant().format(PromQueryFormat.TABLE)
        )
    )
    rejected = (
        stat.Panel()
        .title("Tenants with rejected credentials")
        .description("Tenants whose ON24 credentials are NOT_AUTHENTICATED or TOKEN_EXPIRED: "
                     "their deliveries wait until the credentials are put again.")
        .datasource(DATASOURCE).height(8).span(12)
        .with_target(query(
            'count(on24_credentials_status{credentials_status=~"NOT_AUTHENTICATED|TOKEN_EXPIRED"}) or vector(0)'
        ))
    )
    builder = (
        db.Dashboard("Webinar integration")
        .uid("webinar-overview")
        .description("Tenants' ON24 credentials, delivery backlog, ON24 answers, metrics sync "
                     "and the key service (docs/observability.md).")
        .tags(["webinar"])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_row(db.Row("Tenants"))
        .with_panel(credentials)
        .with_panel(rejected)
        .with_row(db.Row("Deliveries to ON24"))
        .with_panel(series(
            "Outbox backlog by state", "Jobs waiting (READY), running, paused (integration "
            "disabled) and failed; refreshed every 10 s.", "short",
            query("sum by (outbox_state) (outbox_depth{})", "{{outbox_state}}"),
        ))
        .with_panel(series(
            "Oldest job by state", "Age of the oldest outbox job in each state.", "ms",
            query("max by (outbox_state) (outbox_oldest_age_milliseconds{})", "{{outbox_state}}"),
        ))
        .with_panel(series(
            "Deliveries per second by kind", "Jobs acknowledged by ON24.", "reqps",
            query(f"sum by (outbox_kind) (rate(outbox_delivery_latency_milliseconds_count{{}}[{RATE}]))",
                  "{{outbox_kind}}"),
        ))
        .with_panel(series(
            "Delivery latency (accept to ON24 acknowledgement)", "Quantiles over all tenants.", "ms",
            query(f"histogram_quantile(0.5, sum by (le) (rate(outbox_delivery_latency_milliseconds_bucket{{}}[{RATE}])))", "p50"),
            query(f"histogram_quantile(0.95, sum by (le) (rate(outbox_delivery_latency_milliseconds_bucket{{}}[{RATE}])))", "p95"),
        ))
        .with_panel(series(
            "ON24 errors by class", "ON24 answers other than ok, per second, by error class.", "reqps",
            query(f'sum by (on24_class) (rate(on24_responses_total{{on24_class!="ok"}}[{RATE}]))', "{{on24_class}}"),
        ))
        .with_panel(series(
            "Quota slow-downs", "ON24 quota answers (403 over quota) per second, by operation: "
            "the tenant is slowed down after each.", "reqps",
            query(f'sum by (on24_operation) (rate(on24_responses_total{{on24_class="quota"}}[{RATE}]))',
                  "{{on24_operation}}"),
        ))
        .with_row(db.Row("Metrics sync"))
        .with_panel(series(
            "Sync lag", "From a metrics pull falling due on ON24's freshness schedule (or being "
            "asked for) to ON24's answer.", "ms",
            query(f"histogram_quantile(0.5, sum by (le) (rate(metrics_sync_lag_milliseconds_bucket{{}}[{RATE}])))", "p50"),
            query(f"histogram_quantile(0.95, sum by (le) (rate(metrics_sync_lag_milliseconds_bucket{{}}[{RATE}])))", "p95"),
        ))
        .with_panel(series(
            "Data-key cache", "Unwrapped data-key cache lookups of the integration service.", "ops",
            query(f"sum by (result) (rate(dek_cache_lookups_total{{}}[{RATE}]))", "{{result}}"),
        ))
        .with_row(db.Row("Key service"))
        .with_panel(series(
            "Unwraps per second by outcome", "ok, denied (policy) or error.", "ops",
            query(f'sum by (outcome) (rate(keyservice_operations_total{{keyservice_operation="unwrap"}}[{RATE}]))',
                  "{{outcome}}"),
        ))
        .with_panel(series(
            "UnwrapKey latency", "Server-side duration of UnwrapKey calls.", "ms",
            query(f'histogram_quantile(0.5, sum by (le) (rate(rpc_server_duration_milliseconds_bucket{{rpc_service="keyservice.v1.KeyService", rpc_method="UnwrapKey"}}[{RATE}])))', "p50"),
            query(f'histogram_quantile(0.99, sum by (le) (rate(rpc_server_duration_milliseconds_bucket{{rpc_service="keyservice.v1.KeyService", rpc_method="UnwrapKey"}}[{RATE}])))', "p99"),
        ))
        .with_panel(series(
            "Key service errors", "Operations that failed, and gRPC calls answered with a "
            "status other than OK.", "ops",
            query(f'sum by (keyservice_operation) (rate(keyservice_operations_total{{outcome="error"}}[{RATE}]))',
                  "{{keyservice_operation}} error"),
            query(f'sum by (rpc_grpc_status_code) (rate(rpc_server_duration_milliseconds_count{{rpc_service=~"keyservice.v1.*", rpc_grpc_status_code!="0"}}[{RATE}]))',
                  "status {{rpc_grpc_status_code}}"),
        ))
        .with_panel(series(
            "Audit records", "Audit records written and failed; a failed record refuses its "
            "operation (fail closed), so any failure is an outage.", "ops",
            query(f"sum by (outcome) (rate(keyservice_audit_records_total{{}}[{RATE}]))", "{{outcome}}"),
        ))
    )
    built = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    # Unique panel ids and query refIds, which the builders leave to the caller.
    for number, panel in enumerate(built["panels"], start=1):
        panel["id"] = number
        for index, target in enumerate(panel.get("targets", [])):
            target["refId"] = chr(ord("A") + index)
    return built


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())

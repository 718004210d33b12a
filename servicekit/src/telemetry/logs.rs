//! JSON log lines with the trace and span ids of the span they were written in.
//!
//! One line per event: `timestamp`, `level`, `target`, the event's `fields`, the name of the
//! span it was written in (`span.name`), and, when traces are on, `trace_id` and `span_id` of
//! the nearest enclosing span the OpenTelemetry layer knows, so a line can be looked up in
//! the tracing backend (and a trace's lines found in the logs).
//!
//! All the work happens when a line is written: nothing is formatted or stored per span, so
//! a request that logs nothing costs this layer nothing. (tracing-subscriber's JSON layer
//! formats every enabled span's fields when the span is created, i.e. on every request at
//! `info`.) Span fields are therefore not repeated in log lines; they are on the span.

use std::io::Write;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::{
    Event, Level, Metadata, Subscriber,
    field::{Field, Visit},
    span,
    subscriber::Interest,
};
use tracing_subscriber::{
    EnvFilter,
    filter::LevelFilter,
    fmt::{
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    layer::{Context, Filter, Layer},
    registry::LookupSpan,
};

use super::LogTarget;

/// The log layer: writes one JSON line per event to `target`.
#[derive(Debug)]
pub(crate) struct JsonLogLayer {
    target: LogTarget,
    /// Look up trace and span ids (only when the OpenTelemetry layer is installed).
    with_ids: bool,
}

impl JsonLogLayer {
    pub(crate) fn new(target: LogTarget, with_ids: bool) -> Self {
        Self { target, with_ids }
    }

    fn write_line(&self, line: &[u8]) {
        // One write of the whole line under the stream's lock, so lines from concurrent
        // requests never interleave. A failed write of a log line is not worth failing for.
        let _ = match self.target {
            LogTarget::Stdout => std::io::stdout().lock().write_all(line),
            LogTarget::Stderr => std::io::stderr().lock().write_all(line),
        };
    }
}

/// The trace and span ids of the nearest span in `event`'s scope that the OpenTelemetry
/// layer has data for (spans it filtered out, e.g. `debug` spans, are skipped).
fn otel_ids<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<(String, String)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(scope) = ctx.event_scope(event) else {
        return attached_ids();
    };
    let mut scope = Some(scope);
    let found = tracing::dispatcher::get_default(|dispatch| {
        for span in scope.take().into_iter().flatten() {
            // `get_otel_context` reads the span's extensions: none of ours are held here.
            if let Some(cx) = tracing_opentelemetry::get_otel_context(&span.id(), dispatch) {
                let span_ref = cx.span();
                let context = span_ref.span_context();
                if context.is_valid() {
                    return Some((
                        context.trace_id().to_string(),
                        context.span_id().to_string(),
                    ));
                }
            }
        }
        None
    });
    found.or_else(attached_ids)
}

/// The ids of the attached OpenTelemetry context: a call the sampler dropped runs under one
/// without a traced `tracing` span, and its lines still name its trace.
fn attached_ids() -> Option<(String, String)> {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let context = span.span_context();
        context.is_valid().then(|| {
            (
                context.trace_id().to_string(),
                context.span_id().to_string(),
            )
        })
    })
}

impl<S> Layer<S> for JsonLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut timestamp = String::with_capacity(32);
        let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
        let mut fields = FieldsVisitor(Map::new());
        event.record(&mut fields);

        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(metadata.level().to_string()));
        line.insert("fields".into(), Value::Object(fields.0));
        line.insert(
            "target".into(),
            Value::String(metadata.target().to_string()),
        );
        let ids = if self.with_ids {
            otel_ids(event, &ctx)
        } else {
            None
        };
        let span_name = match ctx.event_span(event) {
            Some(span) => Some(span.name()),
            // A gRPC call with traces on runs under an attached OpenTelemetry context and no
            // `tracing` span of its own (see `grpc`): its lines are written in `grpc.server`.
            None => ids.as_ref().map(|_| "grpc.server"),
        };
        if let Some(span_name) = span_name {
            let mut name = Map::new();
            name.insert("name".into(), Value::String(span_name.to_string()));
            line.insert("span".into(), Value::Object(name));
        }
        if let Some((trace_id, span_id)) = ids {
            line.insert("trace_id".into(), Value::String(trace_id));
            line.insert("span_id".into(), Value::String(span_id));
        }
        let mut bytes = serde_json::to_vec(&Value::Object(line)).unwrap_or_default();
        bytes.push(b'\n');
        self.write_line(&bytes);
    }
}

/// An event's fields as JSON values (`message` is the event's message).
struct FieldsVisitor(Map<String, Value>);

impl Visit for FieldsVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

/// The log layer's filter: events by `RUST_LOG`; spans at `info` and above also when traces
/// are on, so a `warn` line written in a request still finds the request's span (and its
/// ids) however quiet `RUST_LOG` is. Seeing a span costs this layer nothing.
pub(crate) struct LogFilter {
    env: EnvFilter,
    spans_for_ids: bool,
}

impl LogFilter {
    pub(crate) fn new(env: EnvFilter, spans_for_ids: bool) -> Self {
        Self { env, spans_for_ids }
    }

    fn forced(&self, metadata: &Metadata<'_>) -> bool {
        self.spans_for_ids && metadata.is_span() && *metadata.level() <= Level::INFO
    }
}

impl<S> Filter<S> for LogFilter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.forced(metadata) || Filter::<S>::enabled(&self.env, metadata, cx)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.forced(metadata) {
            Interest::always()
        } else {
            Filter::<S>::callsite_enabled(&self.env, metadata)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let env = Filter::<S>::max_level_hint(&self.env);
        if self.spans_for_ids {
            env.map(|level| level.max(LevelFilter::INFO))
        } else {
            env
        }
    }

    // The environment filter tracks spans for directives like `[span{field=x}]=debug`.
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_new_span(&self.env, attrs, id, ctx)
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        Filter::<S>::on_record(&self.env, id, values, ctx)
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.env, id, ctx)
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.env, id, ctx)
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        Filter::<S>::on_close(&self.env, id, ctx)
    }
}

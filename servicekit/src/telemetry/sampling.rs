//! Head sampling decided once per gRPC call, before anything is built for its span.
//!
//! The sampler is the one the standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
//! variables describe (the SDK reads them). [`GrpcServerTraceLayer`](super::GrpcServerTraceLayer)
//! asks it first: a call it drops gets no `tracing` span at all (that span, its attributes and
//! its enter/exit on every poll were most of the cost of an unsampled call), and runs under a
//! non-recording OpenTelemetry context instead, so spans opened inside it and the
//! `traceparent` it sends on carry the "not sampled" decision. A call it keeps gets a span
//! (built with the OpenTelemetry API, no `tracing` span either) inside [`presampled`], and the
//! provider's sampler ([`Presampled`]) honours that instead of deciding a second time.

use std::{cell::Cell, sync::OnceLock};

use opentelemetry::{
    Context, KeyValue,
    trace::{Link, SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SamplingDecision, SamplingResult, ShouldSample,
};

/// The sampler from the environment, once traces are exported.
static SAMPLER: OnceLock<Box<dyn ShouldSample>> = OnceLock::new();

thread_local! {
    /// Set while the gRPC layer builds the span of a call it already sampled. A flag on the
    /// building thread rather than a value in the parent context: adding a context value
    /// allocates a map for every sampled call.
    static PRESAMPLED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `build` (which builds the span of a call the layer already sampled) so that
/// [`Presampled`] records it without asking the environment's sampler again. Asking again would
/// give a root call's span a new trace id and a second draw of a ratio sampler (keeping about
/// the square of the ratio); for a caller's trace it would only repeat the same decision.
pub(crate) fn presampled<T>(build: impl FnOnce() -> T) -> T {
    /// Clears the flag however `build` ends.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PRESAMPLED.with(|flag| flag.set(false));
        }
    }
    PRESAMPLED.with(|flag| flag.set(true));
    let _reset = Reset;
    build()
}

/// The provider's sampler: the environment's, except for calls the layer already sampled.
#[derive(Debug, Clone)]
pub(crate) struct Presampled(Box<dyn ShouldSample>);

impl ShouldSample for Presampled {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if PRESAMPLED.with(Cell::get) {
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            };
        }
        self.0
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// The provider's sampler, built from the `OTEL_TRACES_SAMPLER*` variables; remembers it for
/// [`decide`].
pub(crate) fn from_env() -> Presampled {
    let sampler = opentelemetry_sdk::trace::Config::default().sampler;
    let _ = SAMPLER.set(sampler.clone());
    Presampled(sampler)
}

/// What the layer decided for one call.
pub(crate) enum Decision {
    /// Open the span with this parent (the caller's context, or an empty one for a root call),
    /// inside [`presampled`].
    Sample(Context),
    /// Run the call under this non-recording context (the caller's, or a fresh trace id).
    Drop(Context),
}

/// Decides for a server call named `name` whose caller sent `parent` (empty if none). A
/// fresh trace id decides a root call and identifies it downstream if dropped.
pub(crate) fn decide(parent: Context, name: &str) -> Decision {
    let Some(sampler) = SAMPLER.get() else {
        return Decision::Sample(parent);
    };
    let caller = parent.span().span_context().clone();
    let trace_id = if caller.is_valid() {
        caller.trace_id()
    } else {
        RandomIdGenerator::default().new_trace_id()
    };
    let result = sampler.should_sample(Some(&parent), trace_id, name, &SpanKind::Server, &[], &[]);
    match (result.decision, caller.is_valid()) {
        (SamplingDecision::Drop, true) => Decision::Drop(parent),
        (SamplingDecision::Drop, false) => {
            let span_id = RandomIdGenerator::default().new_span_id();
            let unsampled = SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::default(),
                false,
                TraceState::default(),
            );
            Decision::Drop(parent.with_remote_span_context(unsampled))
        }
        _ => Decision::Sample(parent),
    }
}

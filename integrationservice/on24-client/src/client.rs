//! The ON24 REST client: one reqwest connection pool, credentials as sensitive headers,
//! per-call timeouts, and answers turned into typed values or classified errors.
//!
//! TLS: reqwest is built with `rustls-no-provider`; the client installs rustls' ring
//! provider as the process default (a no-op when a binary already did, as every binary
//! in this workspace does) and lets reqwest verify servers with the platform roots.
//! Redirects are refused: ON24 does not redirect API calls, and following one would
//! send the access token headers to whatever host the redirect names.

use std::time::Instant;

use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::config::{On24ClientConfig, On24Credentials};
use super::error::{On24Error, extract_message};
use super::request::{Operation, RequestSpec};

/// The largest response body accepted. Attendee analytics pages are big, but a body
/// beyond this is a fault, and reading it unbounded would let a peer exhaust memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

// The streamed-array parser, for the fuzz target (`crate::fuzzing`).
pub(crate) use stream::parse_array;

const HDR_KEY: HeaderName = HeaderName::from_static("accesstokenkey");
const HDR_SECRET: HeaderName = HeaderName::from_static("accesstokensecret");

/// A client for one ON24 credential. Cheap to clone; clones share the connection pool,
/// and `with_credentials` gives another tenant's client on the same pool.
#[derive(Clone)]
pub struct On24Client {
    http: reqwest::Client,
    config: On24ClientConfig,
    credentials: On24Credentials,
}

impl std::fmt::Debug for On24Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("On24Client")
            .field("base_url", &self.config.base_url.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl On24Client {
    pub fn new(config: On24ClientConfig, credentials: On24Credentials) -> Result<Self, On24Error> {
        credentials.validate()?;
        config
            .egress
            .check_url(config.base_url.url())
            .map_err(|rule| On24Error::Config(format!("ON24 base URL {rule}")))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!(
                "webinar-integrationservice/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &config.extra_root_certs_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                On24Error::Config(format!("extra root certificates: {}", e.without_url()))
            })?;
            if roots.is_empty() {
                return Err(On24Error::Config(
                    "extra root certificates: no PEM certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(roots);
        }
        let http = builder
            // Every name is resolved through the egress rule (IP literals were checked above).
            .dns_resolver(std::sync::Arc::new(config.egress.resolver()))
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(config.base_url.is_https())
            .build()
            .map_err(|e| {
                On24Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self {
            http,
            config,
            credentials,
        })
    }

    /// The same pool and settings with another API root (e.g. another tenant's path on the
    /// same host), checked against the egress rule.
    pub fn with_base_url(&self, base_url: crate::config::BaseUrl) -> Result<Self, On24Error> {
        self.config
            .egress
            .check_url(base_url.url())
            .map_err(|rule| On24Error::Config(format!("ON24 base URL {rule}")))?;
        let mut client = self.clone();
        client.config.base_url = base_url;
        Ok(client)
    }

    /// The same pool and settings, another credential.
    pub fn with_credentials(&self, credentials: On24Credentials) -> Result<Self, On24Error> {
        credentials.validate()?;
        Ok(Self {
            credentials,
            ..self.clone()
        })
    }

    /// The same pool and credential with another total per-call timeout (e.g. longer for
    /// big analytics pages, shorter for an interactive credential check).
    pub fn with_request_timeout(&self, timeout: std::time::Duration) -> Self {
        let mut client = self.clone();
        client.config.request_timeout = timeout;
        client
    }

    pub fn client_id(&self) -> u64 {
        self.credentials.client_id
    }

    pub fn config(&self) -> &On24ClientConfig {
        &self.config
    }

    /// The request `op` would send, without sending it (for contract tests and tracing).
    pub fn build_request(&self, op: &Operation) -> Result<reqwest::Request, On24Error> {
        let spec = self.spec(op)?;
        self.to_request(&spec)
    }

    fn spec(&self, op: &Operation) -> Result<RequestSpec, On24Error> {
        op.spec(self.credentials.client_id)
            .map_err(|detail| On24Error::Invalid {
                operation: op.name(),
                detail,
            })
    }

    fn to_request(&self, spec: &RequestSpec) -> Result<reqwest::Request, On24Error> {
        let mut url = reqwest::Url::parse(self.config.base_url.as_str())
            .map_err(|e| On24Error::Config(format!("invalid base URL: {e}")))?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| On24Error::Config("base URL cannot have a path".into()))?;
            path.pop_if_empty().push("client");
            // `push` percent-encodes, so an email in the path cannot add segments.
            path.extend(&spec.segments);
        }
        if !spec.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&spec.query);
        }
        let mut key = HeaderValue::from_str(self.credentials.access_token_key.expose_secret())
            .map_err(|_| {
                On24Error::Config("access token key is not a valid header value".into())
            })?;
        let mut secret = HeaderValue::from_str(
            self.credentials.access_token_secret.expose_secret(),
        )
        .map_err(|_| On24Error::Config("access token secret is not a valid header value".into()))?;
        // Sensitive values are left out of reqwest/hyper debug output and HPACK indexing.
        key.set_sensitive(true);
        secret.set_sensitive(true);
        let mut builder = self
            .http
            .request(spec.method.clone(), url)
            .header(HDR_KEY, key)
            .header(HDR_SECRET, secret)
            .timeout(self.config.request_timeout);
        if let Some(form) = &spec.form {
            builder = builder.form(form);
        }
        builder
            .build()
            .map_err(|e| On24Error::Config(format!("cannot build request: {}", e.without_url())))
    }

    /// Sends `op` and returns the raw 2xx body, or the classified error.
    pub(crate) async fn send(&self, op: &Operation) -> Result<Vec<u8>, On24Error> {
        let spec = self.spec(op)?;
        let operation = spec.operation;
        let mut request = self.to_request(&spec)?;
        // A CLIENT span per call, its trace context in `traceparent` for ON24 and proxies.
        let span = servicekit::telemetry::http_client_span(
            request.method().as_str(),
            request.url().host_str().unwrap_or_default(),
            operation,
        );
        servicekit::telemetry::inject_span_context(&span, request.headers_mut());
        let started = Instant::now();
        let limit = self.config.request_timeout;
        // Our own clock bounds the whole exchange, body included, whatever the peer does.
        let exchange = async {
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| On24Error::from_transport(operation, &e))?;
            let status = response.status().as_u16();
            let body = read_body(response, operation).await?;
            Ok::<_, On24Error>((status, body))
        };
        let result = match tokio::time::timeout(limit, exchange.instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => Err(On24Error::timeout(operation, limit)),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let _entered = span.enter();
        crate::telemetry::answered(&span, operation, &result);
        match result {
            Ok((status, body)) if (200..300).contains(&status) => {
                tracing::debug!(operation, status, elapsed_ms, "ON24 call succeeded");
                Ok(body)
            }
            Ok((status, body)) => {
                let err = On24Error::from_status(operation, status, extract_message(&body));
                tracing::warn!(operation, status, elapsed_ms, class = err.class(), error = %err, "ON24 call refused");
                Err(err)
            }
            Err(err) => {
                tracing::warn!(operation, elapsed_ms, class = err.class(), error = %err, "ON24 call failed");
                Err(err)
            }
        }
    }

    /// Sends `op` and decodes the JSON answer into `T`.
    pub async fn call<T: DeserializeOwned>(&self, op: &Operation) -> Result<T, On24Error> {
        let body = self.send(op).await?;
        decode(op.name(), &body)
    }
}

/// The largest answer read by [`On24Client::call_array`]: it is parsed as it arrives and never
/// held, so the bound is on time and transfer, not memory (ON24 sends an event's attendee
/// report as one body, about 1 KB per attendee).
const MAX_STREAMED_BYTES: usize = 1024 * 1024 * 1024;

/// The longest a streamed read may take in all, the caller's own time included: it only
/// ends a read whose caller hangs; ON24's part is bounded by the call's timeout ([`OwnTime`]).
const STREAMED_BACKSTOP: std::time::Duration = std::time::Duration::from_secs(3600);

/// The time left for ON24 in one call: only the time spent waiting on ON24 is taken from it.
struct OwnTime {
    left: std::time::Duration,
}

impl OwnTime {
    fn new(limit: std::time::Duration) -> Self {
        Self { left: limit }
    }

    /// Waits for `step` within the time left and takes what it took; None once none is left.
    async fn spend<T>(&mut self, step: impl Future<Output = T>) -> Option<T> {
        let started = Instant::now();
        let out = tokio::time::timeout(self.left, step).await.ok();
        self.left = self.left.saturating_sub(started.elapsed());
        out
    }
}

impl On24Client {
    /// Sends `op` and passes each element of the answer's top-level array `field` to `each`
    /// while the body arrives, keeping what `each` returns. Neither the body nor a parsed
    /// tree of it is ever held whole: an event's attendee report is one unpaged body, about
    /// 100 MB for 100,000 attendees, which buffered and parsed at once would take gigabytes.
    /// Elements that do not decode as `T` are skipped, as `de::lenient_vec` does.
    pub(crate) async fn call_array<T, R, F>(
        &self,
        op: &Operation,
        field: &'static str,
        each: F,
    ) -> Result<Vec<R>, On24Error>
    where
        T: crate::de::Lenient + Send + 'static,
        R: Send + 'static,
        F: FnMut(T) -> Option<R> + Send + 'static,
    {
        let spec = self.spec(op)?;
        let operation = spec.operation;
        let mut request = self.to_request(&spec)?;
        let span = servicekit::telemetry::http_client_span(
            request.method().as_str(),
            request.url().host_str().unwrap_or_default(),
            operation,
        );
        servicekit::telemetry::inject_span_context(&span, request.headers_mut());
        // The call's timeout bounds ON24's time only: waiting for the answer and for each
        // further chunk. Time the caller takes with what was read (a database storing a big
        // report) pauses the read and is not ON24's, so it is not counted: were it counted, a
        // slow store would make a big report time out and be read again from the start.
        // reqwest's own whole-exchange timeout is only a backstop here.
        *request.timeout_mut() = Some(STREAMED_BACKSTOP);
        let started = Instant::now();
        let limit = self.config.request_timeout;
        let timed_out = || On24Error::timeout(operation, limit);
        let exchange = async {
            let mut budget = OwnTime::new(limit);
            let mut response = budget
                .spend(self.http.execute(request))
                .await
                .ok_or_else(timed_out)?
                .map_err(|e| On24Error::from_transport(operation, &e))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body = read_body(response, operation).await?;
                return Ok((status, Err(body)));
            }
            // The parser runs on the blocking pool and reads chunks from a small channel, so
            // at most a few chunks are in memory between the socket and the parser.
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            let parser = tokio::task::spawn_blocking(move || {
                stream::parse_array(rx, field, each, operation)
            });
            let mut total = 0usize;
            while let Some(chunk) = budget
                .spend(response.chunk())
                .await
                .ok_or_else(timed_out)?
                .map_err(|e| On24Error::from_transport(operation, &e))?
            {
                total += chunk.len();
                if total > MAX_STREAMED_BYTES {
                    return Err(On24Error::Decode {
                        operation,
                        detail: format!("body larger than {MAX_STREAMED_BYTES} bytes"),
                    });
                }
                if tx.send(chunk.into()).await.is_err() {
                    break; // The parser stopped on an error; it reports it below.
                }
            }
            drop(tx);
            let items = parser.await.map_err(|_| On24Error::Decode {
                operation,
                detail: "the parser stopped".into(),
            })??;
            Ok((status, Ok(items)))
        };
        let result = exchange.instrument(span.clone()).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let _entered = span.enter();
        crate::telemetry::answered(&span, operation, &result);
        match result {
            Ok((status, Ok(items))) => {
                tracing::debug!(operation, status, elapsed_ms, "ON24 call succeeded");
                Ok(items)
            }
            Ok((status, Err(body))) => {
                let err = On24Error::from_status(operation, status, extract_message(&body));
                tracing::warn!(operation, status, elapsed_ms, class = err.class(), error = %err, "ON24 call refused");
                Err(err)
            }
            Err(err) => {
                tracing::warn!(operation, elapsed_ms, class = err.class(), error = %err, "ON24 call failed");
                Err(err)
            }
        }
    }
}

/// Incremental decoding of one array inside a JSON object, fed by body chunks.
mod stream {
    use std::fmt;
    use std::io::{BufReader, Read};
    use std::marker::PhantomData;

    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use crate::de::{Element, Lenient};

    use super::On24Error;

    /// Blocking `Read` over the chunks the async side sends.
    struct Chunks {
        rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
        current: Vec<u8>,
        at: usize,
    }

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            while self.at >= self.current.len() {
                match self.rx.blocking_recv() {
                    Some(next) => (self.current, self.at) = (next, 0),
                    None => return Ok(0),
                }
            }
            let n = buf.len().min(self.current.len() - self.at);
            buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    pub(crate) fn parse_array<T, R, F>(
        rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
        field: &'static str,
        mut each: F,
        operation: &'static str,
    ) -> Result<Vec<R>, On24Error>
    where
        T: Lenient,
        F: FnMut(T) -> Option<R>,
    {
        let reader = BufReader::with_capacity(
            64 * 1024,
            Chunks {
                rx,
                current: Vec::new(),
                at: 0,
            },
        );
        let mut out = Vec::new();
        let mut de = serde_json::Deserializer::from_reader(reader);
        let top = Top {
            field,
            each: &mut each,
            out: &mut out,
            _t: PhantomData,
        };
        // Same error detail as `decode`: category and position, never the offending value.
        let fail = |e: serde_json::Error| On24Error::Decode {
            operation,
            detail: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        };
        top.deserialize(&mut de).map_err(fail)?;
        de.end().map_err(fail)?;
        Ok(out)
    }

    /// The answer object: `field` is streamed, every other member skipped.
    struct Top<'a, T, R, F> {
        field: &'static str,
        each: &'a mut F,
        out: &'a mut Vec<R>,
        _t: PhantomData<T>,
    }

    impl<'de, T: Lenient, R, F: FnMut(T) -> Option<R>> DeserializeSeed<'de> for Top<'_, T, R, F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, T: Lenient, R, F: FnMut(T) -> Option<R>> Visitor<'de> for Top<'_, T, R, F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == self.field {
                    map.next_value_seed(Items {
                        each: &mut *self.each,
                        out: &mut *self.out,
                        _t: PhantomData,
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    /// The array: each element read on its own and decoded leniently.
    struct Items<'a, T, R, F> {
        each: &'a mut F,
        out: &'a mut Vec<R>,
        _t: PhantomData<T>,
    }

    impl<'de, T: Lenient, R, F: FnMut(T) -> Option<R>> DeserializeSeed<'de> for Items<'_, T, R, F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de, T: Lenient, R, F: FnMut(T) -> Option<R>> Visitor<'de> for Items<'_, T, R, F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array or null")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(Element(item)) = seq.next_element::<Element<T>>()? {
                if let Some(r) = item.and_then(&mut *self.each) {
                    self.out.push(r);
                }
            }
            Ok(())
        }
        // Absent, null or another shape: no elements, as `de::lenient_vec` reads it.
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        crate::de::lenient_record! {
            struct Item {
                id: Option<u64>,
            }
        }

        fn run(chunks: &[&str]) -> Result<Vec<u64>, On24Error> {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            for c in chunks {
                tx.try_send(c.as_bytes().to_vec()).expect("send");
            }
            drop(tx);
            parse_array(rx, "items", |i: Item| i.id, "test")
        }

        #[test]
        fn elements_split_across_chunks_are_read_and_bad_ones_skipped() {
            let got = run(&[
                r#"{"total":3,"ite"#,
                r#"ms":[{"id":1},{"id":"x"},{"i"#,
                r#"d":3}],"more":{"a":[1,{"b":null}]}}"#,
            ])
            .expect("parse");
            assert_eq!(got, vec![1, 3]);
        }

        /// The former reading of a streamed element: a `Value`, then `from_value` with the
        /// `Value`-based helpers (see `de::oracle`).
        #[derive(serde::Deserialize)]
        struct ViaValue;

        impl crate::de::Lenient for ViaValue {
            fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                Ok(crate::de::oracle::with_oracle(|| {
                    serde_json::from_value::<crate::people::Attendee>(v).ok()
                })
                .map(|_| ViaValue))
            }
        }

        /// An attendee report of `n` attendees shaped as the simulator renders them (the
        /// contract's Elite example), in 16 KiB chunks as HTTP delivers it.
        pub(crate) fn report(n: usize) -> Vec<Vec<u8>> {
            let template = &on24sim::shapes::Shapes::get().attendee;
            let mut body = br#"{"eventid":1,"totalattendees":1,"attendees":["#.to_vec();
            for i in 0..n {
                let mut a = template.clone();
                a.insert("email".into(), format!("person{i}@example.com").into());
                a.insert("eventuserid".into(), (1_000_000 + i).into());
                a.insert("engagementscore".into(), (i % 10).into());
                if i > 0 {
                    body.push(b',');
                }
                serde_json::to_writer(&mut body, &a).expect("json");
            }
            body.extend_from_slice(b"]}");
            body.chunks(16 * 1024).map(<[u8]>::to_vec).collect()
        }

        fn timed<T: Lenient>(chunks: &[Vec<u8>]) -> (usize, f64) {
            let (tx, rx) = tokio::sync::mpsc::channel(chunks.len());
            for c in chunks {
                tx.try_send(c.clone()).expect("send");
            }
            drop(tx);
            let started = std::time::Instant::now();
            let got = parse_array(rx, "attendees", |_: T| Some(()), "bench").expect("parse");
            (got.len(), started.elapsed().as_secs_f64())
        }

        /// `cargo test --release -p on24-client --lib decode_speed -- --ignored --nocapture`
        #[test]
        #[ignore = "a measurement: run in release"]
        fn decode_speed() {
            let n = std::env::var("DECODE_N")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(100_000);
            let chunks = report(n);
            let bytes: usize = chunks.iter().map(Vec::len).sum();
            println!("{n} attendees, {} bytes per attendee", bytes / n.max(1));
            for round in 0..3 {
                let (count, old) = timed::<ViaValue>(&chunks);
                assert_eq!(count, n);
                let (count, new) = timed::<crate::people::Attendee>(&chunks);
                assert_eq!(count, n);
                let whole: Vec<u8> = chunks.concat();
                let started = std::time::Instant::now();
                let page: crate::people::AttendeePage =
                    serde_json::from_slice(&whole).expect("slice");
                assert_eq!(page.attendees.len(), n);
                drop(page);
                let slice = started.elapsed().as_secs_f64();
                println!(
                    "round {round}: whole body from_slice {:.0} attendees/s",
                    n as f64 / slice
                );
                println!(
                    "round {round}: Value then from_value {:.0} attendees/s ({old:.2} s), \
                     visitors {:.0} attendees/s ({new:.2} s)",
                    n as f64 / old,
                    n as f64 / new
                );
            }
        }

        #[test]
        fn null_or_absent_array_is_empty_and_broken_json_fails_without_the_value() {
            assert!(run(&[r#"{"items":null}"#]).expect("null").is_empty());
            assert!(run(&[r#"{"other":1}"#]).expect("absent").is_empty());
            let err =
                run(&[r#"{"items":[{"id":1},{"id":"secret@example.com""#]).expect_err("truncated");
            assert!(matches!(err, On24Error::Decode { .. }), "{err:?}");
            assert!(!format!("{err}").contains("secret"), "{err}");
        }
    }
}

/// Decodes a JSON body; an empty 2xx body reads as `{}`. The error keeps serde's
/// category and position only: its message can quote the offending (personal) value.
pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
) -> Result<T, On24Error> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| On24Error::Decode {
        operation,
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

async fn read_body(
    mut response: reqwest::Response,
    operation: &'static str,
) -> Result<Vec<u8>, On24Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| On24Error::from_transport(operation, &e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(On24Error::Decode {
                operation,
                detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Used by `pagination`: the configured page size, bounded to something ON24 accepts.
pub(crate) fn page_size(client: &On24Client) -> u32 {
    client.config.page_size.clamp(1, 1000)
}

/// Used by `pagination` to bound the walk when ON24 keeps answering full pages.
pub(crate) const MAX_PAGES: u32 = 100_000;

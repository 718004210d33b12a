//! Response shapes taken from ON24's own contract. The contract has no schemas, only examples,
//! so each response object starts as a contract example with its values neutralised
//! ("" / 0 / false / [] ) and the simulator fills in the fields it knows. That keeps every field
//! name ON24 sends, spelled as ON24 spells it.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// ON24's OpenAPI document, copied into `on24sim/contract/`.
pub const CONTRACT_JSON: &str = include_str!("../contract/on24-openapi.json");

/// The templates the simulator renders from.
#[derive(Debug)]
pub struct Shapes {
    /// `wccevent` of Create a Webinar.
    pub wcc_event: Map<String, Value>,
    /// `wccevent` of Update a Webinar (ON24 sends a slightly different set of fields).
    pub wcc_event_update: Map<String, Value>,
    /// Event-level Metadata and Usage (webcast).
    pub event_meta: Map<String, Value>,
    /// One item of the client-level Events list.
    pub event_list_item: Map<String, Value>,
    /// One item of the Events list with `includesubaccounts=Y` (the paginated form).
    pub event_list_item_paged: Map<String, Value>,
    /// The REST Registration answer.
    pub registrant: Map<String, Value>,
    /// One item of the event-level Registrants list.
    pub event_registrant: Map<String, Value>,
    /// One item of the client-level Registrants list.
    pub client_registrant: Map<String, Value>,
    /// `registrant` of Registrant by Email.
    pub registrant_by_email: Map<String, Value>,
    /// One item of the event-level Attendees list (Elite account).
    pub attendee: Map<String, Value>,
    /// One item of Attendee Viewing Sessions.
    pub session: Map<String, Value>,
}

/// The example of a 200 response: the named one, or the single `example`.
pub fn example(doc: &Value, operation_id: &str, name: Option<&str>) -> Option<Value> {
    let paths = doc.get("paths")?.as_object()?;
    let op = paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|ops| ops.values())
        .find(|op| op.get("operationId").and_then(Value::as_str) == Some(operation_id))?;
    let content = op.pointer("/responses/200/content/application~1json")?;
    match name {
        Some(n) => content
            .pointer(&format!(
                "/examples/{}/value",
                n.replace('~', "~0").replace('/', "~1")
            ))
            .cloned(),
        None => content.get("example").cloned(),
    }
}

/// A value of the same kind with no content.
pub fn neutral(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String(String::new()),
        Value::Number(_) => Value::from(0),
        Value::Bool(_) => Value::Bool(false),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), neutral(v))).collect()),
        Value::Null => Value::Null,
    }
}

fn object(v: Option<Value>) -> Map<String, Value> {
    match v.as_ref().map(neutral) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Shapes {
    fn load() -> Self {
        let doc: Value = serde_json::from_str(CONTRACT_JSON).unwrap_or(Value::Null);
        let ex = |op: &str, name: Option<&str>, pointer: &str| {
            object(example(&doc, op, name).and_then(|v| v.pointer(pointer).cloned()))
        };
        Self {
            wcc_event: ex(
                "EventManagement.CreateAWebinar",
                Some("Create a Webinar"),
                "/wccevent",
            ),
            wcc_event_update: ex(
                "EventManagement.UpdateAWebinar",
                Some("Update a Webinar"),
                "/wccevent",
            ),
            event_meta: ex(
                "AnalyticsEventLevel.MetadataAndUsage",
                Some("When content type is webcast"),
                "",
            ),
            event_list_item: ex(
                "AnalyticsClientLevel.Events",
                Some("includesubaccounts is not passed or if includesubaccounts = N"),
                "/events/0",
            ),
            event_list_item_paged: ex(
                "AnalyticsClientLevel.Events",
                Some("includesubaccounts = Y"),
                "/events/0",
            ),
            registrant: ex("Registration.RESTRegistrationAPI", None, ""),
            event_registrant: ex("AnalyticsEventLevel.Registrants", None, "/registrants/0"),
            client_registrant: ex("AnalyticsClientLevel.Registrants", None, "/registrants/0"),
            registrant_by_email: ex(
                "AnalyticsClientLevel.RegistrantByEmail",
                None,
                "/registrant",
            ),
            attendee: ex(
                "AnalyticsEventLevel.Attendees",
                Some("Elite account"),
                "/attendees/0",
            ),
            session: ex(
                "AnalyticsEventLevel.AttendeeViewingSessions",
                None,
                "/attendeesession/0",
            ),
        }
    }

    /// Parsed once per process (the document is half a megabyte).
    pub fn get() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(Self::load)
    }
}

/// `render` without building a map: serialises the template's keys straight to the output, for
/// hot paths such as the attendee report (same keys, same values).
#[derive(Debug)]
pub struct Lazy<'a, F> {
    /// The JSON shape whose keys are written, in order.
    pub template: &'a Map<String, Value>,
    /// Gives each key's value.
    pub fill: F,
}

impl<F: Fn(&str) -> Option<Value>> serde::Serialize for Lazy<'_, F> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(Some(self.template.len()))?;
        for (k, v) in self.template {
            match (self.fill)(k) {
                Some(x) => m.serialize_entry(k, &x)?,
                None => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

/// A template with the fields `fill` knows replaced; unknown fields keep their neutral value.
/// Only the template's keys are emitted, so a response never has a field ON24 does not send.
pub fn render(template: &Map<String, Value>, fill: impl Fn(&str) -> Option<Value>) -> Value {
    Value::Object(
        template
            .iter()
            .map(|(k, v)| (k.clone(), fill(k).unwrap_or_else(|| v.clone())))
            .collect(),
    )
}

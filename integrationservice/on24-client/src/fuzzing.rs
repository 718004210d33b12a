//! What the fuzz targets in `xtask/fuzz` reach: the decoding of ON24's answers (whole bodies,
//! the streamed attendee array, and error bodies into a classified error), through the same
//! functions the client calls. One-line wrappers only. Not an API.

use serde::de::DeserializeOwned;

pub use crate::de::Lenient;

pub use crate::On24Error;
pub use crate::people::{
    Attendee, AttendeePage, AttendeeSessionPage, DeletedRegistrants, ForgetResponse, Registrant,
    RegistrantPage,
};
pub use crate::types::{ClientInfo, Event, EventPage, MessageResponse, WccEvent};

/// Decodes a 2xx body as the client does.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, On24Error> {
    crate::client::decode("fuzz", body)
}

/// The error the client makes of a non-2xx answer.
pub fn error_for_answer(status: u16, body: &[u8]) -> On24Error {
    On24Error::from_status("fuzz", status, crate::error::extract_message(body))
}

/// Streams the array `field` of a body that arrives in `chunks`, keeping the elements that
/// decode as `T`, as `On24Client::each_event_attendee` does.
pub fn parse_streamed<T: Lenient>(
    chunks: Vec<Vec<u8>>,
    field: &'static str,
) -> Result<Vec<T>, On24Error> {
    let (tx, rx) = tokio::sync::mpsc::channel(chunks.len().max(1));
    for chunk in chunks {
        // Cannot fail: the channel holds every chunk and the receiver is alive.
        let _ = tx.try_send(chunk);
    }
    drop(tx);
    crate::client::parse_array(rx, field, Some, "fuzz")
}

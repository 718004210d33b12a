//! ON24's answers (on24-client): any body decodes or fails without panicking as every answer
//! type; an error body becomes a classified error whose `Display` and `Debug` stay short (no
//! answer text rides along); the streamed attendee array reads the same whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use on24_client::fuzzing::{
    Attendee, AttendeePage, AttendeeSessionPage, ClientInfo, DeletedRegistrants, Event,
    EventPage, ForgetResponse, MessageResponse, Registrant, RegistrantPage, WccEvent, decode,
    error_for_answer, parse_streamed,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let _ = decode::<ClientInfo>(body);
    let _ = decode::<Event>(body);
    let _ = decode::<EventPage>(body);
    let _ = decode::<WccEvent>(body);
    let _ = decode::<MessageResponse>(body);
    let _ = decode::<Registrant>(body);
    let _ = decode::<RegistrantPage>(body);
    let _ = decode::<AttendeePage>(body);
    let _ = decode::<AttendeeSessionPage>(body);
    let _ = decode::<ForgetResponse>(body);
    let _ = decode::<DeletedRegistrants>(body);

    let status = [400, 401, 403, 404, 410, 412, 429, 500, 502, 503][usize::from(selector) % 10];
    let error = error_for_answer(status, body);
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(shown.len() <= 100, "Display carries answer text: {shown}");
    assert!(debug.len() <= 200, "Debug carries answer text: {debug}");

    let whole = parse_streamed::<Attendee>(vec![body.to_vec()], "attendees");
    let at = usize::from(selector).min(body.len());
    let split = parse_streamed::<Attendee>(
        vec![body[..at].to_vec(), Vec::new(), body[at..].to_vec()],
        "attendees",
    );
    match (whole, split) {
        (Ok(a), Ok(b)) => assert_eq!(a.len(), b.len()),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("chunking changed the outcome: {:?} vs {:?}", a.is_ok(), b.is_ok()),
    }
});

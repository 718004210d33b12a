//! The typed operations of `On24Client`: one method per job the product needs, each
//! building its `Operation`, sending it and checking what the answer must contain.

use super::client::{On24Client, decode};
use super::error::On24Error;
use super::forms::{EventUpdate, NewEvent, RegistrantForm, RegistrantUpdate};
use super::pagination::collect_all;
use super::request::{DateRange, Operation, PageRequest};
use super::types::*;

impl On24Client {
    // ---- account -------------------------------------------------------------------

    /// `GET /client/{clientId}`: the account name and sub-accounts.
    pub async fn get_client(&self) -> Result<ClientInfo, On24Error> {
        self.call(&Operation::GetClient).await
    }

    /// Proves the credential works with the cheapest read ON24 documents for it:
    /// one event list item (`GET /client/{clientId}/event?itemsperpage=1`).
    pub async fn check_credentials(&self) -> Result<(), On24Error> {
        let page = PageRequest {
            offset: 0,
            items_per_page: 1,
        };
        self.list_events_page(page, DateRange::default())
            .await
            .map(|_| ())
    }

    // ---- events --------------------------------------------------------------------

    pub async fn list_events_page(
        &self,
        page: PageRequest,
        range: DateRange,
    ) -> Result<EventPage, On24Error> {
        self.call(&Operation::ListEvents { page, range }).await
    }

    /// Every event in `range`, reading pages to the end.
    pub async fn list_events(&self, range: DateRange) -> Result<Vec<Event>, On24Error> {
        collect_all::<EventPage>(self, move |page| Operation::ListEvents {
            page,
            range: range.clone(),
        })
        .await
    }

    /// Creates a webinar; the answer carries the new `eventId`.
    pub async fn create_event(&self, event: &NewEvent) -> Result<WccEvent, On24Error> {
        let op = Operation::CreateEvent(event.clone());
        let envelope: WccEventEnvelope = self.call(&op).await?;
        envelope
            .wccevent
            .filter(|e| e.event_id.is_some())
            .ok_or_else(|| missing(op.name(), "wccevent.eventId"))
    }

    pub async fn get_event(&self, event_id: u64) -> Result<Event, On24Error> {
        self.call(&Operation::GetEvent { event_id }).await
    }

    pub async fn update_event(
        &self,
        event_id: u64,
        update: &EventUpdate,
    ) -> Result<WccEvent, On24Error> {
        let op = Operation::UpdateEvent {
            event_id,
            update: update.clone(),
        };
        let envelope: WccEventEnvelope = self.call(&op).await?;
        Ok(envelope.wccevent.unwrap_or_default())
    }

    pub async fn delete_event(&self, event_id: u64) -> Result<MessageResponse, On24Error> {
        self.call(&Operation::DeleteEvent { event_id }).await
    }

    // ---- registrants ---------------------------------------------------------------

    /// Registers (or, for an email already registered, updates) a person; the answer
    /// carries ON24's `eventuserid`. Safe to retry: ON24 upserts by email per event.
    pub async fn create_registrant(
        &self,
        event_id: u64,
        registrant: &RegistrantForm,
    ) -> Result<Registrant, On24Error> {
        let op = Operation::CreateRegistrant {
            event_id,
            registrant: registrant.clone(),
        };
        let r: Registrant = self.call(&op).await?;
        if r.eventuserid.is_none() {
            return Err(missing(op.name(), "eventuserid"));
        }
        Ok(r)
    }

    /// Updates a registrant found by email (`PATCH`).
    pub async fn update_registrant(
        &self,
        event_id: u64,
        update: &RegistrantUpdate,
    ) -> Result<Registrant, On24Error> {
        let op = Operation::UpdateRegistrant {
            event_id,
            update: update.clone(),
        };
        self.call(&op).await
    }

    /// Cancels a registration (`isDeleted=Y`); ON24 refuses it once the event started.
    pub async fn soft_delete_registrant(
        &self,
        event_id: u64,
        email: &str,
    ) -> Result<(), On24Error> {
        let op = Operation::SoftDeleteRegistrant {
            event_id,
            email: email.to_owned(),
        };
        self.send(&op).await.map(|_| ())
    }

    /// The event's registration fields: ON24's standard ones and the custom questions, each
    /// with whether an answer is required and its allowed choices.
    pub async fn list_registration_fields(
        &self,
        event_id: u64,
    ) -> Result<Vec<RegistrationField>, On24Error> {
        let r: RegistrationFields = self
            .call(&Operation::ListRegistrationFields { event_id })
            .await?;
        Ok(r.registrationfields)
    }

    /// A registrant by email, across the account or within one event.
    pub async fn get_registrant(
        &self,
        email: &str,
        event_id: Option<u64>,
    ) -> Result<Registrant, On24Error> {
        let op = Operation::GetRegistrant {
            email: email.to_owned(),
            event_id,
        };
        let body = self.send(&op).await?;
        // The contract wraps it in `{"registrant": {...}}`; accept a bare object too.
        let envelope: RegistrantEnvelope = decode(op.name(), &body)?;
        match envelope.registrant {
            Some(r) => Ok(r),
            None => decode(op.name(), &body),
        }
    }

    /// An event's registrants (one answer: the contract has no pagination here).
    pub async fn list_event_registrants(&self, event_id: u64) -> Result<RegistrantPage, On24Error> {
        self.list_event_registrants_in(event_id, DateRange::default())
            .await
    }

    /// An event's registrants registered within `range` (ON24 filters on the registration
    /// date unless `range.mode` says otherwise): what an incremental read asks for.
    pub async fn list_event_registrants_in(
        &self,
        event_id: u64,
        range: DateRange,
    ) -> Result<RegistrantPage, On24Error> {
        self.call(&Operation::ListEventRegistrants { event_id, range })
            .await
    }

    /// The event's registrants registered within `range`, each passed to `each` as it is read
    /// and what it returns kept: ON24 answers an event's whole registrant list in one body, and
    /// a big event's is too large to hold (see `call_array`).
    pub async fn each_event_registrant<R, F>(
        &self,
        event_id: u64,
        range: DateRange,
        each: F,
    ) -> Result<Vec<R>, On24Error>
    where
        R: Send + 'static,
        F: FnMut(Registrant) -> Option<R> + Send + 'static,
    {
        self.call_array(
            &Operation::ListEventRegistrants { event_id, range },
            "registrants",
            each,
        )
        .await
    }

    /// Every registrant of the account in `range`, reading pages to the end.
    pub async fn list_client_registrants(
        &self,
        range: DateRange,
    ) -> Result<Vec<Registrant>, On24Error> {
        collect_all::<RegistrantPage>(self, move |page| Operation::ListClientRegistrants {
            page,
            range: range.clone(),
        })
        .await
    }

    // ---- forget (GDPR) -------------------------------------------------------------

    /// Forgets people by email across the account, or in one event; returns the
    /// `eventuserid`s ON24 erased.
    pub async fn forget(
        &self,
        emails: &[String],
        event_id: Option<u64>,
    ) -> Result<Vec<u64>, On24Error> {
        let op = Operation::Forget {
            emails: emails.to_vec(),
            event_id,
        };
        let r: ForgetResponse = self.call(&op).await?;
        Ok(r.deletedregistrants.eventuserids)
    }

    /// Forgets every registrant of an event.
    pub async fn forget_all_in_event(&self, event_id: u64) -> Result<Vec<u64>, On24Error> {
        let r: ForgetResponse = self.call(&Operation::ForgetAllInEvent { event_id }).await?;
        Ok(r.deletedregistrants.eventuserids)
    }

    // ---- analytics -----------------------------------------------------------------

    /// An event's attendee analytics (one answer: the contract has no pagination here).
    pub async fn list_event_attendees(&self, event_id: u64) -> Result<AttendeePage, On24Error> {
        self.list_event_attendees_in(event_id, DateRange::default())
            .await
    }

    /// The attendees active within `range` (see `DateFilterMode::LastActivity`): what an
    /// incremental read asks for.
    pub async fn list_event_attendees_in(
        &self,
        event_id: u64,
        range: DateRange,
    ) -> Result<AttendeePage, On24Error> {
        self.call(&Operation::ListEventAttendees { event_id, range })
            .await
    }

    /// The report of the attendees active within `range` (all with the default range), each
    /// attendee passed to `each` as it is read and what it returns kept: for big events, whose
    /// report is one body too large to hold (see `call_array`).
    pub async fn each_event_attendee<R, F>(
        &self,
        event_id: u64,
        range: DateRange,
        each: F,
    ) -> Result<Vec<R>, On24Error>
    where
        R: Send + 'static,
        F: FnMut(Attendee) -> Option<R> + Send + 'static,
    {
        self.call_array(
            &Operation::ListEventAttendees { event_id, range },
            "attendees",
            each,
        )
        .await
    }

    /// Attendee analytics across the account in `range`, reading pages to the end.
    pub async fn list_client_attendees(
        &self,
        range: DateRange,
    ) -> Result<Vec<Attendee>, On24Error> {
        collect_all::<AttendeePage>(self, move |page| Operation::ListClientAttendees {
            page,
            range: range.clone(),
        })
        .await
    }

    /// Every viewing session of an event, reading pages to the end.
    pub async fn list_attendee_sessions(
        &self,
        event_id: u64,
    ) -> Result<Vec<AttendeeSession>, On24Error> {
        collect_all::<AttendeeSessionPage>(self, move |page| Operation::ListAttendeeSessions {
            event_id,
            page,
        })
        .await
    }
}

fn missing(operation: &'static str, field: &str) -> On24Error {
    On24Error::Decode {
        operation,
        detail: format!("the answer has no {field}"),
    }
}

//! The one portable diesel schema shared by PostgreSQL and SQLite (see `migrations/integrationservice`).
//! Times are milliseconds since the Unix epoch so both backends store them the same way.

diesel::table! {
    provider_configs (tenant) {
        tenant -> Text,
        provider -> Text,
        client_id -> BigInt,
        region -> Text,
        base_url -> Nullable<Text>,
        key_hint -> Text,
        wrapped_dek -> Binary,
        dek_key_version -> Integer,
        nonce -> Binary,
        ciphertext -> Binary,
        secret_version -> BigInt,
        status -> Text,
        status_message -> Nullable<Text>,
        last_check_at -> Nullable<BigInt>,
        last_metrics_at -> Nullable<BigInt>,
        throttle_until -> Nullable<BigInt>,
        throttle_level -> Integer,
        deleted -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webinars (tenant, id) {
        tenant -> Text,
        id -> Text,
        crm_reference_id -> Text,
        request_id -> Nullable<Text>,
        description -> Nullable<Text>,
        on24_event_id -> Nullable<BigInt>,
        linked -> Bool,
        title -> Text,
        start_at -> BigInt,
        duration_minutes -> Integer,
        time_zone -> Text,
        language -> Text,
        event_type -> Text,
        status -> Text,
        last_error -> Nullable<Text>,
        audience_url -> Nullable<Text>,
        report_url -> Nullable<Text>,
        preview_url -> Nullable<Text>,
        next_metrics_at -> Nullable<BigInt>,
        last_metrics_at -> Nullable<BigInt>,
        metrics_watermark -> Nullable<BigInt>,
        deleted -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        registration_questions -> Nullable<Text>,
        questions_read_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    registrations (tenant, id) {
        tenant -> Text,
        id -> Text,
        webinar_id -> Text,
        email -> Nullable<Text>,
        first_name -> Text,
        last_name -> Text,
        company -> Nullable<Text>,
        job_title -> Nullable<Text>,
        crm_reference_id -> Nullable<Text>,
        extra -> Text,
        status -> Text,
        eventuserid -> Nullable<BigInt>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<BigInt>,
        request_id -> Nullable<Text>,
        delivered_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        origin -> Text,
        attendance -> Text,
        email_hash -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_jobs (tenant, id) {
        id -> BigInt,
        tenant -> Text,
        kind -> Text,
        webinar_id -> Nullable<Text>,
        registration_id -> Nullable<Text>,
        payload -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_run_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        trace_context -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        claims -> Integer,
    }
}

diesel::table! {
    attendee_metrics (tenant, webinar_id, email_hash) {
        tenant -> Text,
        webinar_id -> Text,
        email -> Text,
        eventuserid -> Nullable<BigInt>,
        live_minutes -> BigInt,
        archive_minutes -> BigInt,
        cumulative_live_minutes -> BigInt,
        cumulative_archive_minutes -> BigInt,
        engagement_score -> Double,
        questions_asked -> BigInt,
        polls_answered -> BigInt,
        surveys_answered -> BigInt,
        resources_downloaded -> BigInt,
        first_live_activity_at -> Nullable<BigInt>,
        last_live_activity_at -> Nullable<BigInt>,
        updated_at -> BigInt,
        first_archive_activity_at -> Nullable<BigInt>,
        last_archive_activity_at -> Nullable<BigInt>,
        email_hash -> Text,
        interactions_digest -> Nullable<Text>,
    }
}

diesel::table! {
    attendee_interactions (tenant, webinar_id, email_hash, position) {
        tenant -> Text,
        webinar_id -> Text,
        email -> Text,
        position -> Integer,
        kind -> Text,
        occurred_at -> Nullable<BigInt>,
        reference -> Text,
        prompt -> Text,
        response -> Text,
        responded_at -> Nullable<BigInt>,
        email_hash -> Text,
    }
}

diesel::table! {
    changes (tenant, seq) {
        seq -> BigInt,
        tenant -> Text,
        kind -> Text,
        webinar_id -> Nullable<Text>,
        registration_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Feed entries not yet sequenced into `changes` (PostgreSQL; see `store::changes`).
    changes_pending (tenant, id) {
        id -> BigInt,
        tenant -> Text,
        kind -> Text,
        webinar_id -> Nullable<Text>,
        registration_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One row per forget request (`store::erasure_requests`); never the person's email.
    erasure_requests (tenant, id) {
        tenant -> Text,
        id -> Text,
        state -> Text,
        failure_reason -> Nullable<Text>,
        registration_count -> BigInt,
        metrics_count -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        completed_at -> Nullable<BigInt>,
        email_hash -> Nullable<Text>,
    }
}

diesel::table! {
    /// Which replica runs a singleton job (`store::leases`) and until when.
    worker_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Per-tenant secrets by purpose (`store::tenant_keys`), each a data key kept only
    /// wrapped by the key service.
    tenant_keys (tenant, purpose) {
        tenant -> Text,
        purpose -> Text,
        wrapped_key -> Binary,
        kek_version -> Integer,
        created_at -> BigInt,
        kek -> Text,
    }
}

diesel::table! {
    /// Suppressed people by keyed hash of their email (`store::suppressions`); never the email.
    suppressions (tenant, email_hash) {
        tenant -> Text,
        email_hash -> Text,
        created_at -> BigInt,
        erasure_request_id -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    provider_configs,
    webinars,
    registrations,
    outbox_jobs,
    attendee_metrics,
    attendee_interactions,
    changes,
);

diesel::table! {
    /// A tenant's retention overrides (`store::retention`); NULL: the deployment's default.
    retention_policies (tenant) {
        tenant -> Text,
        registration_days -> Nullable<Integer>,
        cancelled_registration_days -> Nullable<Integer>,
        unlinked_webinar_days -> Nullable<Integer>,
        failed_job_days -> Nullable<Integer>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// One summary per purge run (`store::retention`): counts only.
    purge_runs (id) {
        id -> Text,
        started_at -> BigInt,
        finished_at -> BigInt,
        registrations -> BigInt,
        attendee_metrics -> BigInt,
        cancelled_registrations -> BigInt,
        webinars -> BigInt,
        jobs -> BigInt,
        changes -> BigInt,
    }
}

diesel::table! {
    /// Per tenant, the highest change-feed `seq` the purge deleted (`store::retention`).
    change_feed_horizons (tenant) {
        tenant -> Text,
        purged_through_seq -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// A tenant's data minimisation (`store::minimisation`); NULL fields: every field.
    minimisation_policies (tenant) {
        tenant -> Text,
        allowed_fields -> Nullable<Text>,
        metrics_registered_only -> Bool,
        updated_at -> BigInt,
    }
}

//! Portable diesel schema of `migrations/keyservice/{postgres,sqlite}` (same columns and
//! types on both; times are microseconds since the Unix epoch).

diesel::table! {
    keys (id) {
        id -> Text,
        purpose -> Integer,
        state -> Integer,
        primary_version -> Integer,
        min_decryption_version -> Integer,
        rotation_period_secs -> Nullable<BigInt>,
        max_wraps_per_version -> BigInt,
        delete_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        generation -> BigInt,
    }
}

diesel::table! {
    key_versions (key_id, version) {
        key_id -> Text,
        version -> Integer,
        state -> Integer,
        sealed_kek -> Binary,
        wrap_count -> BigInt,
        created_at -> BigInt,
        last_unwrap_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(key_versions -> keys (key_id));
diesel::allow_tables_to_appear_in_same_query!(keys, key_versions);

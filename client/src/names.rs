//! Resource names of `webinar.v1` (`tenants/{tenant}/webinars/{webinar}/...`): building them
//! from short ids so people can type `webinarctl webinar show 0190…` instead of the full name.

/// `tenants/{tenant}`.
pub fn tenant(tenant: &str) -> String {
    format!("tenants/{tenant}")
}

/// `tenants/{tenant}/on24Credentials`.
pub fn credentials(tenant: &str) -> String {
    format!("tenants/{tenant}/on24Credentials")
}

/// A webinar name from a full name or a bare id.
pub fn webinar(tenant: &str, id_or_name: &str) -> String {
    if id_or_name.starts_with("tenants/") {
        id_or_name.to_string()
    } else {
        format!("tenants/{tenant}/webinars/{id_or_name}")
    }
}

/// A registration name from a full name, or a webinar and a bare id.
pub fn registration(tenant: &str, webinar_id_or_name: Option<&str>, id_or_name: &str) -> String {
    if id_or_name.starts_with("tenants/") {
        return id_or_name.to_string();
    }
    let parent = webinar(tenant, webinar_id_or_name.unwrap_or("-"));
    format!("{parent}/registrations/{id_or_name}")
}

/// An erasure request name from a full name or a bare id.
pub fn erasure_request(tenant: &str, id_or_name: &str) -> String {
    if id_or_name.starts_with("tenants/") {
        id_or_name.to_string()
    } else {
        format!("tenants/{tenant}/erasureRequests/{id_or_name}")
    }
}

/// A key name from a full name (`keys/x`) or an id.
pub fn key(id_or_name: &str) -> String {
    if id_or_name.starts_with("keys/") {
        id_or_name.to_string()
    } else {
        format!("keys/{id_or_name}")
    }
}

/// The last segment of a resource name (the short id).
pub fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_and_full_names_both_work() {
        assert_eq!(webinar("demo", "w1"), "tenants/demo/webinars/w1");
        assert_eq!(
            webinar("demo", "tenants/x/webinars/w1"),
            "tenants/x/webinars/w1"
        );
        assert_eq!(
            registration("demo", Some("w1"), "r1"),
            "tenants/demo/webinars/w1/registrations/r1"
        );
        assert_eq!(key("on24-credentials"), "keys/on24-credentials");
        assert_eq!(short("tenants/demo/webinars/w1"), "w1");
    }
}

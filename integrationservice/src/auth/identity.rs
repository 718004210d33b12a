//! Who a caller is, by the rules both services share (`servicekit::identity`): the single
//! URI SAN of its client certificate, `cn:<common name>` for a certificate without one where
//! `auth.allow_common_name` is on, or `jwt:<sub>` from its bearer token. The TLS layer has
//! already verified the certificate chains to the configured client CA.

pub(crate) use servicekit::identity::{CertificateIdentity, CommonNames, Principal};

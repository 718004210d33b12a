//! Typed Rust client for the integration service (`webinar.v1`) and the key service admin API
//! (`keyservice.v1`), used by the `webinarctl` CLI and by anyone embedding the integration in
//! Rust.
//!
//! ```no_run
//! # async fn demo() -> Result<(), webinar_client::ClientError> {
//! use webinar_client::{ConnectOptions, StackFile, WebinarApi};
//! let stack = StackFile::load(".state/stack.json")?;
//! let conn = ConnectOptions::integration_from_stack(&stack, "crm-demo")?.connect()?;
//! let api = WebinarApi::new(conn, &stack.demo.tenant);
//! let first_page = api.list_webinars_page(None, 10, false).await?;
//! # let _ = first_page; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod changes;
pub mod channel;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod keys;
pub mod names;
pub mod paging;
pub mod retry;
pub mod stack;
pub mod webinar;

pub use channel::{ConnectOptions, Connection};
pub use error::{ClientError, ErrorKind, exit_code};
pub use keys::KeyAdmin;
pub use retry::RetryPolicy;
pub use stack::StackFile;
pub use webinar::WebinarApi;

/// The generated messages and stubs, re-exported so users need only this crate.
pub use proto::{keyservice::v1 as keyservice_v1, webinar::v1 as webinar_v1};

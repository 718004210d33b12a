//! Integration tests of the webinar client and webinarctl: the library against a real TLS
//! gRPC server (retries, bearer tokens, change-feed resume), and the whole local stack started
//! by `xtask up` as a process (the webinarctl tour, restart, CSV import with and without
//! question answers, backfill).

mod backfill;
mod feed_server;
mod import;
mod import_questions;
mod library;
mod person;
mod stack;
mod tour;

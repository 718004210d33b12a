//! Integration tests of the ON24 simulator over real HTTP (reqwest against an in-process
//! simulator on 127.0.0.1:0).

mod analytics;
mod auth;
mod cli;
mod common;
mod contract;
mod events;
mod faults;
mod journal;
mod quota;
mod registrants;
mod time;

//! What the store promises on each backend: registration writes, the change feed under
//! concurrent writers, and the indexes behind the delivery's checks.

mod feed;
mod indexes;
mod registration_writes;

//! Reading paginated ON24 lists to the end (`pageoffset` zero-based + `itemsperpage`).
//!
//! ON24 is not consistent about telling where the end is: some answers carry
//! `pagecount`, some only a total, some neither. The walk stops at the first of: a short
//! or empty page, the last page by `pagecount`, the reported total reached, or a hard
//! page cap — so a server that ignores `pageoffset` cannot keep us looping.

use futures::{Stream, TryStreamExt, stream};
use serde::de::DeserializeOwned;

use super::client::{MAX_PAGES, On24Client, page_size};
use super::error::On24Error;
use super::request::{Operation, PageRequest};
use super::types::Paged;

struct Walk {
    offset: u32,
    seen: u64,
    done: bool,
}

/// A stream of pages (each a `Vec` of items) built by `make` for each page request.
/// Each page is one API call, made only when the stream is polled.
pub fn pages<'a, P>(
    client: &'a On24Client,
    make: impl Fn(PageRequest) -> Operation + 'a,
) -> impl Stream<Item = Result<Vec<P::Item>, On24Error>> + 'a
where
    P: Paged + DeserializeOwned + 'a,
    P::Item: 'a,
{
    let size = page_size(client);
    let start = Walk {
        offset: 0,
        seen: 0,
        done: false,
    };
    stream::try_unfold((start, make), move |(mut walk, make)| async move {
        if walk.done {
            return Ok(None);
        }
        let op = make(PageRequest {
            offset: walk.offset,
            items_per_page: size,
        });
        let page: P = client.call(&op).await?;
        let total = page.total();
        let page_count = page.page_count();
        let items = page.into_items();
        walk.seen += items.len() as u64;
        walk.offset += 1;
        walk.done = (items.len() as u64) < u64::from(size)
            || page_count.is_some_and(|n| u64::from(walk.offset) >= n)
            || total.is_some_and(|t| walk.seen >= t)
            || walk.offset >= MAX_PAGES;
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some((items, (walk, make))))
    })
}

/// Every item of every page, in order.
pub async fn collect_all<P>(
    client: &On24Client,
    make: impl Fn(PageRequest) -> Operation,
) -> Result<Vec<P::Item>, On24Error>
where
    P: Paged + DeserializeOwned,
{
    pages::<P>(client, make).try_concat().await
}

//! Page iterators: turn any `page_token` / `next_page_token` list RPC into a stream of items
//! that fetches the next page only when the previous one is consumed.

use std::future::Future;

use futures::{
    StreamExt, TryStreamExt,
    stream::{self, BoxStream},
};

use crate::ClientError;

/// Streams every item of a paginated list. `fetch(token)` returns one page and the next token
/// (empty on the last page); the first call gets an empty token.
pub fn paginate<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T, ClientError>>
where
    T: Send + 'static,
    F: FnMut(String) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, String), ClientError>> + Send + 'static,
{
    stream::try_unfold(
        (fetch, Some(String::new())),
        |(mut fetch, token)| async move {
            let Some(token) = token else {
                return Ok::<_, ClientError>(None);
            };
            let (items, next) = fetch(token).await?;
            let next = (!next.is_empty()).then_some(next);
            Ok(Some((items, (fetch, next))))
        },
    )
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follows_tokens_until_the_last_page() {
        let pages = paginate(|token: String| async move {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "a".to_string()),
                "a" => (vec![3], "b".to_string()),
                _ => (vec![4], String::new()),
            })
        });
        let all: Vec<i32> = pages.try_collect().await.expect("pages");
        assert_eq!(all, vec![1, 2, 3, 4]);
    }
}

//! Reading the global feed page by page.

use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt};

use super::{ReadAllOptions, StoreResult};
use crate::event::StoredEvent;

/// Turns a page reader into the global feed stream.
///
/// `fetch_page(after, size)` returns up to `size` events matching the
/// options' filter with a position above `after`, in position order. The
/// stream asks for the next page only when the previous one is consumed, so
/// memory stays bounded by one page whatever the store's size, and it stops
/// at the options' limit or at the first short page.
pub fn paged_feed<'a, F, Fut>(
    options: ReadAllOptions,
    fetch_page: F,
) -> BoxStream<'a, StoreResult<StoredEvent>>
where
    F: Fn(Option<u64>, usize) -> Fut + Send + Sync + 'a,
    Fut: Future<Output = StoreResult<Vec<StoredEvent>>> + Send + 'a,
{
    struct Cursor {
        after: Option<u64>,
        delivered: u64,
        done: bool,
    }

    let start = Cursor {
        after: options.after,
        delivered: 0,
        done: false,
    };
    stream::try_unfold(start, move |mut cursor| {
        let size = if cursor.done {
            None
        } else {
            options.next_page_size(cursor.delivered)
        };
        let page = size.map(|size| fetch_page(cursor.after, size));
        async move {
            let (Some(page), Some(size)) = (page, size) else {
                return Ok(None);
            };
            let events = page.await?;
            cursor.done = events.len() < size;
            cursor.delivered += events.len() as u64;
            if let Some(last) = events.last() {
                cursor.after = Some(last.position);
            }
            if events.is_empty() {
                return Ok(None);
            }
            Ok(Some((stream::iter(events.into_iter().map(Ok)), cursor)))
        }
    })
    .map(|page| match page {
        Ok(events) => events.left_stream(),
        Err(error) => stream::once(async { Err(error) }).right_stream(),
    })
    .flatten()
    .boxed()
}

//! Page tokens and change-feed cursors (integration service): arbitrary tokens are refused
//! without panicking; sealed tokens open for their scope only and give back the cursor; the
//! domain's inner page token and the feed cursor round-trip.
#![no_main]

use integrationservice::fuzzing::{
    TenantId, change_cursor, decode_page_token, encode_page_token, open_change_cursor,
    page_tokens,
};
use libfuzzer_sys::fuzz_target;

/// The input, as lines: scope, cursor, token, tenant id (missing lines are empty). The feed
/// position is the cursor read as a number, else its length.
#[derive(Debug)]
struct Input<'a> {
    scope: &'a str,
    cursor: &'a str,
    token: &'a str,
    tenant: &'a str,
    seq: i64,
}

impl<'a> Input<'a> {
    fn read(text: &'a str) -> Self {
        let mut lines = text.splitn(4, '\n');
        let mut next = || lines.next().unwrap_or_default();
        let (scope, cursor, token, tenant) = (next(), next(), next(), next());
        let seq = cursor.parse().unwrap_or(cursor.len() as i64);
        Self {
            scope,
            cursor,
            token,
            tenant,
            seq,
        }
    }
}

/// The longest token the API opens.
const MAX_TOKEN_LEN: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input = Input::read(text);
    let tokens = page_tokens(&[7u8; 32]);
    let _ = tokens.decode(input.scope, input.token);
    let _ = decode_page_token(input.scope, input.token);

    let sealed = tokens.encode(input.scope, input.cursor);
    if sealed.len() <= MAX_TOKEN_LEN {
        assert_eq!(
            tokens.decode(input.scope, &sealed).as_deref(),
            Ok(input.cursor)
        );
    }
    let other_scope = format!("{}!", input.scope);
    assert!(tokens.decode(&other_scope, &sealed).is_err());
    assert!(page_tokens(&[8u8; 32]).decode(input.scope, &sealed).is_err());

    let inner = encode_page_token(input.scope, input.cursor);
    let back = decode_page_token(input.scope, &inner);
    if !input.cursor.is_empty() && input.cursor.len() <= 254 {
        assert_eq!(back.ok().flatten().as_deref(), Some(input.cursor));
    }

    if let Ok(tenant) = TenantId::parse(input.tenant) {
        let _ = open_change_cursor(&tokens, &tenant, input.token);
        let cursor = change_cursor(&tokens, &tenant, input.seq);
        assert_eq!(open_change_cursor(&tokens, &tenant, &cursor), Ok(input.seq));
    }
});

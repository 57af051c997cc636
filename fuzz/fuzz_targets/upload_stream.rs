//! An upload request's body as `api/files.rs` reads it: the multipart stream split
//! into fields (axum's `Multipart`, the extractor the handler uses), each `file`
//! field's name checked and its bytes streamed onto a storage under a cap. Whatever
//! arrives: no panic, a stored file holds exactly the bytes of its field and never
//! more than the cap, and a refused field leaves nothing on the storage.
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, header};
use convene::files::area::{self, StoreError};
use convene::files::{SharedStorage, names};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};

/// Small, so that the over-cap path is taken by short inputs too.
const CAP: u64 = 300;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the boundary's length (1–16 bytes of the input follow it).
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = (len as usize % 16 + 1).min(rest.len());
    let (boundary, body) = rest.split_at(len);
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(upload(boundary.to_string(), body.to_vec()));
});

async fn upload(boundary: String, body: Vec<u8>) {
    let Ok(request) = Request::builder()
        .method("POST")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
    else {
        return;
    };
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return;
    };
    let storage = SharedStorage::in_memory();
    while let Ok(Some(mut field)) = multipart.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let raw = field.file_name().unwrap_or("").to_string();
        if names::check_name(&raw).is_err() {
            continue;
        }
        // Tee the field's bytes, to compare what was stored with what was sent.
        let mut sent = Vec::new();
        let mut failed = false;
        let chunks = futures_util::stream::poll_fn(|cx| field.poll_next_unpin(cx)).map(|c| {
            match &c {
                Ok(bytes) => sent.extend_from_slice(bytes),
                Err(_) => failed = true,
            }
            c
        });
        match area::store_stream(&storage, Box::pin(chunks), CAP).await {
            Ok(stored) => {
                assert!(!failed);
                assert!(stored.size <= CAP);
                assert_eq!(stored.size, sent.len() as u64);
                assert_eq!(stored.sha256, hex::encode(Sha256::digest(&sent)));
                assert_eq!(stored.head, sent[..sent.len().min(area::HEAD_BYTES)]);
                let back = storage.get(&stored.key).await.unwrap();
                assert_eq!(back, sent);
                storage.delete(&stored.key).await.unwrap();
            }
            Err(StoreError::OverCap) => assert!(sent.len() as u64 > CAP),
            Err(StoreError::Body(_)) => {}
            Err(StoreError::Storage(e)) => panic!("in-memory storage failed: {e}"),
        }
        // Nothing is left behind, whether the field was stored (and removed) or refused.
        let left: Vec<_> = storage.object_store().list(None).collect().await;
        assert!(left.is_empty(), "{left:?}");
    }
}

//! The media scenarios again, on a real S3-compatible server (`CONFIDE_TEST_S3_URL`, started by
//! `.ci/run`); each test makes its own bucket.

use super::Backend;

async fn backend() -> Option<Backend> {
    let b = Backend::s3().await;
    if b.is_none() {
        println!("skipped: set CONFIDE_TEST_S3_URL to run the media tests on S3");
    }
    b
}

#[tokio::test]
async fn uploads_are_typed_by_content_and_refused_plainly() {
    let Some(b) = backend().await else { return };
    super::uploads_are_typed_by_content_and_refused_plainly(b).await;
}

#[tokio::test]
async fn stored_bytes_are_sealed_and_a_tampered_object_does_not_open() {
    let Some(b) = backend().await else { return };
    super::stored_bytes_are_sealed_and_a_tampered_object_does_not_open(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_serve_exact_bytes_once_valid_and_nothing_otherwise() {
    let Some(b) = backend().await else { return };
    super::links_serve_exact_bytes_once_valid_and_nothing_otherwise(b).await;
}

#[tokio::test]
async fn ranges_serve_the_asked_bytes_for_players() {
    let Some(b) = backend().await else { return };
    super::ranges_serve_the_asked_bytes_for_players(b).await;
}

#[tokio::test]
async fn usage_deletion_and_the_orphan_sweep() {
    let Some(b) = backend().await else { return };
    super::usage_deletion_and_the_orphan_sweep(b).await;
}

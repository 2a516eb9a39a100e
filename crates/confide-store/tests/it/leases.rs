//! Dispatch leases: one holder per channel until its lease expires; renewal by the holder,
//! takeover after expiry, release.

use crate::harness::TestDb;
use confide_core::ids::ChannelId;
use confide_store::leases::Lease;

pub async fn a_dispatch_lease_has_one_holder_until_it_expires(db: &TestDb) {
    let channel: ChannelId = "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap();
    let other: ChannelId = "01890a5d-ac96-774b-bcce-b302099a8058".parse().unwrap();
    let s = &db.store;
    assert_eq!(
        s.acquire_dispatch_lease(channel, "a", 100, 200)
            .await
            .unwrap(),
        Lease::Held
    );
    // Another holder waits until it expires; the holder renews.
    assert_eq!(
        s.acquire_dispatch_lease(channel, "b", 150, 250)
            .await
            .unwrap(),
        Lease::Busy
    );
    assert_eq!(
        s.acquire_dispatch_lease(channel, "a", 150, 250)
            .await
            .unwrap(),
        Lease::Held
    );
    assert_eq!(
        s.acquire_dispatch_lease(channel, "b", 249, 349)
            .await
            .unwrap(),
        Lease::Busy
    );
    assert_eq!(
        s.dispatch_lease(channel).await.unwrap(),
        Some(("a".to_string(), 250))
    );
    // Each channel has its own.
    assert_eq!(
        s.acquire_dispatch_lease(other, "b", 249, 349)
            .await
            .unwrap(),
        Lease::Held
    );
    // Expired: taken over; the old holder cannot renew it.
    assert_eq!(
        s.acquire_dispatch_lease(channel, "b", 250, 350)
            .await
            .unwrap(),
        Lease::Held
    );
    assert_eq!(
        s.acquire_dispatch_lease(channel, "a", 260, 360)
            .await
            .unwrap(),
        Lease::Busy
    );
    // Released: free at once; only its holder releases it.
    s.release_dispatch_lease(channel, "a").await.unwrap();
    assert_eq!(
        s.dispatch_lease(channel).await.unwrap(),
        Some(("b".to_string(), 350))
    );
    s.release_dispatch_lease(channel, "b").await.unwrap();
    assert_eq!(s.dispatch_lease(channel).await.unwrap(), None);
    assert_eq!(
        s.acquire_dispatch_lease(channel, "a", 270, 370)
            .await
            .unwrap(),
        Lease::Held
    );
}

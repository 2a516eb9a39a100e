//! The application layer checks each use case's permission itself, whatever called it: the route
//! table's guard is the first check, not the only one, so the CLI, pages and workers that call a
//! use case directly cannot skip authorization (issue 9; C6).

use crate::harness::TestApp;
use confide_app::Code;
use confide_app::principal::{Principal, PrincipalKind};
use std::collections::BTreeSet;

#[tokio::test]
async fn use_cases_refuse_a_principal_without_their_permission_whoever_calls_them() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    // The viewer's role, with every permission taken away: a principal no route would let
    // through, handed straight to the use cases.
    let nobody = Principal {
        tenant: t.id,
        kind: PrincipalKind::ApiKey {
            key_id: "0190a7a4-0000-7000-8000-000000000001".parse().unwrap(),
        },
        role_id: t.roles["viewer"],
        permissions: BTreeSet::new(),
    };
    let state = &app.state;
    let id = "0190a7a4-0000-7000-8000-000000000002";
    let refusals = [
        ("list_channels", state.list_channels(&nobody).await.err()),
        ("get_channel", state.get_channel(&nobody, id).await.err()),
        (
            "delete_channel",
            state.delete_channel(&nobody, id).await.err(),
        ),
        (
            "list_contacts",
            state.list_contacts(&nobody, Default::default()).await.err(),
        ),
        (
            "create_contact",
            state
                .create_contact(&nobody, Default::default())
                .await
                .err(),
        ),
        (
            "consent_history",
            state.consent_history(&nobody, id).await.err(),
        ),
        (
            "record_consent",
            state
                .record_consent(&nobody, id, Default::default(), None)
                .await
                .err(),
        ),
        (
            "list_conversations",
            state
                .list_conversations(&nobody, Default::default())
                .await
                .err(),
        ),
        (
            "start_conversation",
            state.start_conversation(&nobody, id, id).await.err(),
        ),
        ("list_users", state.list_users(&nobody).await.err()),
        ("delete_user", state.delete_user(&nobody, id).await.err()),
        ("list_roles", state.list_roles(&nobody).await.err()),
        ("list_api_keys", state.list_api_keys(&nobody).await.err()),
        (
            "revoke_api_key",
            state.revoke_api_key(&nobody, id).await.err(),
        ),
        (
            "require_2fa_setting",
            state.require_2fa_setting(&nobody).await.err(),
        ),
        (
            "list_support_grants",
            state.list_support_grants(&nobody).await.err(),
        ),
        (
            "list_audit",
            state.list_audit(&nobody, Default::default()).await.err(),
        ),
        ("verify_audit", state.verify_audit(&nobody).await.err()),
    ];
    for (name, refused) in refusals {
        let e =
            refused.unwrap_or_else(|| panic!("{name} let a principal without permission through"));
        assert_eq!(e.code, Code::Forbidden, "{name}: {e}");
    }
    // The same principal with the permission gets past the check (to "no such channel").
    let mut reader = nobody.clone();
    reader
        .permissions
        .insert(confide_core::permissions::Permission::InboxRead);
    let e = state.get_channel(&reader, id).await.unwrap_err();
    assert_eq!(e.code, Code::NotFound);
    assert!(state.list_channels(&reader).await.unwrap().is_empty());
}

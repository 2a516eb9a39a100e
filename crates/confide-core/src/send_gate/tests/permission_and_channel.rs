//! Who may send and through what: the path's permission, and a stopped channel.

use super::*;

#[test]
fn forbidden_without_the_paths_permission() {
    let mut w = World::allowed();
    w.permissions = BuiltinRole::Viewer.permissions();
    for path in [SendPath::AgentReply, SendPath::Api, SendPath::Automation] {
        let r = w.decide_as(path, Content::Text, NOW).unwrap_err();
        assert_eq!(
            r,
            Refusal::Forbidden {
                needed: Permission::InboxReply
            }
        );
        assert_eq!(r.code(), "forbidden");
    }
    // An agent may reply but not broadcast.
    w.permissions = BuiltinRole::Agent.permissions();
    assert!(w.decide_as(SendPath::AgentReply, ORDER_UPDATE, NOW).is_ok());
    let r = w
        .decide_as(SendPath::Broadcast, ORDER_UPDATE, NOW)
        .unwrap_err();
    assert_eq!(
        r,
        Refusal::Forbidden {
            needed: Permission::BroadcastsSend
        }
    );
    // Broadcasting needs broadcasts.send, not inbox.reply.
    w.permissions = [Permission::BroadcastsSend].into_iter().collect();
    assert!(w.decide_as(SendPath::Broadcast, ORDER_UPDATE, NOW).is_ok());
    assert_eq!(
        outcome(&w.decide_as(SendPath::Api, ORDER_UPDATE, NOW)),
        "forbidden"
    );
}

#[test]
fn a_stopped_channel_sends_nothing() {
    assert!(stops_channel(190) && stops_channel(368) && stops_channel(131031));
    assert!(!stops_channel(130429) && !stops_channel(131047) && !stops_channel(131000));
    for reason in [
        ChannelStop::MetaError(190),
        ChannelStop::MetaError(368),
        ChannelStop::MetaError(131031),
        ChannelStop::Admin,
    ] {
        let mut w = World::allowed();
        w.channel = ChannelHealth::Stopped(reason);
        for content in FREE_FORM.into_iter().chain([ORDER_UPDATE]) {
            let r = w.decide(content).unwrap_err();
            assert_eq!(r, Refusal::ChannelDisabled { reason });
            assert_eq!(r.code(), "channel_disabled");
        }
    }
}

//! Permissions are an explicit enum; roles are named sets of them. Built-in roles are defined
//! here, custom roles are stored per tenant.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! permissions {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// One thing a principal may do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum Permission {
            $(#[doc = $doc] $variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $doc,)* }
            }
        }

        impl FromStr for Permission {
            type Err = UnknownPermission;
            fn from_str(s: &str) -> Result<Self, UnknownPermission> {
                match s { $($name => Ok(Permission::$variant),)* _ => Err(UnknownPermission(s.to_string())) }
            }
        }
    };
}

permissions! {
    InboxRead => "inbox.read", "See conversations and messages.";
    InboxReply => "inbox.reply", "Send messages in conversations.";
    InboxAssign => "inbox.assign", "Assign, resolve and reopen conversations.";
    ContactsRead => "contacts.read", "See the contact book.";
    ContactsWrite => "contacts.write", "Create, edit and import contacts.";
    ContactsExport => "contacts.export", "Export the contact book.";
    ConsentWrite => "consent.write", "Record opt-ins and opt-outs.";
    BroadcastsSend => "broadcasts.send", "Send template broadcasts.";
    TemplatesManage => "templates.manage", "Sync and manage message templates.";
    MediaUpload => "media.upload", "Upload media and create media links.";
    ChannelsManage => "channels.manage", "Connect and configure WhatsApp numbers.";
    TeamManage => "team.manage", "Invite, change and disable team members.";
    RolesManage => "roles.manage", "Create and change roles.";
    ApiKeysManage => "api_keys.manage", "Create and revoke API keys.";
    AuditRead => "audit.read", "Read and verify the audit log.";
    DataExport => "data.export", "Export all of the tenant's data.";
    DataErase => "data.erase", "Erase contacts and their data.";
    SecurityManage => "security.manage", "Tenant security settings (required 2FA, support access).";
}

/// A permission name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}")]
pub struct UnknownPermission(pub String);

impl TryFrom<String> for Permission {
    type Error = UnknownPermission;
    fn try_from(s: String) -> Result<Self, UnknownPermission> {
        s.parse()
    }
}

impl From<Permission> for String {
    fn from(p: Permission) -> String {
        p.as_str().to_string()
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles every tenant starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinRole {
    Owner,
    Admin,
    Agent,
    Viewer,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] = [
        BuiltinRole::Owner,
        BuiltinRole::Admin,
        BuiltinRole::Agent,
        BuiltinRole::Viewer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Agent => "agent",
            BuiltinRole::Viewer => "viewer",
        }
    }

    pub fn permissions(self) -> BTreeSet<Permission> {
        use Permission::*;
        match self {
            BuiltinRole::Owner => Permission::ALL.iter().copied().collect(),
            BuiltinRole::Admin => Permission::ALL
                .iter()
                .copied()
                .filter(|p| *p != DataErase)
                .collect(),
            BuiltinRole::Agent => [
                InboxRead,
                InboxReply,
                InboxAssign,
                ContactsRead,
                ContactsWrite,
                ConsentWrite,
                MediaUpload,
            ]
            .into_iter()
            .collect(),
            BuiltinRole::Viewer => [InboxRead, ContactsRead].into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
        }
        assert!("inbox.everything".parse::<Permission>().is_err());
    }

    #[test]
    fn builtin_roles_nest() {
        let owner = BuiltinRole::Owner.permissions();
        let admin = BuiltinRole::Admin.permissions();
        let agent = BuiltinRole::Agent.permissions();
        let viewer = BuiltinRole::Viewer.permissions();
        assert!(viewer.is_subset(&agent) && agent.is_subset(&admin) && admin.is_subset(&owner));
        assert!(!admin.contains(&Permission::DataErase));
        assert_eq!(owner.len(), Permission::ALL.len());
    }
}
